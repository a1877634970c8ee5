"""report.json / report.html: the analysis of an evaluation, its pictures, a page that names only
files that exist; evaluate(keep_images=True) on VOC and COCO data in original pixels."""
import json
import os
from html.parser import HTMLParser

import mxnet as mx
import numpy as np
import pytest

from tests.helpers.coco_fixtures import write_coco
from tests.helpers.records import record

from gluon_ssd.data import COCODataset
from gluon_ssd.evaluation import ERROR_TYPES, evaluate, write_report
from gluon_ssd.evaluation.report import FILES, analyse

CLASSES = ("cat", "dog")


class _Images:
    """A dataset of plain grey images with ``image_path`` (what the galleries read)."""
    classes = CLASSES

    def __init__(self, records):
        self._records = records

    def __len__(self):
        return len(self._records)

    def __getitem__(self, idx):
        r = self._records[idx]
        return mx.nd.array(np.full((r.height, r.width, 3), 90, np.uint8), dtype="uint8"), None

    def image_path(self, idx):
        return f"/data/images/im{idx}.jpg"


def _records():
    a, b, far = [0, 0, 20, 20], [40, 0, 60, 20], [70, 60, 90, 80]
    return [record([(a, 0), (b, 1)], [(a, 0, 0.9), (b, 0, 0.8)], index=0, size=(100, 80)),
            record([(a, 1)], [(far, 1, 0.7), (far, 0, 0.6)], index=1, size=(100, 80)),
            record([(b, 0)], [(b, 0, 0.95)], index=2, size=(100, 80))]


class _Sources(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources = []

    def handle_starttag(self, tag, attrs):
        if tag in ("img", "script", "link"):
            self.sources.append((tag, dict(attrs).get("src") or dict(attrs).get("href")))


def test_analyse_by_hand():
    report = analyse({"images": _records(), "voc07_map": 0.5}, CLASSES)
    # Image 0: cat found, the dog called cat. Image 1: a dog missed, two false alarms.
    # Image 2: a cat found.
    assert report["confusion"]["counts"] == [[2, 0, 0], [1, 0, 1], [1, 1, 0]]
    assert report["errors"]["classification"]["count"] == 1
    assert report["errors"]["background"]["count"] == 2
    assert report["errors"]["missed"]["count"] == 1
    assert report["metrics"] == {"voc07_map": 0.5}
    assert report["per_class"]["cat"]["num_gt"] == 2 and report["per_class"]["dog"]["num_gt"] == 2
    # most false positives: image 1 (2), then image 0 (1); most missed: image 1 (1) - the dog
    # of image 0 was called a cat: a confusion, not a miss.
    assert report["worst"] == {"false_positives": [{"index": 1, "count": 2},
                                                   {"index": 0, "count": 1}],
                               "missed": [{"index": 1, "count": 1}]}
    assert report["size_bands"]["small"]["num_boxes"] == 4


def test_report_files_and_page(tmp_path):
    records = _records()
    written = write_report(str(tmp_path), {"images": records, "voc07_map": 0.5},
                           _Images(records), CLASSES, meta={"source": "hand-made"})
    for name in FILES.values():
        assert (tmp_path / name).stat().st_size > 0, name
    report = json.loads((tmp_path / "report.json").read_text())
    assert report == json.loads(json.dumps(written))
    confusion = report["confusion"]
    assert confusion["labels_true"] == ["cat", "dog", "background"]
    assert confusion["labels_pred"] == ["cat", "dog", "missed"]
    counts = np.array(confusion["counts"])
    # rows of the classes sum to the boxes (2 cats, 2 dogs), class columns to the detections
    # scoring >= 0.5 (4 cats, 1 dog)
    assert counts[:2].sum(axis=1).tolist() == [2, 2]
    assert counts[:, :2].sum(axis=0).tolist() == [4, 1]
    assert set(report["errors"]) == set(ERROR_TYPES)
    assert all(set(v) == {"count", "dAP"} for v in report["errors"].values())
    assert set(report["size_bands"]) == {"small", "medium", "large"}
    assert report["worst"]["false_positives"][0]["image"] == "im1.jpg"
    parser = _Sources()
    page = (tmp_path / "report.html").read_text()
    parser.feed(page)
    images = [src for tag, src in parser.sources if tag == "img"]
    assert sorted(images) == sorted(n for n in FILES.values() if n.endswith(".png"))
    assert all(tag == "img" for tag, _ in parser.sources)          # no script, no stylesheet
    assert all(os.path.isfile(tmp_path / src) for src in images)
    assert "http" not in page
    assert "hand-made" in page


def test_report_needs_kept_images(tmp_path):
    with pytest.raises(ValueError, match=r"keep_images=True"):
        write_report(str(tmp_path), {"voc07_map": 0.5}, _Images([]), CLASSES)


class _FixedNet:
    """Detections ``[id, score, x1, y1, x2, y2]`` in input pixels, the same for every image."""
    classes = ("dog", "cat")

    def __init__(self, rows):
        self.rows = np.array(rows, np.float32)

    def __call__(self, x):
        rows = np.repeat(self.rows[None], x.shape[0], axis=0)
        return (mx.nd.array(rows[..., :1]), mx.nd.array(rows[..., 1:2]),
                mx.nd.array(rows[..., 2:]))


def test_coco_records_in_original_pixels_and_crowd_ignored(tmp_path):
    # 64x48 images, input (H, W) = (24, 32): boxes scale by 2 back to the original.
    path, folder = write_coco(str(tmp_path))
    dataset = COCODataset(path, folder, use_crowd=True)
    # input [2, 3, 12, 11] -> original [4, 6, 24, 22]: image 10's dog exactly;
    # input [20, 0, 32, 24] -> [40, 0, 64, 48]: image 11's crowd region of dogs exactly.
    net = _FixedNet([[0, 0.9, 2, 3, 12, 11], [0, 0.8, 20, 0, 32, 24], [-1] * 6])
    result = evaluate(net, dataset, (24, 32), batch_size=3, mean=(0, 0, 0), std=(1, 1, 1),
                      progress=False, metric="coco", keep_images=True)
    records = result["images"]
    assert [r.index for r in records] == [0, 1, 2, 3]
    np.testing.assert_allclose(records[0].det_boxes, [[4, 6, 24, 22], [40, 0, 64, 48]])
    np.testing.assert_allclose(records[0].gt_boxes, [[4, 6, 24, 22], [30, 20, 54, 40]],
                               atol=1e-4)
    assert records[1].gt_ignore.tolist() == [False, True]
    report = analyse(result, dataset.classes)
    # dog column: image 10: its dog found, [40, 0, 64, 48] on the cat [30, 20, 54, 40] by IoU
    # 280 / 1352 = 0.21: a false alarm; image 11: [40, 0, 64, 48] on the crowd (ignored),
    # [4, 6, 24, 22] on the cat [10, 10, 40, 40] by 168 / 1052 = 0.16: a false alarm; images 12
    # (no box) and 13 (a dog at [8, 8, 48, 40], IoU < 0.5 with both): 2 false alarms each.
    # -> 1 found, 6 background.
    counts = np.array(report["confusion"]["counts"])
    assert counts[0, 0] == 1 and counts[2, 0] == 6
    assert counts[:2].sum() == 4   # the 4 boxes that are not crowd
    # COCOeval's per-class numbers sit beside the report's own AP50
    assert set(report["per_class"]["dog"]) == {"num_gt", "num_detections", "AP50", "coco_AP",
                                               "coco_AP50"}
    assert report["per_class"]["dog"]["num_gt"] == 2

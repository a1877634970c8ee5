"""Tests for gluon_ssd.evaluation.coco: COCO AP by hand and equal to pycocotools run on its own."""
import json

import numpy as np
import pytest
from tests.helpers.coco_fixtures import write_coco

from gluon_ssd.data import COCODataset


class _Net:
    """Fixed or seeded-random detections ``[id, score, x1, y1, x2, y2]`` in input pixels."""
    classes = ("dog", "cat")

    def __init__(self, rows=None, seed=None):
        self.rows, self.rng = rows, np.random.RandomState(seed) if seed is not None else None

    def __call__(self, x):
        import mxnet as mx
        b, _, h, w = x.shape
        if self.rows is not None:
            rows = np.repeat(np.array(self.rows, np.float32)[None], b, axis=0)
        else:
            n = 100
            x1, y1 = self.rng.rand(b, n) * w * 0.7, self.rng.rand(b, n) * h * 0.7
            rows = np.stack([self.rng.randint(0, 2, (b, n)), self.rng.rand(b, n), x1, y1,
                             x1 + 4 + self.rng.rand(b, n) * w * 0.5,
                             y1 + 4 + self.rng.rand(b, n) * h * 0.5], -1).astype(np.float32)
        return mx.nd.array(rows[..., :1]), mx.nd.array(rows[..., 1:2]), mx.nd.array(rows[..., 2:])


def _evaluate(net, dataset, shape):
    from gluon_ssd.evaluation import evaluate
    return evaluate(net, dataset, shape, batch_size=3, mean=(0, 0, 0), std=(1, 1, 1),
                    progress=False, metric="coco")


def test_coco_metric_by_hand(tmp_path):
    # Two 100x50 images; input (H, W) = (25, 50): boxes scale by 2 back to the original.
    images = [{"id": i, "file_name": f"{i}.png", "width": 100, "height": 50} for i in (7, 9)]
    anns = [{"id": 1, "image_id": 7, "category_id": 3, "bbox": [20, 20, 40, 20]},
            {"id": 2, "image_id": 9, "category_id": 3, "bbox": [20, 20, 40, 20]},
            {"id": 3, "image_id": 9, "category_id": 17, "bbox": [60, 0, 30, 30]}]
    path, folder = write_coco(str(tmp_path), images, anns)
    # Every image: a dog at input [10, 10, 30, 20] -> original [20, 20, 60, 40] = the ground truth
    # (IoU 1), and a cat at [0, 0, 10, 10] -> [0, 0, 20, 20], no overlap with the cat (IoU 0).
    net = _Net(rows=[[0, 0.9, 10, 10, 30, 20], [1, 0.8, 0, 0, 10, 10], [-1] * 6])
    result = _evaluate(net, COCODataset(path, folder), (25, 50))
    # dog: 2 of 2 found, no false positive -> AP 1 at every IoU threshold; cat: its one ground
    # truth missed -> AP 0. Mean over the 2 classes: 0.5 (AP, AP50, AP75 alike).
    assert result["per_class"] == {"dog": {"AP": 1.0, "AP50": 1.0}, "cat": {"AP": 0.0, "AP50": 0.0}}
    for name in ("AP", "AP50", "AP75"):
        assert result["coco"][name] == pytest.approx(0.5)
    assert list(result["coco"]) == ["AP", "AP50", "AP75", "APs", "APm", "APl",
                                    "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
    # Results: the file's ids (image 7/9, category 3 = dog, 17 = cat), [x, y, w, h] originals.
    dog7 = [r for r in result["results"] if r["image_id"] == 7 and r["category_id"] == 3]
    assert dog7 == [{"image_id": 7, "category_id": 3, "bbox": [20.0, 20.0, 40.0, 20.0],
                     "score": pytest.approx(0.9)}]
    assert sorted({(r["image_id"], r["category_id"]) for r in result["results"]}) == [
        (7, 3), (7, 17), (9, 3), (9, 17)]


def test_coco_metric_equals_pycocotools_run_on_its_own(tmp_path):
    """Our stats equal COCOeval run independently (the file from disk, the results as JSON)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    path, folder = write_coco(str(tmp_path))
    with open(path) as f:
        data = json.load(f)
    for ann in data["annotations"]:   # pycocotools itself needs area and iscrowd in the file
        ann.setdefault("iscrowd", 0)
        ann["area"] = ann["bbox"][2] * ann["bbox"][3]
    with open(path, "w") as f:
        json.dump(data, f)
    result = _evaluate(_Net(seed=0), COCODataset(path, folder), (24, 32))
    assert len(result["results"]) > 20
    (tmp_path / "res.json").write_text(json.dumps(result["results"]))
    gt = COCO(path)
    theirs = COCOeval(gt, gt.loadRes(str(tmp_path / "res.json")), "bbox")
    theirs.evaluate()
    theirs.accumulate()
    theirs.summarize()
    assert list(result["coco"].values()) == pytest.approx(list(theirs.stats), abs=1e-12)
    assert result["coco"]["AP50"] > 0                   # a non-trivial score was compared


def test_coco_metric_with_no_detection_and_wrong_dataset(tmp_path):
    path, folder = write_coco(str(tmp_path))
    result = _evaluate(_Net(rows=[[-1] * 6]), COCODataset(path, folder), (24, 32))
    assert result["results"] == [] and result["coco"]["AP"] == 0.0
    from gluon_ssd.evaluation import evaluate
    with pytest.raises(TypeError, match="needs a gluon_ssd.data.COCODataset"):
        evaluate(_Net(rows=[[-1] * 6]), [], (24, 32), mean=(0, 0, 0), std=(1, 1, 1),
                 metric="coco")
    with pytest.raises(ValueError, match="metric must be one of"):
        evaluate(_Net(), [], (24, 32), mean=(0, 0, 0), std=(1, 1, 1), metric="map")

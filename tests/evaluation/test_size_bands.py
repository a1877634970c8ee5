"""AP per size band equals pycocotools' APs / APm / APl on the same data; counts by hand."""
import contextlib
import io
import json

import mxnet as mx
import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from gluon_ssd.evaluation import evaluate
from gluon_ssd.evaluation.size_bands import SIZE_BANDS, bands_table, count_boxes, size_band_ap


def _data(seed=0, images=6):
    """Ground truth in three size bands and noisy detections (some missed, some false)."""
    rng = np.random.RandomState(seed)
    gts, dets = [], []
    for _ in range(images):
        rows = []
        for side in rng.choice([12, 20, 40, 70, 120, 200], size=rng.randint(3, 8)):
            x, y = rng.uniform(0, 400, 2)
            rows.append([x, y, x + side, y + side * rng.uniform(0.7, 1.3), rng.randint(2), 0])
        label = np.array(rows)
        boxes = label[:, :4] + rng.normal(0, 2.5, (len(label), 4))
        keep = rng.rand(len(label)) > 0.2
        false = np.array([[300, 300, 340, 330], [10, 10, 18, 20]])
        boxes = np.concatenate([boxes[keep], false])
        ids = np.concatenate([label[keep, 4], [0, 1]])
        scores = rng.uniform(0.1, 1, len(ids))
        gts.append(label)
        dets.append((ids, scores, boxes))
    return gts, dets


def test_band_ap_is_pycocotools_aps_apm_apl(tmp_path):
    gts, dets = _data()
    # The same data through pycocotools' own files and summarize().
    gt_file = {"images": [{"id": k + 1} for k in range(len(gts))],
               "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}], "annotations": []}
    results = []
    for k, (label, (ids, scores, boxes)) in enumerate(zip(gts, dets)):
        for row in label:
            w, h = row[2] - row[0], row[3] - row[1]
            gt_file["annotations"].append({"id": len(gt_file["annotations"]) + 1,
                                           "image_id": k + 1, "category_id": int(row[4]) + 1,
                                           "bbox": [row[0], row[1], w, h], "area": w * h,
                                           "iscrowd": 0})
        for cls, score, box in zip(ids, scores, boxes):
            results.append({"image_id": k + 1, "category_id": int(cls) + 1, "score": score,
                            "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]]})
    (tmp_path / "gt.json").write_text(json.dumps(gt_file))
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(tmp_path / "gt.json"))
        evaluator = COCOeval(coco, coco.loadRes(results), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    bands = size_band_ap(gts, dets)
    for band, stat in zip(SIZE_BANDS, evaluator.stats[3:6]):
        assert bands[band]["ap"] == pytest.approx(stat, abs=1e-12), band
    assert all(0 < bands[b]["ap"] < 1 for b in SIZE_BANDS)    # not a trivial 0 or 1


def test_counts_and_a_perfect_small_box_against_a_missed_large_one():
    # 10x10 (area 100: small) found exactly; 100x100 (10000: large) missed; no medium box.
    label = np.array([[0, 0, 10, 10, 0, 0], [100, 100, 200, 200, 0, 0]])
    dets = [(np.array([0]), np.array([0.9]), np.array([[0, 0, 10, 10]]))]
    bands = size_band_ap([label], dets)
    # (pycocotools' mean of 101 recall points of 1.0 is 1 - 2e-16.)
    assert bands["small"] == {"ap": pytest.approx(1.0), "ap50": pytest.approx(1.0), "num_boxes": 1}
    assert bands["large"] == {"ap": 0.0, "ap50": 0.0, "num_boxes": 1}
    assert bands["medium"] == {"ap": None, "ap50": None, "num_boxes": 0}
    # pycocotools' ranges include both ends: an area of exactly 32^2 is small and medium.
    assert count_boxes([1024, 1023, 9216, 9217], "small") == 2
    assert count_boxes([1024, 1023, 9216, 9217], "medium") == 2
    assert "small      1.0000  1.0000      1" in bands_table(bands)


def test_evaluate_reports_bands_in_original_pixels():
    # One 400x200 image with a 20x20 box (small in original pixels, 400 px^2). Resized to 100x100
    # it would be 5x10 (50 px^2): still small; the 200x100 box (20000: large) would be 50x50
    # (2500: medium) in the input frame: banding in original pixels keeps it large.
    image = mx.nd.zeros((200, 400, 3), dtype="uint8")
    label = np.array([[10, 10, 30, 30, 0, 0], [100, 50, 300, 150, 0, 0]], np.float32)

    class Net:
        classes, mean, std = ("a",), (0, 0, 0), (1, 1, 1)

        def __call__(self, x):
            # Both boxes, exactly, in the 100x100 input frame (x / 4, y / 2).
            boxes = mx.nd.array([[[2.5, 5, 7.5, 15], [25, 25, 75, 75]]])
            return mx.nd.zeros((1, 2, 1)), mx.nd.ones((1, 2, 1)), boxes

    result = evaluate(Net(), mx.gluon.data.SimpleDataset([(image, label)]), (100, 100),
                      progress=False)
    assert result["size_bands"]["small"]["num_boxes"] == 1
    assert result["size_bands"]["large"] == {"ap": pytest.approx(1.0), "ap50": pytest.approx(1.0),
                                             "num_boxes": 1}
    assert result["voc07_map"] == pytest.approx(1.0)

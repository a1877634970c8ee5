"""AP per COCO size band, in original pixels, through pycocotools."""
import pytest

from tests.helpers.records import record

from gluon_ssd.evaluation.size_bands import SIZE_BANDS, count_boxes, size_bands


def test_bands_are_pycocotools_ranges_with_both_ends():
    assert SIZE_BANDS == {"small": (0, 32 ** 2), "medium": (32 ** 2, 96 ** 2),
                          "large": (96 ** 2, 1e10)}
    # 1024 = 32^2 is in small and medium alike (COCOeval's closed ranges); 9216 = 96^2 too
    areas = [0, 1023.9, 1024, 9215, 9216]
    assert [count_boxes(areas, b) for b in ("small", "medium", "large")] == [3, 3, 1]


def test_small_found_large_missed_medium_absent():
    # A 10x10 box (area 100: small) found exactly; a 200x100 box (area 20000: large) with a
    # detection of IoU 0.25 (a 100x50 box inside it): missed at every IoU >= 0.5. No medium box.
    small, large = [0, 0, 10, 10], [100, 100, 300, 200]
    rec = record([(small, 0), (large, 0)],
                 [(small, 0, 0.9), ([100, 100, 200, 150], 0, 0.8)], size=(400, 300))
    bands = size_bands([rec], 1)
    assert bands["small"]["num_boxes"] == 1 and bands["large"]["num_boxes"] == 1
    assert bands["medium"] == {"num_boxes": 0, "ap": None, "ap50": None}
    # small: its one box found with IoU 1 at every threshold -> AP 1. The 100x50 detection
    # (area 5000) is medium: outside the small band, unmatched, so ignored there.
    assert bands["small"]["ap"] == pytest.approx(1.0)
    assert bands["small"]["ap50"] == pytest.approx(1.0)
    # large: the box is never found; the small and medium detections are outside the band
    assert bands["large"]["ap"] == 0.0 and bands["large"]["ap50"] == 0.0


def test_more_than_100_detections_an_image_all_count():
    # 150 false alarms scoring 0.9 then the one true box at 0.5: with COCO's 100 detections an
    # image the true one would be cut and AP50 0; all kept, it is found at rank 151 of 151:
    # precision 1/151 at recall 1 -> AP50 1/151.
    box = [0, 0, 10, 10]
    dets = [([50, 50, 60, 60], 0, 0.9)] * 150 + [(box, 0, 0.5)]
    bands = size_bands([record([(box, 0)], dets, size=(100, 100))], 1)
    assert bands["small"]["ap50"] == pytest.approx(1 / 151)


def test_difficult_boxes_are_not_counted():
    rec = record([([0, 0, 10, 10], 0)], [], ignore=[True])
    assert size_bands([rec], 1)["small"]["num_boxes"] == 0


def _random_data(seed=0, images=6):
    """Ground truth in three size bands and noisy detections (some missed, some false)."""
    import numpy as np
    rng = np.random.RandomState(seed)
    gts, dets = [], []
    for _ in range(images):
        rows = []
        for side in rng.choice([12, 20, 40, 70, 120, 200], size=rng.randint(3, 8)):
            x, y = rng.uniform(0, 400, 2)
            rows.append([x, y, x + side, y + side * rng.uniform(0.7, 1.3), rng.randint(2)])
        label = np.array(rows)
        boxes = label[:, :4] + rng.normal(0, 2.5, (len(label), 4))
        keep = rng.rand(len(label)) > 0.2
        boxes = np.concatenate([boxes[keep], [[300, 300, 340, 330], [10, 10, 18, 20]]])
        classes = np.concatenate([label[keep, 4], [0, 1]]).astype(int)
        dets.append((boxes, classes, rng.uniform(0.1, 1, len(classes))))
        gts.append(label)
    return gts, dets


def test_band_ap_is_pycocotools_aps_apm_apl_on_the_same_data(tmp_path):
    import contextlib
    import io
    import json
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    gts, dets = _random_data()
    gt_file = {"images": [{"id": k} for k in range(len(gts))],
               "categories": [{"id": 0, "name": "a"}, {"id": 1, "name": "b"}], "annotations": []}
    results, records = [], []
    for k, (label, (boxes, classes, scores)) in enumerate(zip(gts, dets)):
        for row in label:
            w, h = row[2] - row[0], row[3] - row[1]
            gt_file["annotations"].append({"id": len(gt_file["annotations"]) + 1, "image_id": k,
                                           "category_id": int(row[4]), "iscrowd": 0,
                                           "bbox": [row[0], row[1], w, h], "area": w * h})
        for box, cls, score in zip(boxes, classes, scores):
            results.append({"image_id": k, "category_id": int(cls), "score": float(score),
                            "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]]})
        records.append(record([(row[:4], int(row[4])) for row in label],
                              list(zip(boxes, classes, scores)), index=k, size=(500, 500)))
    (tmp_path / "gt.json").write_text(json.dumps(gt_file))
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(tmp_path / "gt.json"))
        evaluator = COCOeval(coco, coco.loadRes(results), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    bands = size_bands(records, 2)
    for band, stat in zip(("small", "medium", "large"), evaluator.stats[3:6]):
        assert bands[band]["ap"] == pytest.approx(stat, abs=1e-12), band
        assert 0 < bands[band]["ap"] < 1               # not a trivial 0 or 1


def test_evaluate_reports_bands_in_original_pixels():
    # One 400x200 image: a 20x20 box (400 px^2: small) and a 200x100 box (20000: large), which
    # in the 100x100 input frame would be 50x50 (2500: medium). Bands use original pixels.
    import mxnet as mx
    import numpy as np
    from gluon_ssd.evaluation import evaluate
    from gluon_ssd.evaluation.size_bands import bands_table
    image = mx.nd.zeros((200, 400, 3), dtype="uint8")
    label = np.array([[10, 10, 30, 30, 0, 0], [100, 50, 300, 150, 0, 0]], np.float32)

    class Net:
        classes, mean, std = ("a",), (0, 0, 0), (1, 1, 1)

        def __call__(self, x):
            # Both boxes, exactly, in the 100x100 input frame (x / 4, y / 2).
            boxes = mx.nd.array([[[2.5, 5, 7.5, 15], [25, 25, 75, 75]]])
            return mx.nd.zeros((1, 2, 1)), mx.nd.ones((1, 2, 1)), boxes

    dataset = mx.gluon.data.SimpleDataset([(image, label)])
    result = evaluate(Net(), dataset, (100, 100), progress=False)
    assert result["size_bands"]["small"]["num_boxes"] == 1
    assert result["size_bands"]["large"]["num_boxes"] == 1
    assert result["size_bands"]["large"]["ap"] == pytest.approx(1.0)
    assert result["voc07_map"] == pytest.approx(1.0)
    assert "large      1.0000  1.0000      1" in bands_table(result["size_bands"])
    # A per-image detector in original pixels (what eval --tile passes) gives the same.
    boxes = np.array([[10, 10, 30, 30], [100, 50, 300, 150]])
    again = evaluate(Net(), dataset, (100, 100), progress=False,
                     predict=lambda img: (np.zeros(2), np.ones(2), boxes))
    assert again["size_bands"] == result["size_bands"]
    assert again["voc07_map"] == pytest.approx(1.0)

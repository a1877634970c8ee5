"""TIDE's error breakdown on hand-made cases where one error type occurs alone.

AP here is COCO's 101-point AP50: the mean, over the recall points 0, 0.01, ..., 1, of the
highest precision reached at that recall or beyond (0 past the last recall). A curve at precision
1 up to recall 0.5 and nothing beyond scores 51/101 (the points 0.00 ... 0.50).
"""
import numpy as np
import pytest

from tests.helpers.records import record

from gluon_ssd.evaluation.errors import (ERROR_TYPES, average_precision, classify_image,
                                         error_breakdown)

A = [0, 0, 10, 10]        # area 100
B = [20, 0, 30, 10]       # area 100, no overlap with A
FAR = [50, 50, 60, 60]    # overlaps neither
B_LOOSE = [20, 0, 24, 10]  # IoU with B: 40 / 100 = 0.4 (between 0.1 and 0.5)
A_LOOSE = [0, 0, 4, 10]    # IoU with A: 0.4


def _only(result, kind, count, dap):
    """``kind`` has ``count`` errors worth ``dap``; every other type none and 0."""
    assert result[kind]["count"] == count
    assert result[kind]["dAP"] == pytest.approx(dap, abs=1e-9)
    for other in ERROR_TYPES:
        if other != kind:
            assert result[other] == {"count": 0, "dAP": 0.0}, other


def test_no_error_scores_ap_one():
    result = error_breakdown([record([(A, 0), (B, 1)], [(A, 0, 0.9), (B, 1, 0.6)]),
                              record([(FAR, 0)], [(FAR, 0, 0.3)], index=1)])
    assert result["AP50"] == 1.0
    assert result["per_class"] == {0: 1.0, 1: 1.0}
    for kind in ERROR_TYPES:
        assert result[kind] == {"count": 0, "dAP": 0.0}


def test_localization_alone():
    # A found (0.9); the detection on B has IoU 0.4 with it (0.8): a localization error.
    # AP: TP (recall 0.5, precision 1), FP (0.5, 0.5) -> 51/101. Fixed: the box on B becomes a
    # true positive -> recall 1 at precision 1 -> AP 1. dAP = 1 - 51/101 = 50/101. B is not
    # missed: fixing the localization error finds it.
    result = error_breakdown([record([(A, 0), (B, 0)], [(A, 0, 0.9), (B_LOOSE, 0, 0.8)])])
    assert result["AP50"] == pytest.approx(51 / 101)
    _only(result, "localization", 1, 50 / 101)


def test_classification_alone():
    # A (class 0) found at 0.9; B (class 1) boxed exactly but called class 0, at 0.95.
    # Class 0: FP 0.95 then TP 0.9, 1 box: precisions 0, 1/2 at recall 0, 1 -> envelope 1/2 at
    # every recall point -> AP 0.5. Class 1: its box, no detection -> AP 0. mAP 0.25.
    # Fixed: the 0.95 detection becomes class 1 and finds B: both classes AP 1 -> dAP 0.75.
    result = error_breakdown([record([(A, 0), (B, 1)], [(A, 0, 0.9), (B, 0, 0.95)])])
    assert result["AP50"] == pytest.approx(0.25)
    _only(result, "classification", 1, 0.75)


def test_both_alone():
    # A (class 0) found at 0.9, C (class 1) found at 0.7; a class-1 detection with IoU 0.4 with
    # A (0.8): wrong class and box off -> both. Class 0: AP 1. Class 1: FP 0.8 then TP 0.7 ->
    # AP 0.5 (as in the classification case). mAP 0.75; fixed (removed): 1 -> dAP 0.25.
    result = error_breakdown([record([(A, 0), (FAR, 1)],
                                     [(A, 0, 0.9), (A_LOOSE, 1, 0.8), (FAR, 1, 0.7)])])
    assert result["AP50"] == pytest.approx(0.75)
    _only(result, "both", 1, 0.25)


# A found at 0.9, B at 0.7, and a false positive at 0.8 between them: precisions 1, 1/2, 2/3 at
# recalls 1/2, 1/2, 1 -> envelope 1 for the 51 recall points <= 0.5, 2/3 for the 50 above:
# AP = (51 + 50 * 2/3) / 101. Removed: AP 1. dAP = (50 - 100/3) / 101 = 50 / 303.
_BETWEEN_AP = (51 + 50 * 2 / 3) / 101


def test_duplicate_alone():
    # The 0.8 detection covers A (IoU 0.9) which the 0.9 one already took: a duplicate.
    result = error_breakdown([record([(A, 0), (B, 0)],
                                     [(A, 0, 0.9), ([0, 0, 10, 9], 0, 0.8), (B, 0, 0.7)])])
    assert result["AP50"] == pytest.approx(_BETWEEN_AP)
    _only(result, "duplicate", 1, 50 / 303)


def test_background_alone():
    # The 0.8 detection overlaps nothing: background.
    result = error_breakdown([record([(A, 0), (B, 0)],
                                     [(A, 0, 0.9), (FAR, 0, 0.8), (B, 0, 0.7)])])
    assert result["AP50"] == pytest.approx(_BETWEEN_AP)
    _only(result, "background", 1, 50 / 303)


def test_missed_alone():
    # A found, B has no detection anywhere near: missed. AP 51/101 (recall stops at 0.5).
    # Fixed: B leaves the ground truth -> 1 box, found -> AP 1; dAP 50/101.
    result = error_breakdown([record([(A, 0), (B, 0)], [(A, 0, 0.9)])])
    assert result["AP50"] == pytest.approx(51 / 101)
    _only(result, "missed", 1, 50 / 101)


def test_two_errors_on_one_box_fix_it_once():
    # Two localization errors on B (0.8 and 0.7): fixing turns the higher one into B's true
    # positive and removes the other. Base: TP, FP, FP, recall 1/2 -> 51/101; fixed: AP 1.
    result = error_breakdown([record([(A, 0), (B, 0)],
                                     [(A, 0, 0.9), (B_LOOSE, 0, 0.8), ([21, 0, 25, 10], 0, 0.7)])])
    _only(result, "localization", 2, 50 / 101)


def test_classify_image_types_and_fixable_errors():
    rec = record([(A, 0), (B, 1)],
                 [(A, 0, 0.9), (B, 0, 0.8), ([0, 0, 10, 9], 0, 0.7), (FAR, 1, 0.6)])
    kinds = classify_image(rec)
    assert list(kinds["kinds"]) == ["tp", "classification", "duplicate", "background"]
    # the classification error on the free box B becomes class 1 when fixed
    assert list(kinds["fixed"]) == [False, True, False, False]
    assert kinds["fixed_class"][1] == 1
    assert list(kinds["missed"]) == [False, False]


def test_image_without_ground_truth_is_background_and_difficult_is_ignored():
    empty = classify_image(record([], [(A, 0, 0.9)]))
    assert list(empty["kinds"]) == ["background"]
    # a detection on a difficult box is neither counted nor an error, and the box is not missed
    difficult = error_breakdown([record([(A, 0), (B, 0)], [(A, 0, 0.9), (B, 0, 0.8)],
                                        ignore=[False, True])])
    assert difficult["AP50"] == 1.0 and all(difficult[k]["count"] == 0 for k in ERROR_TYPES)


def test_average_precision_on_a_hand_curve():
    # Ranks TP, FP, TP on 4 boxes: precisions 1, 1/2, 2/3 at recalls 1/4, 1/4, 1/2. Envelope:
    # 1 for recall points <= 0.25 (26 points), 2/3 for 0.26 ... 0.50 (25 points), 0 above.
    ap, precision, recall = average_precision([0.9, 0.8, 0.7], [True, False, True], 4)
    assert ap == pytest.approx((26 + 25 * 2 / 3) / 101)
    np.testing.assert_allclose(precision, [1, 0.5, 2 / 3])
    np.testing.assert_allclose(recall, [0.25, 0.25, 0.5])
    assert average_precision([], [], 3)[0] == 0.0


def _random_records(rng, num_images, num_classes):
    records = []
    for i in range(num_images):
        m, k = rng.randint(1, 5), rng.randint(0, 12)
        gxy, dxy = rng.rand(m, 2) * 80, rng.rand(k, 2) * 80
        gwh, dwh = 4 + rng.rand(m, 2) * 30, 4 + rng.rand(k, 2) * 30
        gt = [(list(np.r_[p, p + s]), int(c)) for p, s, c in
              zip(gxy, gwh, rng.randint(0, num_classes, m))]
        dets = [(list(np.r_[p, p + s]), int(c), float(sc)) for p, s, c, sc in
                zip(dxy, dwh, rng.randint(0, num_classes, k), rng.rand(k))]
        # half the objects also get a detection near them, so matches happen
        dets += [(list(np.array(g[0]) + rng.randn(4)), g[1], float(rng.rand()))
                 for g in gt[::2]]
        records.append(record(gt, dets, index=i))
    return records


def test_base_ap50_equals_pycocotools_cocoeval():
    """Independent check: our matching + AP equal COCOeval's AP50 (every class has a box, at
    most 100 detections an image, no crowd)."""
    import contextlib
    import io
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    records = _random_records(np.random.RandomState(3), 12, 3)
    gts, dts = [], []
    for r in records:
        for box, cls in zip(r.gt_boxes, r.gt_classes):
            gts.append({"id": len(gts) + 1, "image_id": r.index, "category_id": int(cls) + 1,
                        "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
                        "area": float((box[2] - box[0]) * (box[3] - box[1])), "iscrowd": 0})
        for box, cls, score in zip(r.det_boxes, r.det_classes, r.det_scores):
            dts.append({"image_id": r.index, "category_id": int(cls) + 1, "score": score,
                        "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]]})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": [{"id": r.index} for r in records], "annotations": gts,
                      "categories": [{"id": c} for c in (1, 2, 3)]}
        gt.createIndex()
        theirs = COCOeval(gt, gt.loadRes(dts), "bbox")
        theirs.evaluate()
        theirs.accumulate()
        theirs.summarize()
    ours = error_breakdown(records)
    assert ours["AP50"] == pytest.approx(theirs.stats[1], abs=1e-9)
    assert sum(ours[k]["count"] for k in ERROR_TYPES) > 0

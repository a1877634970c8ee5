"""Tests for gluon_ssd.deploy.compare: the one "same detections" comparison."""
import numpy as np
import pytest

from gluon_ssd.deploy import compare_detections


def _dets(*images, k=5):
    """Images of rows (class, score, x1, y1, x2, y2) as a batch of K rows each, -1 padded."""
    ids, scores, boxes = (np.full((len(images), k, n), -1.0, np.float32) for n in (1, 1, 4))
    for b, rows in enumerate(images):
        for i, (c, s, *box) in enumerate(rows):
            ids[b, i, 0], scores[b, i, 0], boxes[b, i] = c, s, box
    return ids, scores, boxes


A = [(0, 0.9, 0, 0, 10, 10), (2, 0.6, 20, 20, 40, 40), (1, 0.3, 50, 50, 80, 90)]


def test_same_rows_in_another_order_and_images_compare_row_by_row():
    other = [A[2], A[0], (2, 0.60003, 20, 20, 40.004, 40)]  # order, 3e-5 score, 0.004 px
    result = compare_detections(_dets(A, A[:1]), _dets(other, A[:1]))
    assert result.same and result.mismatches == []
    assert result.compared == 4  # 3 rows of image 0, 1 of image 1
    assert result.max_box_difference == pytest.approx(0.004, abs=1e-5)  # float32 of 40.004


def test_each_difference_is_named_with_its_image_and_row():
    moved = [A[0], (2, 0.6, 20, 20, 40, 45), A[2]]  # row 1's box 5 px off
    result = compare_detections(_dets(A), _dets(moved))
    assert not result.same and result.compared == 2
    assert result.mismatches == [
        "image 0: detection 1 (2, 0.60000, [20. 20. 40. 40.]) not found",
        "image 0: detection 1 (2, 0.60000) of the second list has no match"]
    lost = compare_detections(_dets(A), _dets([A[0]]))  # 3 vs 1 rows: more than a cut
    assert lost.mismatches == ["image 0: 3 vs 1 detections"] and lost.compared == 0
    shapes = compare_detections(_dets(A), _dets(A, k=4))
    assert shapes.mismatches[0].startswith("shapes (ids, scores, bboxes) ((1, 5, 1),")


def test_min_score_compares_the_confident_rows_only_and_box_atol_inf_reads_the_gap():
    # The 0.3 row differs in class: below min_score=0.5 it is not compared.
    other = [A[0], (2, 0.6, 21, 20, 40, 40), (0, 0.3, 50, 50, 80, 90)]
    result = compare_detections(_dets(A), _dets(other), box_atol=np.inf, min_score=0.5)
    assert result.same and result.compared == 2
    assert result.max_box_difference == 1.0  # x1 20 -> 21
    assert not compare_detections(_dets(A), _dets(other)).same  # all rows: the class differs


def test_no_rows_is_the_same_but_compares_nothing():
    result = compare_detections(_dets([]), _dets([]))
    assert result.same and result.compared == 0 and result.max_box_difference == 0.0

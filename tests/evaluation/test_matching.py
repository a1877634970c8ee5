"""The one matching rule: greedy by score, best free box of the class, ignored boxes."""
import numpy as np
import pytest

from tests.helpers.records import record

from gluon_ssd.evaluation.matching import ImageRecord, box_iou, match_image


def test_box_iou_by_hand():
    # [0, 0, 10, 10] and [5, 0, 15, 10]: intersection 5 x 10 = 50, union 150 -> 1/3 (no +1)
    np.testing.assert_allclose(box_iou([[0, 0, 10, 10]], [[5, 0, 15, 10], [20, 20, 30, 30]]),
                               [[1 / 3, 0.0]])
    assert box_iou(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)


def test_higher_score_takes_the_best_box_and_the_next_takes_the_free_one():
    gt = [[0, 0, 10, 10], [4, 0, 14, 10]]
    # det 0 (0.6) overlaps box 0 by IoU 1 and box 1 by 0.6/1.4 = 0.43; det 1 (0.9) overlaps box 0
    # by 0.6/1.4 and box 1 by 1. det 1 goes first and takes box 1; det 0 then takes box 0.
    match = match_image([[0, 0, 10, 10], [4, 0, 14, 10]], [0, 0], [0.6, 0.9], gt, [0, 0])
    assert list(match.gt_index) == [0, 1]
    assert list(match.gt_matched) == [True, True]


def test_a_taken_box_is_not_taken_twice_and_class_must_agree():
    gt = [[0, 0, 10, 10]]
    match = match_image([[0, 0, 10, 10], [0, 0, 10, 9], [0, 0, 10, 10]], [0, 0, 1],
                        [0.9, 0.8, 0.95], gt, [0])
    # the class-1 detection cannot take a class-0 box; the 0.8 one finds it taken
    assert list(match.gt_index) == [0, -1, -1]
    assert list(match.false_positives) == [False, True, True]
    anyclass = match_image([[0, 0, 10, 10]], [1], [0.9], gt, [0], same_class=False)
    assert list(anyclass.gt_index) == [0]


def test_detection_on_an_ignored_box_is_ignored_not_false():
    match = match_image([[0, 0, 10, 10], [50, 50, 60, 60]], [0, 0], [0.9, 0.8],
                        [[0, 0, 10, 10]], [0], gt_ignore=[True])
    assert list(match.gt_index) == [-1, -1]
    assert list(match.ignored) == [True, False]
    assert list(match.false_positives) == [False, True]
    assert list(match.gt_matched) == [False]


def test_image_record_checks_lengths_and_filters_by_score():
    with pytest.raises(ValueError, match="det_scores has 1 entries for 2 boxes"):
        ImageRecord(3, 10, 10, det_boxes=[[0, 0, 1, 1], [0, 0, 2, 2]], det_classes=[0, 0],
                    det_scores=[0.5])
    rec = record([([0, 0, 5, 5], 0)], [([0, 0, 5, 5], 0, 0.9), ([1, 1, 5, 5], 0, 0.2)])
    kept = rec.above(0.5)
    assert kept.det_scores.tolist() == [0.9] and kept.gt_boxes.shape == (1, 4)

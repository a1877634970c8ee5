"""Tests for tests/helpers/detections.py: the comparison oracle accepts float noise and near-tie
swaps, nothing else."""
import numpy as np
import pytest
from tests.helpers.detections import assert_same_detections


def _dets(rows, k=6):
    """rows of (class, score, x1, y1, x2, y2) as one image of K rows, -1 padded."""
    ids, scores, boxes = (np.full((1, k, n), -1.0, np.float32) for n in (1, 1, 4))
    for i, (c, s, *box) in enumerate(rows):
        ids[0, i, 0], scores[0, i, 0], boxes[0, i] = c, s, box
    return ids, scores, boxes


BASE = [(0, 0.9, 0, 0, 10, 10), (1, 0.50004, 20, 20, 40, 40), (1, 0.50001, 100, 100, 150, 150),
        (0, 0.2, 5, 5, 50, 50)]


def test_rows_tied_to_noise_may_swap():
    # The two class-1 rows tie to 3e-5: float noise on another CPU can swap them (the AVX-512
    # failure of test_convert: same rows, other order, 120 px apart row by row).
    swapped = [BASE[0], BASE[2], BASE[1], BASE[3]]
    assert_same_detections(_dets(BASE), _dets(swapped), min_compared=4)


@pytest.mark.parametrize("change", [
    lambda r: [r[0], (1, 0.50004, 20, 20, 40, 41), r[2], r[3]],  # a box 1 px off
    lambda r: [r[0], (0, 0.50004, 20, 20, 40, 40), r[2], r[3]],  # another class
    lambda r: [(0, 0.8, 0, 0, 10, 10)] + r[1:],  # another score
    lambda r: r[:3],  # a detection lost
    lambda r: r + [(1, 0.7, 60, 60, 90, 90)],  # a detection more
])


def test_any_real_difference_fails(change):
    with pytest.raises(AssertionError, match="^image 0: "):
        assert_same_detections(_dets(BASE), _dets(change(BASE)), min_compared=1)
    with pytest.raises(AssertionError, match="^image 0: "):  # in both directions
        assert_same_detections(_dets(change(BASE)), _dets(BASE), min_compared=1)


def test_a_near_tie_at_the_top_k_cut_may_differ():
    # Full lists of K = 4 rows: the last place goes to one of two candidates 1e-5 apart.
    full = BASE[:3] + [(0, 0.20001, 5, 5, 50, 50)]
    other = BASE[:3] + [(1, 0.20000, 200, 5, 250, 50)]
    assert_same_detections(_dets(full, k=4), _dets(other, k=4), min_compared=3)


def test_vacuous_comparisons_fail():
    with pytest.raises(AssertionError, match="only 0"):
        assert_same_detections(_dets([]), _dets([]))

"""The one "same detections" comparison: two detection lists, order-insensitive, noise-tolerant.

Two runs of one model (another CPU's kernels, a folded or exported graph, another runtime) differ
by float noise, and noise changes three things a row-by-row comparison trips over:

* rows whose scores tie to noise come in either order;
* a full list (every row valid) is cut by ``nms_topk`` / ``post_nms``, so which of two near-equal
  candidates makes the cut can change: rows within ``cut_margin`` of the lowest score of either
  list are not required to match (a low-scored candidate never suppresses a better one, so rows
  above it are stable);
* a candidate within noise of the score threshold may be kept on one side only: same rule.

Everything else must match: the same count (up to one row at the cut), and each row of
``expected`` finds an unused row of ``actual`` with the same class, its score within
``score_atol`` and every box corner within ``box_atol`` pixels. For a graded measure of how far
a reduced precision drifts, see :func:`~.postprocess.detection_agreement` instead.
"""
from dataclasses import dataclass, field
from typing import List

import mxnet as mx
import numpy as np

__all__ = ["DetectionComparison", "compare_detections"]


@dataclass
class DetectionComparison:
    """What :func:`compare_detections` found.

    Attributes
    ----------
    compared : int
        Rows of ``expected`` matched to a row of ``actual``, over the batch.
    max_box_difference : float
        Largest box-corner difference (pixels) of a matched pair; 0.0 when none was compared.
    mismatches : list of str
        One line per difference found (image, row, class, score, box); empty when the same.
    """
    compared: int = 0
    max_box_difference: float = 0.0
    mismatches: List[str] = field(default_factory=list)

    @property
    def same(self):
        """bool: no mismatch (check :attr:`compared` too: two empty lists are the same)."""
        return not self.mismatches


def _numpy(dets):
    return [d.asnumpy() if isinstance(d, mx.nd.NDArray) else np.asarray(d) for d in dets]


def _box_gap(a, b):
    """Largest corner difference of two boxes; equal infinities (an overflowing exp) count as 0."""
    with np.errstate(invalid="ignore"):
        return float(np.where(a == b, 0.0, np.abs(a - b)).max())


def _floor(e_ids, e_scores, a_ids, a_scores, cut_margin, score_thresh, min_score):
    """The score at or under which rows of one image are not compared."""
    floor = -1.0 if score_thresh is None else score_thresh + cut_margin
    if min_score is not None:
        floor = max(floor, min_score)
    e_valid, a_valid = e_ids[:, 0] >= 0, a_ids[:, 0] >= 0
    if e_valid.all() or a_valid.all():  # a full list: cut by top-k
        lowest = [s[v, 0].min() for s, v in ((e_scores, e_valid), (a_scores, a_valid)) if v.any()]
        floor = max(floor, max(lowest) + cut_margin)
    return floor


def _compare_image(b, expected, actual, score_atol, box_atol, floor, result):
    """Match image ``b``'s rows above ``floor``; record what was compared or differs."""
    (e_ids, e_scores, e_boxes), (a_ids, a_scores, a_boxes) = expected, actual
    e_rows = np.flatnonzero((e_ids[:, 0] >= 0) & (e_scores[:, 0] > floor))
    a_rows = np.flatnonzero((a_ids[:, 0] >= 0) & (a_scores[:, 0] > floor))
    if abs(len(e_rows) - len(a_rows)) > 1:
        result.mismatches.append(f"image {b}: {len(e_rows)} vs {len(a_rows)} detections")
        return
    free = list(a_rows)
    for i in e_rows:
        match = [j for j in free if a_ids[j, 0] == e_ids[i, 0]
                 and abs(a_scores[j, 0] - e_scores[i, 0]) <= score_atol
                 and _box_gap(a_boxes[j], e_boxes[i]) <= box_atol]
        if not match and e_scores[i, 0] <= floor + 2 * score_atol:
            continue  # its twin fell just under the floor
        if not match:
            result.mismatches.append(f"image {b}: detection {i} ({e_ids[i, 0]:g}, "
                                     f"{e_scores[i, 0]:.5f}, {e_boxes[i]}) not found")
            continue
        # The closest candidate: two near-identical rows of one class pair up by their boxes.
        j = min(match, key=lambda j: _box_gap(a_boxes[j], e_boxes[i]))
        free.remove(j)
        result.compared += 1
        result.max_box_difference = max(result.max_box_difference,
                                         _box_gap(a_boxes[j], e_boxes[i]))
    result.mismatches += [f"image {b}: detection {j} ({a_ids[j, 0]:g}, {a_scores[j, 0]:.5f}) of "
                          f"the second list has no match"
                          for j in free if a_scores[j, 0] > floor + 2 * score_atol]


def compare_detections(expected, actual, score_atol=1e-4, box_atol=1e-2, cut_margin=1e-3,
                       score_thresh=None, min_score=None):
    """Compare two detection lists of the same images, per image and in any order.

    Parameters
    ----------
    expected, actual : sequence of 3 arrays
        ``ids (B, K, 1)``, ``scores (B, K, 1)``, ``bboxes (B, K, 4)`` (corners, pixels), -1
        padded (NDArray or numpy): the decoder's outputs.
    score_atol : float
        Largest score difference of two matched rows.
    box_atol : float
        Largest difference of any box corner of two matched rows, in pixels (``inf``: match by
        class and score only, and read the difference in the result).
    cut_margin : float
        Rows within this of the lowest score of a full list (cut by top-k) are not compared.
    score_thresh : float, optional
        The decoder's score threshold: rows within ``cut_margin`` above it are not compared.
    min_score : float, optional
        Only rows scoring above this are compared (e.g. 0.5: the confident detections).

    Returns
    -------
    DetectionComparison
        ``same`` when nothing differs; ``compared`` rows; the largest box difference.
    """
    expected, actual = _numpy(expected), _numpy(actual)
    result = DetectionComparison()
    shapes = [tuple(a.shape for a in dets) for dets in (expected, actual)]
    if shapes[0] != shapes[1]:
        result.mismatches.append(f"shapes (ids, scores, bboxes) {shapes[0]} vs {shapes[1]}")
        return result
    for b in range(expected[0].shape[0]):
        e, a = [d[b] for d in expected], [d[b] for d in actual]
        floor = _floor(e[0], e[1], a[0], a[1], cut_margin, score_thresh, min_score)
        _compare_image(b, e, a, score_atol, box_atol, floor, result)
    return result

"""One order-insensitive comparison of detection lists, used by every test that compares two.

Detections are the decoder's ``(ids (B, K, 1), scores (B, K, 1), bboxes (B, K, 4))``, padded with
-1. Two runs of the same model on different CPUs (AVX2 or AVX-512 kernels, oneDNN or not) differ by
float noise, and noise changes three things a row-by-row comparison trips over:

* rows whose scores tie to noise come in either order (seen: two VGG300 detections swapped rows
  on an AVX-512 Xeon and not on an AVX2 EPYC, 120 px apart);
* a full list (every row valid) is cut by ``nms_topk`` / ``post_nms``, so which of two near-equal
  candidates makes the cut can change: rows within ``cut_margin`` of the lowest score of either
  list are not required to match (a low-scored candidate never suppresses a better one, so rows
  above it are stable);
* a candidate within noise of the score threshold may be kept on one side only: same rule.

Everything else must match: same count (up to one row at the cut), and each row of ``expected``
finds an unused row of ``actual`` with the same class, its score within ``score_atol`` and every
box corner within ``box_atol`` pixels.
"""
import mxnet as mx
import numpy as np


def as_numpy(dets):
    """``(ids, scores, bboxes)`` as numpy arrays, from NDArrays or anything array-like."""
    return [d.asnumpy() if isinstance(d, mx.nd.NDArray) else np.asarray(d) for d in dets]


def _box_gap(a, b):
    """Largest corner difference of two boxes; equal infinities (an overflowing exp) count as 0."""
    with np.errstate(invalid="ignore"):
        return float(np.where(a == b, 0.0, np.abs(a - b)).max())


def _rows_above(ids, scores, floor):
    return np.flatnonzero((ids[:, 0] >= 0) & (scores[:, 0] > floor))


def assert_same_detections(expected, actual, score_atol=1e-4, box_atol=1e-2, min_compared=10,
                           cut_margin=1e-3, score_thresh=None):
    """Assert that two detection lists hold the same detections per image, in any order.

    Parameters
    ----------
    expected, actual : sequence of 3 arrays
        ``ids (B, K, 1)``, ``scores (B, K, 1)``, ``bboxes (B, K, 4)`` (corners, pixels), -1 padded.
    score_atol : float
        Largest score difference of two matched rows.
    box_atol : float
        Largest difference of any box corner of two matched rows, in pixels.
    min_compared : int
        At least this many rows must be compared over the batch (so the test is not vacuous).
    cut_margin : float
        Rows within this of the lowest score of a full list (cut by top-k) are not compared.
    score_thresh : float, optional
        The decoder's score threshold: rows within ``cut_margin`` above it are not compared.
    """
    (e_ids, e_scores, e_boxes), (a_ids, a_scores, a_boxes) = as_numpy(expected), as_numpy(actual)
    assert e_ids.shape == a_ids.shape, f"ids shapes {e_ids.shape} vs {a_ids.shape}"
    assert e_boxes.shape == a_boxes.shape, f"bboxes shapes {e_boxes.shape} vs {a_boxes.shape}"
    compared = 0
    for b in range(e_ids.shape[0]):
        e_valid, a_valid = e_ids[b, :, 0] >= 0, a_ids[b, :, 0] >= 0
        floor = -1.0 if score_thresh is None else score_thresh + cut_margin
        if e_valid.all() or a_valid.all():  # a full list: cut by top-k
            lowest = [s[b, v, 0].min() for s, v in ((e_scores, e_valid), (a_scores, a_valid))
                      if v.any()]
            floor = max(floor, max(lowest) + cut_margin)
        e_rows = _rows_above(e_ids[b], e_scores[b], floor)
        a_rows = _rows_above(a_ids[b], a_scores[b], floor)
        assert abs(len(e_rows) - len(a_rows)) <= 1, f"image {b}: {len(e_rows)} vs {len(a_rows)}"
        free = list(a_rows)
        for i in e_rows:
            match = [j for j in free if a_ids[b, j, 0] == e_ids[b, i, 0]
                     and abs(a_scores[b, j, 0] - e_scores[b, i, 0]) <= score_atol
                     and _box_gap(a_boxes[b, j], e_boxes[b, i]) <= box_atol]
            if not match and e_scores[b, i, 0] <= floor + 2 * score_atol:
                continue  # its twin fell just under the floor
            assert match, f"image {b}: detection {i} ({e_ids[b, i, 0]:g}, " \
                          f"{e_scores[b, i, 0]:.5f}, {e_boxes[b, i]}) not found"
            # The closest candidate: two near-identical rows of one class pair up by their boxes.
            j = min(match, key=lambda j: _box_gap(a_boxes[b, j], e_boxes[b, i]))
            free.remove(j)
            compared += 1
        extra = [j for j in free if a_scores[b, j, 0] > floor + 2 * score_atol]
        assert not extra, f"image {b}: detection {extra[0]} ({a_ids[b, extra[0], 0]:g}, " \
                          f"{a_scores[b, extra[0], 0]:.5f}) of the second list has no match"
    assert compared >= min_compared, f"only {compared} detections compared"


def from_records(records, classes, rows):
    """detect.py's detections of one image (``[{"class", "score", "box"}, ...]``) as a batch of 1:
    ``(ids (1, rows, 1), scores (1, rows, 1), bboxes (1, rows, 4))``, -1 padded."""
    assert len(records) <= rows, f"{len(records)} detections, more than {rows} rows"
    ids, scores, boxes = (np.full((1, rows, n), -1.0, np.float32) for n in (1, 1, 4))
    for k, det in enumerate(records):
        ids[0, k, 0], scores[0, k, 0] = list(classes).index(det["class"]), det["score"]
        boxes[0, k] = det["box"]
    return ids, scores, boxes

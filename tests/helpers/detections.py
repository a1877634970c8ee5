"""Detection comparisons for tests: an assertion over gluon_ssd's one "same detections" check.

The comparison itself (order-insensitive, tolerant of float noise, near ties and the top-k cut)
is :func:`gluon_ssd.deploy.compare.compare_detections`; these helpers only turn its result into
an assertion that also requires enough rows compared, so a test is never vacuous.
"""
import mxnet as mx
import numpy as np

from gluon_ssd.deploy.compare import compare_detections


def as_numpy(dets):
    """``(ids, scores, bboxes)`` as numpy arrays, from NDArrays or anything array-like."""
    return [d.asnumpy() if isinstance(d, mx.nd.NDArray) else np.asarray(d) for d in dets]


def assert_same_detections(expected, actual, score_atol=1e-4, box_atol=1e-2, min_compared=10,
                           cut_margin=1e-3, score_thresh=None):
    """Assert that two detection lists hold the same detections per image, in any order.

    Parameters are those of :func:`~gluon_ssd.deploy.compare.compare_detections`, and
    ``min_compared``: at least this many rows must be compared over the batch.
    """
    result = compare_detections(expected, actual, score_atol=score_atol, box_atol=box_atol,
                                cut_margin=cut_margin, score_thresh=score_thresh)
    assert result.same, "; ".join(result.mismatches[:3])
    assert result.compared >= min_compared, f"only {result.compared} detections compared"


def from_records(records, classes, rows):
    """detect.py's detections of one image (``[{"class", "score", "box"}, ...]``) as a batch of 1:
    ``(ids (1, rows, 1), scores (1, rows, 1), bboxes (1, rows, 4))``, -1 padded."""
    assert len(records) <= rows, f"{len(records)} detections, more than {rows} rows"
    ids, scores, boxes = (np.full((1, rows, n), -1.0, np.float32) for n in (1, 1, 4))
    for k, det in enumerate(records):
        ids[0, k, 0], scores[0, k, 0] = list(classes).index(det["class"]), det["score"]
        boxes[0, k] = det["box"]
    return ids, scores, boxes

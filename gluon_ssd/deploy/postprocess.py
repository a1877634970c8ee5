"""Numpy reference of the decoder's top-k + per-class NMS, and the detection agreement metric."""
import mxnet as mx
import numpy as np
from gluoncv.utils.metrics.voc_detection import VOC07MApMetric

from .cpu import isa_summary

__all__ = ["postprocess_numpy", "detection_agreement", "AGREEMENT_SCORE"]

# Reference detections scoring at least this are the "ground truth" of an agreement.
AGREEMENT_SCORE = 0.5


def _iou(box, boxes):
    """IoU of one ``(4,)`` corner box with ``(M, 4)``, as ``contrib.box_nms`` computes it."""
    w = np.maximum(0.0, np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]))
    h = np.maximum(0.0, np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]))
    inter = w * h
    area = max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
    areas = np.maximum(0.0, boxes[:, 2] - boxes[:, 0]) * np.maximum(0.0, boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def postprocess_numpy(boxes, scores, nms_thresh=0.45, nms_topk=400, post_nms=100,
                      score_thresh=0.01):
    """Top-k + per-class NMS on raw outputs, as :class:`~gluon_ssd.blocks.decoder.SSDDecoder`.

    Candidates are (anchor, class) pairs in class-major order (index ``c * N + n``, GluonCV's);
    the ``nms_topk`` best enter NMS (ties: lower index first); those scoring ``<= score_thresh``
    are dropped; greedy NMS per class removes a box whose IoU with a kept, better box of its class
    is above ``nms_thresh``.

    Parameters
    ----------
    boxes : array ``(B, N, 4)``
        Decoded ``(x1, y1, x2, y2)`` (the ONNX model's / :class:`RawSSD`'s first output).
    scores : array ``(B, N, C)``
        Foreground class probabilities.
    nms_thresh, nms_topk, post_nms, score_thresh :
        As in ``SSDDecoder`` (the bundle's manifest lists the exported values under ``nms``).

    Returns
    -------
    (ids, scores, bboxes) : numpy.ndarray
        ``(B, K, 1)``, ``(B, K, 1)``, ``(B, K, 4)`` float32, sorted by descending score, empty rows
        -1; ``K`` as in ``SSDDecoder``.
    """
    boxes, scores = np.asarray(boxes, np.float32), np.asarray(scores, np.float32)
    if boxes.ndim != 3 or boxes.shape[2] != 4 or scores.ndim != 3 \
            or scores.shape[:2] != boxes.shape[:2]:
        raise ValueError(f"expected boxes (B, N, 4) and scores (B, N, C), got {boxes.shape} and "
                         f"{scores.shape}")
    batch, num, num_classes = scores.shape
    total = num * num_classes
    topk = nms_topk if nms_topk > 0 else total
    if nms_topk > 0:
        rows = post_nms if post_nms > 0 else topk
    else:
        rows = min(post_nms, total) if post_nms > 0 else total
    out = np.full((batch, rows, 6), -1.0, np.float32)
    for b in range(batch):
        flat = scores[b].T.reshape(-1)  # class-major: index c * N + n
        order = np.argsort(-flat, kind="stable")[:topk]
        order = order[flat[order] > score_thresh]
        cls, anchor = order // num, order % num
        cand_boxes, cand_scores = boxes[b, anchor], flat[order]
        keep = []
        suppressed = np.zeros(len(order), bool)
        for i in range(len(order)):
            if suppressed[i]:
                continue
            keep.append(i)
            later = np.arange(i + 1, len(order))
            later = later[(cls[later] == cls[i]) & ~suppressed[later]]
            if later.size and nms_thresh < 1:
                suppressed[later[_iou(cand_boxes[i], cand_boxes[later]) > nms_thresh]] = True
        keep = keep[:rows]
        out[b, :len(keep), 0] = cls[keep]
        out[b, :len(keep), 1] = cand_scores[keep]
        out[b, :len(keep), 2:] = cand_boxes[keep]
    return out[..., :1], out[..., 1:2], out[..., 2:]


def _numpy(x):
    return x.asnumpy() if isinstance(x, mx.nd.NDArray) else np.asarray(x)


def detection_agreement(reference_dets, dets, score_thresh=AGREEMENT_SCORE, iou_thresh=0.5):
    """How well ``dets`` reproduce ``reference_dets``: VOC07 mAP with the reference as ground truth.

    Parameters
    ----------
    reference_dets, dets : (ids, scores, bboxes)
        Detections of the same images, e.g. fp32 and int8: ``(B, K, 1)``, ``(B, K, 1)``,
        ``(B, K, 4)`` arrays (NDArray or numpy), rows with id -1 empty.
    score_thresh : float, default 0.5
        Reference detections scoring at least this are the ground truth; the others are ignored.
    iou_thresh : float, default 0.5
        IoU for a detection to match a reference box.

    Returns
    -------
    float
        11-point VOC07 mAP over the classes present in the reference, in [0, 1]: 1.0 when every
        reference box is found with no better-scored false positive; ``nan`` when the reference
        has no detection at ``score_thresh``.
    """
    ref_ids, ref_scores, ref_boxes = (_numpy(a) for a in reference_dets)
    ids, scores, boxes = (_numpy(a) for a in dets)
    gt_ids = np.where(ref_scores >= score_thresh, ref_ids, -1)
    if not (gt_ids >= 0).any():
        return float("nan")
    num_classes = int(max(gt_ids.max(), ids.max())) + 1
    metric = VOC07MApMetric(iou_thresh=iou_thresh, class_names=[str(c) for c in range(num_classes)])
    metric.update(boxes, ids, scores, ref_boxes, gt_ids)
    return min(1.0, float(metric.get()[1][-1]))  # the 11-point sum can round to 1 + 2e-16


def agreement_record(reference_dets, dets, tolerance, what, reference, images, flag, advice):
    """The manifest record of a reduced precision's agreement with fp32; refuses below tolerance.

    Parameters
    ----------
    reference_dets, dets : (ids, scores, bboxes)
        fp32 and reduced-precision detections of the same images (see
        :func:`detection_agreement`).
    tolerance : float or None
        Minimum agreement; None records without refusing.
    what, reference, images : str
        For the record and messages, e.g. ``'openvino bf16'``, ``'openvino fp32'``,
        ``'32 calibration images'``.
    flag, advice : str
        The option that sets ``tolerance`` and what to try, for the refusal message.

    Returns
    -------
    dict
        ``{"agreement": mAP or None, "num_reference_detections", "min_required", "metric",
        "cpu", "verified"}``; ``verified`` when a tolerance was set and reached.

    Raises
    ------
    ValueError
        The agreement is below ``tolerance``, or cannot be measured (no reference detection
        scoring >= :data:`AGREEMENT_SCORE`) while a tolerance is set.
    """
    agreement = detection_agreement(reference_dets, dets)
    measured = None if np.isnan(agreement) else agreement
    record = {
        "agreement": measured,
        "num_reference_detections": int((_numpy(reference_dets[1]) >= AGREEMENT_SCORE).sum()),
        "min_required": tolerance,
        "metric": f"VOC07 mAP (IoU 0.5) of {what} detections with {reference} detections "
                  f"scoring >= {AGREEMENT_SCORE} as ground truth, on {images}",
        "cpu": isa_summary(),
        "verified": bool(tolerance is not None and measured is not None
                         and measured >= tolerance),
    }
    if tolerance is not None and measured is None:
        raise ValueError(f"{what} agreement cannot be measured: the fp32 model has no detection "
                         f"scoring >= {AGREEMENT_SCORE} on the {images}; use images with "
                         f"objects, or {flag}=None to record it unchecked")
    if tolerance is not None and measured < tolerance:
        raise ValueError(f"{what} detections agree with {reference} at mAP {measured:.3f} < "
                         f"{flag} {tolerance}: refusing the export; {advice}")
    return record

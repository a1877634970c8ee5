"""The detection confusion matrix: which classes a detector confuses, what it misses, where it sees
objects that are not there.

Rows are the ground-truth classes then ``background``; columns the predicted classes then
``missed``. Only detections scoring at least ``score_thresh`` count. Per image:

1. detections are matched to ground truth of their own class at ``iou_thresh``
   (:func:`~gluon_ssd.evaluation.matching.match_image`): cell ``(c, c)``;
2. the detections and ground-truth boxes left are matched again, classes ignored, with the same
   rule: a detection of class ``p`` on a box of class ``t`` adds to ``(t, p)``;
3. detections still left add to ``(background, p)`` (duplicates included: they are false
   positives); boxes still left to ``(t, missed)``.

Detections on ignored boxes (VOC difficult, COCO crowd) and those boxes are not counted. So every
counted ground-truth box is in exactly one cell of the class rows (a row sums to the number of
boxes of that class) and every counted detection in exactly one cell of the class columns (a
column sums to the number of detections of that class); ``(background, missed)`` is 0.
"""
import numpy as np

from .matching import match_image

__all__ = ["DEFAULT_IOU_THRESH", "DEFAULT_SCORE_THRESH", "image_confusion", "confusion_matrix"]

DEFAULT_IOU_THRESH = 0.5
"""The IoU of a match: VOC's and COCO's AP50 threshold."""
DEFAULT_SCORE_THRESH = 0.5
"""Detections counted: those a user would keep (``gluon-ssd detect`` draws from 0.5 too)."""


def image_confusion(record, num_classes, iou_thresh=DEFAULT_IOU_THRESH,
                    score_thresh=DEFAULT_SCORE_THRESH):
    """``(C + 1, C + 1)`` int64 counts of one :class:`ImageRecord` (module docstring).

    Index ``C`` is ``background`` as a row and ``missed`` as a column.
    """
    rec = record.above(score_thresh)
    counts = np.zeros((num_classes + 1, num_classes + 1), np.int64)
    first = match_image(rec.det_boxes, rec.det_classes, rec.det_scores, rec.gt_boxes,
                        rec.gt_classes, rec.gt_ignore, iou_thresh)
    matched = first.gt_index >= 0
    np.add.at(counts, (rec.gt_classes[first.gt_index[matched]], rec.det_classes[matched]), 1)
    dets = np.flatnonzero(first.false_positives)
    gts = np.flatnonzero(~first.gt_matched & ~rec.gt_ignore)
    second = match_image(rec.det_boxes[dets], rec.det_classes[dets], rec.det_scores[dets],
                         rec.gt_boxes[gts], rec.gt_classes[gts], None, iou_thresh,
                         same_class=False)
    hit = second.gt_index >= 0
    np.add.at(counts, (rec.gt_classes[gts[second.gt_index[hit]]], rec.det_classes[dets[hit]]), 1)
    np.add.at(counts, (num_classes, rec.det_classes[dets[~hit]]), 1)
    np.add.at(counts, (rec.gt_classes[gts[~second.gt_matched]], num_classes), 1)
    return counts


def confusion_matrix(records, class_names, iou_thresh=DEFAULT_IOU_THRESH,
                     score_thresh=DEFAULT_SCORE_THRESH):
    """The confusion matrix of a dataset's :class:`ImageRecord` s (module docstring).

    Parameters
    ----------
    records : sequence of ImageRecord
    class_names : sequence of str
        Class id ``i`` is ``class_names[i]``.
    iou_thresh : float, default 0.5
    score_thresh : float, default 0.5

    Returns
    -------
    dict
        ``labels_true`` (classes + ``'background'``), ``labels_pred`` (classes + ``'missed'``),
        ``counts`` ((C+1) x (C+1) ints, rows true, columns predicted), ``normalized`` (each row
        divided by its sum; a row without counts stays 0), ``iou_thresh``, ``score_thresh``, and
        ``per_image``: {``false_positives``, ``missed``}, one count per record (counted
        detections off the diagonal, boxes in the ``missed`` column).
    """
    names = list(class_names)
    num = len(names)
    total = np.zeros((num + 1, num + 1), np.int64)
    false_positives, missed = [], []
    for record in records:
        counts = image_confusion(record, num, iou_thresh, score_thresh)
        total += counts
        false_positives.append(int(counts[:, :num].sum() - np.trace(counts[:num, :num])))
        missed.append(int(counts[:num, num].sum()))
    rows = total.sum(axis=1, keepdims=True)
    normalized = np.divide(total, rows, out=np.zeros(total.shape), where=rows > 0)
    return {"labels_true": names + ["background"], "labels_pred": names + ["missed"],
            "counts": total.tolist(), "normalized": np.round(normalized, 4).tolist(),
            "iou_thresh": float(iou_thresh), "score_thresh": float(score_thresh),
            "per_image": {"false_positives": false_positives, "missed": missed}}

"""Where the missing AP goes: TIDE's six error types (Bolya et al., "TIDE: A General Toolbox for
Identifying Object Detection Errors", ECCV 2020), on our own matching.

Detections are matched per image at the foreground IoU ``t_f = 0.5``
(:func:`~gluon_ssd.evaluation.matching.match_image`). Each false positive gets the first type
that fits, in TIDE's order (``IoU_c``: its largest IoU with a box of its own class; ``IoU_o``:
with a box of another class; ``t_b = 0.1`` the background IoU):

- **localization**: ``t_b <= IoU_c <= t_f`` (right class, box not good enough);
- **classification**: ``IoU_o >= t_f`` (good box, wrong class);
- **duplicate**: ``IoU_c >= t_f`` with a box another detection (scoring higher) already took;
- **background**: IoU with every box ``<= t_b`` (or the image has no box);
- **both**: anything else (wrong class and ``t_b <= IoU_o < t_f``).

A ground-truth box nobody took is **missed** unless a localization or classification error points
at it (fixing that error would find it).

The measure is TIDE's dAP: AP50 with every error of one type fixed, minus AP50, the other types
left as they are. Fixing: a localization / classification error becomes a true positive of the
box's class if that box is free and the error is the highest-scoring localization or
classification error on it; otherwise (and for duplicate, background, both) the detection is
removed; a missed box is removed from the ground truth. AP50 is COCO's 101-point interpolated AP
at IoU 0.5 (pycocotools' recall points), the mean over classes that have ground truth or
detections (a class with detections and no ground truth scores 0), as TIDE averages.
"""
import numpy as np
from pycocotools.cocoeval import Params

from .matching import match_image

__all__ = ["ERROR_TYPES", "FOREGROUND_IOU", "BACKGROUND_IOU", "average_precision",
           "classify_image", "error_breakdown"]

ERROR_TYPES = ("classification", "localization", "both", "duplicate", "background", "missed")
FOREGROUND_IOU = 0.5
BACKGROUND_IOU = 0.1
_RECALL_POINTS = Params(iouType="bbox").recThrs  # 0, 0.01, ..., 1


def average_precision(scores, true_positive, num_gt):
    """COCO's 101-point interpolated AP of one class's detections.

    Parameters
    ----------
    scores : array-like
        ``(N,)`` scores, in the order of a stable sort's ties (image order).
    true_positive : array-like
        ``(N,)`` bool.
    num_gt : int
        Ground-truth boxes of the class.

    Returns
    -------
    (float, numpy.ndarray, numpy.ndarray)
        AP (0 when ``num_gt`` is 0), precision and recall at each rank (decreasing score).
    """
    order = np.argsort(-np.asarray(scores, np.float64), kind="mergesort")
    tp = np.asarray(true_positive, bool)[order]
    hits = np.cumsum(tp)
    precision = hits / np.arange(1, len(tp) + 1)
    recall = hits / max(num_gt, 1)
    if num_gt <= 0 or not len(tp):
        return 0.0, precision, recall
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    at = np.searchsorted(recall, _RECALL_POINTS, side="left")
    return float(np.where(at < len(tp), envelope[np.minimum(at, len(tp) - 1)], 0.0).mean()), \
        precision, recall


def _false_positive_type(iou, same, used, fg, bg):
    """(type, target box or -1) of one unmatched detection from its IoU row (TIDE's order)."""
    own = np.where(same, iou, 0.0)
    g = int(np.argmax(own))
    if bg <= own[g] <= fg:
        return "localization", (-1 if used[g] else g)
    other = np.where(same, 0.0, iou)
    g = int(np.argmax(other))
    if other[g] >= fg:
        return "classification", (-1 if used[g] else g)
    if np.where(same & used, iou, 0.0).max() >= fg:
        return "duplicate", -1
    if iou.max() <= bg:
        return "background", -1
    return "both", -1


def classify_image(record, fg=FOREGROUND_IOU, bg=BACKGROUND_IOU):
    """TIDE's type of each detection and the missed boxes of one :class:`ImageRecord`.

    Returns
    -------
    dict
        ``kinds``: ``(K,)`` str per detection, ``'tp'``, ``'ignored'`` or an error type;
        ``fixed``: ``(K,)`` bool, the localization / classification errors that fixing turns into
        a true positive; ``fixed_class``: ``(K,)`` int, their class once fixed (the box's);
        ``missed``: ``(M,)`` bool per ground-truth box.
    """
    match = match_image(record.det_boxes, record.det_classes, record.det_scores,
                        record.gt_boxes, record.gt_classes, record.gt_ignore, fg)
    keep = np.flatnonzero(~record.gt_ignore)
    iou, classes = match.iou[:, keep], record.gt_classes[keep]
    used = match.gt_matched[keep]
    num = len(record.det_scores)
    kinds = np.array(["tp"] * num, dtype=object)
    fixed, fixed_class = np.zeros(num, bool), record.det_classes.copy()
    usable = np.zeros(len(record.gt_boxes), bool)
    claimed = set()
    for d in np.argsort(-record.det_scores, kind="mergesort"):
        if match.gt_index[d] >= 0:
            continue
        if match.ignored[d]:
            kinds[d] = "ignored"
        elif not len(keep):
            kinds[d] = "background"
        else:
            kinds[d], g = _false_positive_type(iou[d], record.det_classes[d] == classes, used,
                                               fg, bg)
            if g >= 0:
                usable[keep[g]] = True
                # The highest-scoring error on a free box is the one fixing can turn into a
                # true positive (one detection per box); the others are removed.
                fixed[d] = g not in claimed
                fixed_class[d] = classes[g]
                claimed.add(g)
    missed = ~match.gt_matched & ~record.gt_ignore & ~usable
    return {"kinds": kinds, "fixed": fixed, "fixed_class": fixed_class, "missed": missed}


def _mean_ap(points, num_gt):
    """TIDE's mean: classes with ground truth or detections; ``points`` {class: (scores, tp)}."""
    aps = {}
    for cls in sorted(set(points) | {c for c, n in num_gt.items() if n > 0}):
        scores, tps = points.get(cls, ([], []))
        if len(scores) or num_gt.get(cls, 0) > 0:
            aps[cls] = average_precision(scores, tps, num_gt.get(cls, 0))[0]
    return (float(np.mean(list(aps.values()))) if aps else 0.0), aps


def _points(dets, fix):
    """{class: (scores, true positive)} of the detections with errors of type ``fix`` fixed."""
    points = {}
    for cls, score, kind, fixed, fixed_class in dets:
        if kind != "tp" and kind == fix:
            if not fixed:
                continue
            cls, kind = fixed_class, "tp"
        scores, tps = points.setdefault(cls, ([], []))
        scores.append(score)
        tps.append(kind == "tp")
    return points


def error_breakdown(records, fg=FOREGROUND_IOU, bg=BACKGROUND_IOU):
    """TIDE's error counts and dAP over a dataset's :class:`ImageRecord` s (module docstring).

    Returns
    -------
    dict
        One entry per :data:`ERROR_TYPES` name: ``{"count": int, "dAP": float}``; ``AP50``: the
        AP before fixing; ``per_class``: {class id: AP50}; ``pr``: {class id: (precision,
        recall)}; ``foreground_iou``, ``background_iou``.
    """
    dets, num_gt, missed = [], {}, {}
    counts = dict.fromkeys(ERROR_TYPES, 0)
    for record in records:
        kinds = classify_image(record, fg, bg)
        for cls in record.gt_classes[~record.gt_ignore]:
            num_gt[int(cls)] = num_gt.get(int(cls), 0) + 1
        for cls in record.gt_classes[kinds["missed"]]:
            missed[int(cls)] = missed.get(int(cls), 0) + 1
        for d in np.argsort(-record.det_scores, kind="mergesort"):
            kind = kinds["kinds"][d]
            if kind == "ignored":
                continue
            counts[kind] = counts.get(kind, 0) + 1
            dets.append((int(record.det_classes[d]), float(record.det_scores[d]), kind,
                         bool(kinds["fixed"][d]), int(kinds["fixed_class"][d])))
    counts.pop("tp", None)
    counts["missed"] = sum(missed.values())
    base_points = _points(dets, None)
    base, per_class = _mean_ap(base_points, num_gt)
    result = {"AP50": base, "foreground_iou": fg, "background_iou": bg, "per_class": per_class}
    for kind in ERROR_TYPES:
        if kind == "missed":
            fixed = _mean_ap(base_points, {c: n - missed.get(c, 0) for c, n in num_gt.items()})
        else:
            fixed = _mean_ap(_points(dets, kind), num_gt)
        # TIDE clips a negative gain (interpolation noise) to 0.
        result[kind] = {"count": counts[kind], "dAP": max(fixed[0] - base, 0.0)}
    result["pr"] = {c: average_precision(s, t, num_gt.get(c, 0))[1:]
                    for c, (s, t) in base_points.items()}
    return result

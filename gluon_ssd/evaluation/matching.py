"""Per-image matching of detections to ground truth: the one rule the confusion matrix, the error
breakdown, the size bands and the report's AP per class share.

:class:`ImageRecord` holds one image's ground truth and detections in ORIGINAL image pixels.
:func:`match_image` matches them at an IoU threshold with COCOeval's rule (also TIDE's):

1. detections are taken in decreasing score order (ties keep their input order);
2. each takes, among the ground-truth boxes of its class that no detection has taken yet, the one
   of highest IoU, if that IoU is at least ``iou_thresh``: a true positive;
3. a detection left over that overlaps an IGNORED box of its class (VOC ``difficult``, COCO
   ``iscrowd``) by at least ``iou_thresh`` is ignored: neither true nor false positive;
4. every other detection is a false positive, every ground-truth box not taken and not ignored a
   false negative.

IoU is gluoncv's ``bbox_iou`` without the +1 of old VOC code (as pycocotools).
"""
from dataclasses import dataclass, field

import numpy as np
from gluoncv.utils.bbox import bbox_iou

__all__ = ["ImageRecord", "Match", "box_iou", "match_image"]


def _rows(values, width, dtype):
    """``values`` as a ``(N, width)`` array (``width`` 0: ``(N,)``)."""
    arr = np.asarray(values, dtype=dtype)
    return arr.reshape(-1, width) if width else arr.reshape(-1)


@dataclass
class ImageRecord:
    """One image's ground truth and detections, boxes ``[x1, y1, x2, y2]`` in original pixels.

    Attributes
    ----------
    index : int
        The image's index in its dataset.
    width, height : int
        Original image size in pixels.
    gt_boxes : numpy.ndarray
        ``(M, 4)`` float64 ground-truth corners.
    gt_classes : numpy.ndarray
        ``(M,)`` int class ids.
    gt_ignore : numpy.ndarray
        ``(M,)`` bool: boxes to ignore (VOC difficult, COCO crowd): neither found nor missed.
    det_boxes : numpy.ndarray
        ``(K, 4)`` float64 detection corners.
    det_classes : numpy.ndarray
        ``(K,)`` int class ids.
    det_scores : numpy.ndarray
        ``(K,)`` float64 confidences.
    """
    index: int
    width: int
    height: int
    gt_boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    gt_classes: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    gt_ignore: np.ndarray = None
    det_boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    det_classes: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    det_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self):
        self.gt_boxes = _rows(self.gt_boxes, 4, np.float64)
        self.gt_classes = _rows(self.gt_classes, 0, np.int64)
        self.gt_ignore = (np.zeros(len(self.gt_boxes), bool) if self.gt_ignore is None
                          else _rows(self.gt_ignore, 0, bool))
        self.det_boxes = _rows(self.det_boxes, 4, np.float64)
        self.det_classes = _rows(self.det_classes, 0, np.int64)
        self.det_scores = _rows(self.det_scores, 0, np.float64)
        for name, arr, num in (("gt_classes", self.gt_classes, len(self.gt_boxes)),
                               ("gt_ignore", self.gt_ignore, len(self.gt_boxes)),
                               ("det_classes", self.det_classes, len(self.det_boxes)),
                               ("det_scores", self.det_scores, len(self.det_boxes))):
            if len(arr) != num:
                raise ValueError(f"image {self.index}: {name} has {len(arr)} entries for {num} "
                                 f"boxes")

    def above(self, score_thresh):
        """A copy keeping the detections scoring at least ``score_thresh``."""
        keep = self.det_scores >= score_thresh
        return ImageRecord(self.index, self.width, self.height, self.gt_boxes, self.gt_classes,
                           self.gt_ignore, self.det_boxes[keep], self.det_classes[keep],
                           self.det_scores[keep])


@dataclass
class Match:
    """:func:`match_image`'s answer, aligned with the inputs' order.

    Attributes
    ----------
    gt_index : numpy.ndarray
        ``(K,)`` int: the ground-truth box each detection took (a true positive), or -1.
    ignored : numpy.ndarray
        ``(K,)`` bool: detections on an ignored box (neither true nor false positive).
    gt_matched : numpy.ndarray
        ``(M,)`` bool: ground-truth boxes taken by a detection.
    iou : numpy.ndarray
        ``(K, M)`` IoU of every detection with every ground-truth box.
    """
    gt_index: np.ndarray
    ignored: np.ndarray
    gt_matched: np.ndarray
    iou: np.ndarray

    @property
    def false_positives(self):
        """``(K,)`` bool: neither matched nor ignored."""
        return (self.gt_index < 0) & ~self.ignored


def box_iou(boxes_a, boxes_b):
    """``(N, M)`` IoU of corner boxes ``(N, 4)`` and ``(M, 4)`` (no +1 on widths)."""
    a = np.asarray(boxes_a, np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, np.float64).reshape(-1, 4)
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    return bbox_iou(a, b, offset=0)


def match_image(det_boxes, det_classes, det_scores, gt_boxes, gt_classes, gt_ignore=None,
                iou_thresh=0.5, same_class=True):
    """Match one image's detections to its ground truth (the rule in the module docstring).

    Parameters
    ----------
    det_boxes : array-like
        ``(K, 4)`` detection corners.
    det_classes, det_scores : array-like
        ``(K,)`` class ids and scores.
    gt_boxes : array-like
        ``(M, 4)`` ground-truth corners, in the same frame.
    gt_classes : array-like
        ``(M,)`` class ids.
    gt_ignore : array-like, optional
        ``(M,)`` bool, boxes to ignore; default none.
    iou_thresh : float, default 0.5
        Least IoU of a match.
    same_class : bool, default True
        False: a detection may take a box of any class (the confusion matrix's second pass).

    Returns
    -------
    Match
    """
    det_classes = np.asarray(det_classes).reshape(-1)
    gt_classes = np.asarray(gt_classes).reshape(-1)
    gt_ignore = (np.zeros(len(gt_classes), bool) if gt_ignore is None
                 else np.asarray(gt_ignore, bool).reshape(-1))
    iou = box_iou(det_boxes, gt_boxes)
    num_det, num_gt = iou.shape
    allowed = (det_classes[:, None] == gt_classes[None, :]) if same_class else \
        np.ones((num_det, num_gt), bool)
    gt_index, ignored = np.full(num_det, -1, np.int64), np.zeros(num_det, bool)
    taken = np.zeros(num_gt, bool)
    for d in np.argsort(-np.asarray(det_scores, np.float64).reshape(-1), kind="mergesort"):
        free = np.where(allowed[d] & ~taken & ~gt_ignore, iou[d], -1.0)
        if num_gt and free.max() >= iou_thresh:
            g = int(np.argmax(free))
            gt_index[d], taken[g] = g, True
        elif num_gt and np.any(allowed[d] & gt_ignore & (iou[d] >= iou_thresh)):
            ignored[d] = True
    return Match(gt_index, ignored, taken, iou)

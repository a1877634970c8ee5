"""AP per object size: COCO's area bands, in ORIGINAL image pixels, for any dataset.

The bands are pycocotools' own (``Params().areaRng``): **small** area < 32^2, **medium** 32^2 to
96^2, **large** >= 96^2, area = box width x height in the original image's pixels (a network input
of 300x300 does not change which band an object is in). :func:`size_bands` scores
:class:`~gluon_ssd.evaluation.matching.ImageRecord` s with pycocotools' ``COCOeval`` (evaluate,
accumulate) restricted to each band, as COCO's APs / APm / APl: a ground-truth box outside the band
is ignored, and so is an unmatched detection outside it. Boxes to ignore (VOC difficult, COCO
crowd) go in as ``iscrowd`` regions.

For a COCO file this differs from ``eval.json``'s APs / APm / APl in one way: COCO's annotation
``area`` is the segmentation's area, these bands use the box's.
"""
import contextlib
import io

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval, Params

__all__ = ["SIZE_BANDS", "band_of", "size_bands"]

_PARAMS = Params(iouType="bbox")
SIZE_BANDS = {label: tuple(rng) for label, rng in zip(_PARAMS.areaRngLbl, _PARAMS.areaRng)
              if label != "all"}
"""{band: (least area, largest area)} in square pixels, pycocotools' ranges."""


def band_of(area):
    """The band (``'small'``, ``'medium'``, ``'large'``) of a box area in square pixels.

    A box exactly on a limit (area 32^2 or 96^2) goes to the larger band; COCOeval's closed
    ranges count it in both for AP.
    """
    for label, (low, high) in SIZE_BANDS.items():
        if low <= area < high:
            return label
    raise ValueError(f"area must be >= 0, got {area}")


def _coco_pair(records, num_classes):
    """(ground truth COCO, detections COCO) of the records: image id = index, category = class."""
    images = [{"id": int(r.index), "width": int(r.width), "height": int(r.height)}
              for r in records]
    categories = [{"id": c, "name": str(c)} for c in range(num_classes)]
    gts, dets = [], []
    for r in records:
        for box, cls, ignore in zip(r.gt_boxes, r.gt_classes, r.gt_ignore):
            w, h = float(box[2] - box[0]), float(box[3] - box[1])
            gts.append({"id": len(gts) + 1, "image_id": int(r.index), "category_id": int(cls),
                        "bbox": [float(box[0]), float(box[1]), w, h], "area": w * h,
                        "iscrowd": int(ignore)})
        for box, cls, score in zip(r.det_boxes, r.det_classes, r.det_scores):
            w, h = float(box[2] - box[0]), float(box[3] - box[1])
            dets.append({"id": len(dets) + 1, "image_id": int(r.index), "category_id": int(cls),
                         "bbox": [float(box[0]), float(box[1]), w, h], "area": w * h,
                         "score": float(score), "iscrowd": 0})
    pair = []
    for anns in (gts, dets):
        index = COCO()
        index.dataset = {"images": images, "annotations": anns, "categories": categories}
        index.createIndex()
        pair.append(index)
    return pair


def _mean_valid(values):
    values = values[values > -1]
    return float(np.mean(values)) if values.size else None


def size_bands(records, num_classes):
    """AP (IoU 0.50:0.95), AP50 and the number of ground-truth boxes per COCO size band.

    Parameters
    ----------
    records : sequence of ImageRecord
        Boxes in original image pixels.
    num_classes : int

    Returns
    -------
    dict
        ``{band: {"area": [low, high], "num_boxes": int, "AP": float or None, "AP50": float or
        None}}`` for ``small``, ``medium``, ``large``; AP None where the band has no box.
        ``num_boxes`` counts boxes not ignored, by :func:`band_of`.
    """
    records = list(records)
    bands = {label: {"area": [float(low), float(high)], "num_boxes": 0, "AP": None, "AP50": None}
             for label, (low, high) in SIZE_BANDS.items()}
    for r in records:
        sizes = (r.gt_boxes[:, 2] - r.gt_boxes[:, 0]) * (r.gt_boxes[:, 3] - r.gt_boxes[:, 1])
        for area in sizes[~r.gt_ignore]:
            bands[band_of(float(area))]["num_boxes"] += 1
    if not records or not any(b["num_boxes"] for b in bands.values()):
        return bands
    with contextlib.redirect_stdout(io.StringIO()):   # pycocotools prints progress
        gt, dt = _coco_pair(records, num_classes)
        evaluator = COCOeval(gt, dt, "bbox")
        evaluator.params.imgIds = [int(r.index) for r in records]
        evaluator.params.catIds = list(range(num_classes))
        evaluator.evaluate()
        evaluator.accumulate()
    # precision: [T IoU thresholds, R recall points, K classes, A area bands, M max detections]
    precision = evaluator.eval["precision"]
    for a, label in enumerate(evaluator.params.areaRngLbl):
        if label in bands and bands[label]["num_boxes"]:
            bands[label]["AP"] = _mean_valid(precision[:, :, :, a, -1])
            bands[label]["AP50"] = _mean_valid(precision[0, :, :, a, -1])
    return bands

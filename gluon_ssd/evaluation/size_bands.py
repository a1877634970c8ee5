"""AP per object size: COCO's area bands, in ORIGINAL image pixels, for any dataset.

The bands are pycocotools' own (``Params().areaRng``): **small** area < 32^2, **medium** 32^2 to
96^2, **large** >= 96^2, area = box width x height in the original image's pixels (a network input
of 300x300 does not change which band an object is in). pycocotools includes both ends of a
range, so a box of exactly 32^2 counts in small and medium alike; so does the box count.
:func:`size_bands` scores :class:`~gluon_ssd.evaluation.matching.ImageRecord` s with pycocotools'
``COCOeval`` (evaluate, accumulate) restricted to each band, as COCO's APs / APm / APl: a
ground-truth box outside the band is ignored, and so is an unmatched detection outside it; AP over
IoU 0.50:0.95 (``ap``) and at IoU 0.5 (``ap50``) are read off ``eval['precision']`` the way
``summarize`` averages them. Boxes to ignore (VOC difficult, COCO crowd) go in as ``iscrowd``
regions. Dense images keep every detection: the last ``maxDets`` is raised to the most detections
of an image when that exceeds COCO's 100.

For a COCO file this differs from ``eval.json``'s APs / APm / APl in one way: COCO's annotation
``area`` is the segmentation's area, these bands use the box's.
"""
import contextlib
import io

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval, Params

__all__ = ["SIZE_BANDS", "count_boxes", "size_bands", "bands_table"]

_PARAMS = Params(iouType="bbox")
SIZE_BANDS = {label: tuple(rng) for label, rng in zip(_PARAMS.areaRngLbl, _PARAMS.areaRng)
              if label != "all"}
"""{band: (least area, largest area)} in square pixels, pycocotools' ranges."""


def count_boxes(areas, band):
    """int: how many of ``areas`` (square pixels) fall in ``band``, both ends included."""
    low, high = SIZE_BANDS[band]
    areas = np.asarray(areas, dtype=np.float64)
    return int(((areas >= low) & (areas <= high)).sum())


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
        ``{band: {"ap": float or None, "ap50": float or None, "num_boxes": int}}`` for
        ``small``, ``medium``, ``large``; AP None where the band has no box. ``num_boxes``
        counts the boxes not ignored (:func:`count_boxes`).
    """
    records = list(records)
    areas = np.concatenate([((r.gt_boxes[:, 2] - r.gt_boxes[:, 0])
                             * (r.gt_boxes[:, 3] - r.gt_boxes[:, 1]))[~r.gt_ignore]
                            for r in records] + [np.zeros(0)])
    bands = {band: {"ap": None, "ap50": None, "num_boxes": count_boxes(areas, band)}
             for band in SIZE_BANDS}
    if not len(areas):
        return bands
    with contextlib.redirect_stdout(io.StringIO()):   # pycocotools prints progress
        gt, dt = _coco_pair(records, num_classes)
        evaluator = COCOeval(gt, dt, "bbox")
        evaluator.params.imgIds = [int(r.index) for r in records]
        evaluator.params.catIds = list(range(num_classes))
        evaluator.params.maxDets = [1, 10, max([100] + [len(r.det_scores) for r in records])]
        evaluator.evaluate()
        evaluator.accumulate()
    # precision: [T IoU thresholds, R recall points, K classes, A area bands, M max detections]
    precision = evaluator.eval["precision"]
    for band, entry in bands.items():
        a = evaluator.params.areaRngLbl.index(band)
        if entry["num_boxes"]:
            entry["ap"] = _mean_valid(precision[:, :, :, a, -1])
            entry["ap50"] = _mean_valid(precision[0, :, :, a, -1])
    return bands


def bands_table(bands):
    """The printed table of :func:`size_bands`: one line per band, AP, AP50, boxes."""
    def fmt(ap):
        return "   n/a" if ap is None else f"{ap:6.4f}"
    lines = ["size band  AP      AP50    boxes"]
    lines += [f"{name:<9}  {fmt(v['ap'])}  {fmt(v['ap50'])}  {v['num_boxes']:5d}"
              for name, v in bands.items()]
    return "\n".join(lines)

"""COCO detection metrics through pycocotools' own ``COCOeval``, and COCO results files.

:func:`coco_detections` runs a detector over a :class:`~gluon_ssd.data.COCODataset` exactly as
:func:`gluon_ssd.inference.detect_images` runs it over files (the same
:class:`~gluon_ssd.data.transforms.ValTransform`, the same
:func:`~gluon_ssd.data.transforms.to_original_pixels` mapping back to original image pixels)
and returns the detections in the COCO results format:
``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`` with the file's own image and
category ids and boxes in original image pixels.

:func:`coco_metric` scores such results with ``COCOeval(gt, gt.loadRes(results), "bbox")``
(evaluate, accumulate, summarize), restricted to the dataset's images and categories, and names
its 12 stats (:data:`COCO_STATS`: AP over IoU 0.50:0.95, AP50, AP75, AP small / medium / large,
AR with 1 / 10 / 100 detections, AR small / medium / large). Per-class AP and AP50 are read off
``COCOeval.eval['precision']`` the way ``summarize`` averages it (area 'all', 100 detections,
entries of -1, a class without ground truth, left out).
"""
import contextlib
import io

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from .predictions import image_records, predict_batches

__all__ = ["COCO_STATS", "coco_detections", "coco_results", "coco_metric"]

COCO_STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl",
              "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
"""Names of ``COCOeval.stats``, in its order."""


def _check_coco_dataset(dataset):
    for attr in ("coco", "image_ids", "category_ids", "classes"):
        if not hasattr(dataset, attr):
            raise TypeError(f"the COCO metric needs a gluon_ssd.data.COCODataset (with .{attr}), "
                            f"got {type(dataset).__name__}; use metric='voc' for other datasets")


def coco_detections(net, dataset, data_shape, mean, std, batch_size=16, ctx=None,
                    progress=True, num_workers=0):
    """Detections of ``net`` on ``dataset`` in the COCO results format (module docstring).

    Parameters
    ----------
    net : SSD or callable
        Inference-mode detector: ``(B, 3, H, W)`` -> ``ids (B, K, 1)``, ``scores (B, K, 1)``,
        ``bboxes (B, K, 4)`` corners in input pixels (-1 padded).
    dataset : COCODataset
    data_shape : (int, int)
        Network input ``(height, width)``.
    mean, std : tuple of 3 float
        Input normalisation.

    Returns
    -------
    list of dict
        ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``, every detection with a
        score > 0, boxes in original image pixels.
    """
    _check_coco_dataset(dataset)
    records = []
    for batch in predict_batches(net, dataset, data_shape, mean, std, batch_size, ctx, progress,
                                 num_workers):
        records += image_records(batch, len(records), data_shape, dataset.classes)
    return coco_results(records, dataset.image_ids, dataset.category_ids)


def coco_results(records, image_ids, category_ids):
    """The detections of :class:`~gluon_ssd.evaluation.matching.ImageRecord` s as COCO results.

    Parameters
    ----------
    records : sequence of ImageRecord
        Boxes in original pixels; ``record.index`` indexes ``image_ids``.
    image_ids, category_ids : sequence
        The file's image id of each dataset index, category id of each class id.

    Returns
    -------
    list of dict
        ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`` (w, h rounded to 0.01).
    """
    results = []
    for record in records:
        for box, cls, score in zip(record.det_boxes, record.det_classes, record.det_scores):
            x1, y1, x2, y2 = (float(v) for v in box)
            results.append({"image_id": image_ids[record.index],
                            "category_id": category_ids[int(cls)],
                            "bbox": [x1, y1, round(x2 - x1, 2), round(y2 - y1, 2)],
                            "score": float(score)})
    return results


def _results_index(gt, results):
    """``gt.loadRes(results)``; an empty list (which loadRes cannot take) gives an empty index."""
    if results:
        # loadRes adds fields (area, id, segmentation) to the dicts it is given: give it copies.
        return gt.loadRes([dict(r, bbox=list(r["bbox"])) for r in results])
    res = COCO()
    res.dataset = {"images": list(gt.dataset["images"]), "annotations": [],
                   "categories": list(gt.dataset["categories"])}
    res.createIndex()
    return res


def coco_metric(gt, results, image_ids, category_ids, classes):
    """COCOeval of ``results`` against ``gt`` on ``image_ids`` and ``category_ids``.

    Parameters
    ----------
    gt : pycocotools.coco.COCO
        The ground truth (e.g. ``COCODataset.coco``).
    results : list of dict
        COCO results (:func:`coco_detections`).
    image_ids, category_ids : sequence
        The images and categories to score (``COCODataset.image_ids`` / ``.category_ids``).
    classes : sequence of str
        Names aligned with ``category_ids`` (keys of ``per_class``).

    Returns
    -------
    dict
        ``coco``: {name in :data:`COCO_STATS`: float}; ``per_class``: {class: {"AP", "AP50"}}
        (None for a class without ground truth); ``summary``: COCOeval's printed table.
    """
    with contextlib.redirect_stdout(io.StringIO()) as text:
        evaluator = COCOeval(gt, _results_index(gt, results), "bbox")
        evaluator.params.imgIds = list(image_ids)
        evaluator.params.catIds = list(category_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    stats = {name: float(v) for name, v in zip(COCO_STATS, evaluator.stats)}
    # precision: [T IoU thresholds, R recall points, K categories (sorted ids), A areas, M maxDets]
    precision = evaluator.eval["precision"]
    order = list(evaluator.params.catIds)          # COCOeval sorted and de-duplicated them
    per_class = {}
    for name, cid in zip(classes, category_ids):
        k = order.index(cid)
        per_class[name] = {"AP": _mean_valid(precision[:, :, k, 0, -1]),
                           "AP50": _mean_valid(precision[0, :, k, 0, -1])}
    return {"coco": stats, "per_class": per_class, "summary": text.getvalue().strip()}


def _mean_valid(values):
    values = values[values > -1]
    return float(np.mean(values)) if values.size else None

"""AP per object size band (COCO's small / medium / large), computed by pycocotools' COCOeval.

The bands are COCO's areas in ORIGINAL image pixels (:data:`SIZE_BANDS`, pycocotools'
``Params.areaRng``): small ``area < 32^2``, medium ``32^2 <= area < 96^2``, large the rest
(pycocotools includes both ends of a range, so a box of exactly ``32^2`` counts in small and
medium alike; so does :func:`count_boxes`). Areas are box areas ``(x2 - x1) * (y2 - y1)``, without
the +1 of old VOC code.

:func:`size_band_ap` scores any dataset's ground truth (VOC, YOLO, windows of tiles) and
detections: it writes both as in-memory COCO indexes and runs ``COCOeval`` (evaluate, accumulate)
on them, then reads AP over IoU 0.50:0.95 (``ap``, what ``COCOeval.stats`` calls APs / APm / APl)
and AP at IoU 0.5 (``ap50``) of each band off ``eval['precision']`` the way ``summarize`` averages
it. VOC's difficult boxes become COCO crowd boxes: neither a hit nor a miss, and a detection on
one is not a false positive. Dense images keep every detection: the last ``maxDets`` is raised to
the most detections of an image when that exceeds COCO's 100.
"""
import contextlib
import io

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

__all__ = ["SIZE_BANDS", "size_band_ap", "count_boxes", "bands_table"]

SIZE_BANDS = {"small": (0.0, 32.0 ** 2), "medium": (32.0 ** 2, 96.0 ** 2),
              "large": (96.0 ** 2, 1e5 ** 2)}
"""Band name -> (smallest, largest) box area in original pixels: pycocotools' ``areaRng``."""


def count_boxes(areas, band):
    """int: how many of ``areas`` fall in ``band`` (both ends included, as in COCOeval)."""
    low, high = SIZE_BANDS[band]
    areas = np.asarray(areas, dtype=np.float64)
    return int(((areas >= low) & (areas <= high)).sum())


def _coco_index(images, annotations, num_classes):
    coco = COCO()
    coco.dataset = {"images": images, "annotations": annotations,
                    "categories": [{"id": c + 1, "name": str(c)} for c in range(num_classes)]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _as_coco(ground_truth, detections):
    """``(gt COCO, results COCO, most detections of an image, areas of the scored boxes)``."""
    images, gts, results, areas = [], [], [], []
    num_classes = 1
    for k, (label, (ids, scores, boxes)) in enumerate(zip(ground_truth, detections), 1):
        images.append({"id": k, "width": 0, "height": 0})
        label = np.asarray(label, dtype=np.float64).reshape(-1, np.shape(label)[-1])
        for row in label:
            if row[4] < 0:
                continue      # padding, or a box to ignore
            w, h = row[2] - row[0], row[3] - row[1]
            crowd = int(label.shape[1] > 5 and row[5] > 0)
            gts.append({"id": len(gts) + 1, "image_id": k, "category_id": int(row[4]) + 1,
                        "bbox": [row[0], row[1], w, h], "area": w * h, "iscrowd": crowd})
            num_classes = max(num_classes, int(row[4]) + 1)
            if not crowd:
                areas.append(w * h)
        for cls, score, box in zip(np.ravel(ids), np.ravel(scores), np.reshape(boxes, (-1, 4))):
            if cls >= 0:
                w, h = box[2] - box[0], box[3] - box[1]
                results.append({"id": len(results) + 1, "image_id": k, "score": float(score),
                                "category_id": int(cls) + 1, "bbox": [*box[:2], w, h],
                                "area": w * h, "iscrowd": 0})
                num_classes = max(num_classes, int(cls) + 1)
    most = max([np.sum(np.ravel(d[0]) >= 0) for d in detections] + [0])
    return (_coco_index(images, gts, num_classes), _coco_index(images, results, num_classes),
            int(most), areas)


def _mean_valid(values):
    values = values[values > -1]
    return float(np.mean(values)) if values.size else None


def size_band_ap(ground_truth, detections):
    """AP and ground-truth count per size band (module docstring).

    Parameters
    ----------
    ground_truth : sequence of numpy.ndarray
        Per image ``(N, >=5)`` rows ``[x1, y1, x2, y2, class_id, difficult?]`` in original image
        pixels; rows with a negative class id (padding, ignored) are left out.
    detections : sequence of (ids, scores, boxes)
        Per image ``(K,)``, ``(K,)``, ``(K, 4)`` corners in original pixels (ids < 0 left out).

    Returns
    -------
    dict
        ``{band: {"ap": AP@[.5:.95] or None, "ap50": AP@0.5 or None, "num_boxes": int}}`` for
        each of :data:`SIZE_BANDS` (None: no ground truth in the band).
    """
    if len(ground_truth) != len(detections):
        raise ValueError(f"{len(ground_truth)} images of ground truth but {len(detections)} of "
                         "detections")
    gt, results, most, areas = _as_coco(ground_truth, detections)
    evaluator = COCOeval(gt, results, "bbox")
    evaluator.params.maxDets = [1, 10, max(100, most)]
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
    precision = evaluator.eval["precision"]   # [T, R, K, A, M]; A: all, small, medium, large
    out = {}
    for band in SIZE_BANDS:
        a = evaluator.params.areaRngLbl.index(band)
        count = count_boxes(areas, band)
        out[band] = {"ap": _mean_valid(precision[:, :, :, a, -1]) if count else None,
                     "ap50": _mean_valid(precision[0, :, :, a, -1]) if count else None,
                     "num_boxes": count}
    return out


def bands_table(bands):
    """The printed table: one line per band, ``AP``, ``AP50`` and the number of boxes."""
    def fmt(ap):
        return "   n/a" if ap is None else f"{ap:6.4f}"
    lines = ["size band  AP      AP50    boxes"]
    lines += [f"{name:<9}  {fmt(v['ap'])}  {fmt(v['ap50'])}  {v['num_boxes']:5d}"
              for name, v in bands.items()]
    return "\n".join(lines)

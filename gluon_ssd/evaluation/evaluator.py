"""Detection evaluation: VOC07 11-point and VOC area mAP with gluoncv's metrics, PR curves; COCO
AP with pycocotools (:mod:`gluon_ssd.evaluation.coco`).

Images go through :class:`~gluon_ssd.data.transforms.ValTransform`, the preprocessing of
:func:`gluon_ssd.inference.detect_images` too. VOC metrics compare boxes in the network-input frame:
images and ground truth are resized to ``data_shape`` by the same transform; IoU between
axis-aligned boxes does not change when both are scaled by the same (sx, sy), so the mAP equals
the one computed in the original image frame. The COCO metric maps detections back to original
image pixels (as detection does) and scores them with ``COCOeval`` against the annotation file.

Every metric also reports ``size_bands``: AP and the number of ground-truth boxes per COCO size
band (small < 32^2, medium < 96^2, large; box areas in original pixels,
:mod:`gluon_ssd.evaluation.size_bands`). ``predict`` replaces the batched network call by any
per-image detector in original pixels, e.g. sliced inference
(:func:`gluon_ssd.inference.predict_tiled`, which ``gluon-ssd eval --tile`` passes).
"""
import numpy as np
from gluoncv.utils.metrics.voc_detection import VOC07MApMetric, VOCMApMetric

from .predictions import image_records, predict_batches, predict_images
from .size_bands import size_bands

__all__ = ["evaluate", "detection_metrics", "METRICS"]

METRICS = ("voc", "coco")


def detection_metrics(class_names, iou_thresh=0.5):
    """``(voc07, voc)``: gluoncv's VOC07 11-point and VOC area mAP metrics for these classes."""
    class_names = list(class_names)
    return (VOC07MApMetric(iou_thresh=iou_thresh, class_names=class_names),
            VOCMApMetric(iou_thresh=iou_thresh, class_names=class_names))


def evaluate(net, dataset, data_shape, batch_size=16, ctx=None, mean=None, std=None,
             progress=True, num_workers=0, metric="voc", keep_images=False, predict=None):
    """Run ``net`` over ``dataset`` and compute mAP (``metric='voc'``) or COCO AP (``'coco'``).

    Parameters
    ----------
    net : SSD or callable
        Inference-mode detector: ``(B, 3, H, W)`` -> ``ids (B, K, 1)``, ``scores (B, K, 1)``,
        ``bboxes (B, K, 4)`` corners in input pixels (-1 padded).
    dataset : Dataset
        Items ``(image (H, W, 3) uint8, label (M, >=5))``, rows ``[x1, y1, x2, y2, class_id,
        difficult]`` (difficult optional); e.g. :class:`gluon_ssd.data.VOCDataset`.
    data_shape : tuple of 2 int
        Network input ``(height, width)``.
    mean, std : tuple of 3 float, optional
        Input normalisation; default ``net.mean`` / ``net.std``.
    metric : {'voc', 'coco'}, default 'voc'
        ``'coco'`` needs a :class:`gluon_ssd.data.COCODataset` (pycocotools' COCOeval against its
        annotation file).
    predict : callable, optional
        ``predict(image uint8 (H, W, 3) numpy) -> (ids (K,), scores (K,), boxes (K, 4))`` with
        boxes in original image pixels, called per image instead of ``net`` on batches (``net``
        then only gives ``classes``, ``mean`` and ``std``).
    keep_images : bool, default False
        Also return every image's ground truth and detections in original pixels (``images``),
        what :mod:`gluon_ssd.evaluation.report` analyses, from the same pass.

    Returns
    -------
    dict
        ``'voc'``: ``voc07_map`` and ``voc_map`` (floats), ``per_class`` (class -> {voc07_ap,
        voc_ap}), ``pr`` (class -> {precision, recall} lists for plotting), ``num_images``.
        ``'coco'``: ``coco`` (the 12 COCOeval stats by name: ``AP, AP50, AP75, APs, APm, APl,
        AR1, AR10, AR100, ARs, ARm, ARl``), ``per_class`` (class -> {AP, AP50}), ``summary``
        (COCOeval's table), ``results`` (the COCO results list scored), ``num_images``.
        Both: ``size_bands`` ({small, medium, large: {ap, ap50, num_boxes}}).
        With ``keep_images``: ``images``, a list of
        :class:`~gluon_ssd.evaluation.matching.ImageRecord` in dataset order.
    """
    import mxnet as mx
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    ctx = ctx or mx.cpu()
    mean = mean if mean is not None else net.mean
    std = std if std is not None else net.std
    if metric == "coco":
        from .coco import _check_coco_dataset, coco_metric, coco_results
        _check_coco_dataset(dataset)
    classes = list(getattr(dataset, "classes", None) or net.classes)
    voc07, voc = detection_metrics(classes)
    records, count = [], 0
    batches = predict_batches(net, dataset, data_shape, mean, std, batch_size, ctx, progress,
                              num_workers) if predict is None else \
        predict_images(predict, dataset, data_shape, progress)
    for batch in batches:
        if metric == "voc":
            ids, scores, bboxes, label, _ = batch
            difficult = label[:, :, 5] if label.shape[-1] > 5 else None
            for each in (voc07, voc):
                each.update(bboxes, ids[..., 0], scores[..., 0], label[:, :, :4], label[:, :, 4],
                            difficult)
        records += image_records(batch, count, data_shape, classes)
        count += batch[0].shape[0]
    if metric == "coco":
        results = coco_results(records, dataset.image_ids, dataset.category_ids)
        record = coco_metric(dataset.coco, results, dataset.image_ids, dataset.category_ids,
                             dataset.classes)
        result = dict(record, results=results, num_images=count)
    else:
        result = _voc_result(voc07, voc, classes, count)
    result["size_bands"] = size_bands(records, len(classes))
    if keep_images:
        result["images"] = records
    return result


def _voc_result(voc07, voc, classes, count):
    """The ``'voc'`` answer of :func:`evaluate` from its two filled metrics."""
    names07, aps07 = voc07.get()
    _, aps = voc.get()
    recalls, precisions = voc._recall_prec()  # pylint: disable=protected-access
    per_class, pr = {}, {}
    for k, name in enumerate(classes):
        per_class[name] = {"voc07_ap": _num(aps07[k]), "voc_ap": _num(aps[k])}
        rec = recalls[k] if k < len(recalls) else None
        prec = precisions[k] if k < len(precisions) else None
        if rec is None or prec is None:   # no ground truth of the class: no curve
            rec = prec = None
        pr[name] = {"recall": [] if rec is None else np.nan_to_num(rec).tolist(),
                    "precision": [] if prec is None else np.nan_to_num(prec).tolist()}
    assert names07[-1] == "mAP"
    return {"voc07_map": _num(aps07[-1]), "voc_map": _num(aps[-1]), "per_class": per_class,
            "pr": pr, "num_images": count}


def _num(value):
    """float, with NaN (a class without ground truth) as None for JSON."""
    value = float(value)
    return None if np.isnan(value) else value

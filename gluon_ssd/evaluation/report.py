"""One evaluation report a person can act on: ``report.json``, ``report.html`` and its pictures.

:func:`analyse` turns :func:`~gluon_ssd.evaluation.evaluate`'s answer (with ``keep_images=True``)
into the diagnosis: the confusion matrix (:mod:`.confusion`), TIDE's error breakdown
(:mod:`.errors`), AP per COCO size band (:mod:`.size_bands`), AP50 and precision-recall per class
on the same matching, and the images with the most false positives and the most missed objects.
:func:`write_report` writes it to a folder:

- ``report.json``: ``metrics`` (the evaluator's: VOC07 / VOC mAP or COCO's 12 stats),
  ``per_class``, ``confusion`` {labels_true, labels_pred, counts, normalized, iou_thresh,
  score_thresh}, ``errors`` {classification, localization, both, duplicate, background, missed}
  each {count, dAP}, ``error_settings``, ``size_bands``, ``pr``, ``worst``, ``files``;
- ``report.html``: the same as a static page, its pictures beside it (no network needed);
- ``confusion_matrix.png``, ``error_breakdown.png``, ``pr_curves.png``,
  ``worst_false_positives.png``, ``worst_missed.png``.
"""
import os

import numpy as np

from .. import viz
from ..utils.fileio import atomic_write, atomic_write_json
from .confusion import DEFAULT_IOU_THRESH, DEFAULT_SCORE_THRESH, confusion_matrix
from .errors import ERROR_TYPES, error_breakdown
from .report_html import render_html
from .size_bands import size_bands

__all__ = ["FILES", "analyse", "write_report"]

FILES = {"json": "report.json", "html": "report.html", "confusion": "confusion_matrix.png",
         "errors": "error_breakdown.png", "pr": "pr_curves.png",
         "worst_false_positives": "worst_false_positives.png",
         "worst_missed": "worst_missed.png"}
"""What :func:`write_report` writes, by role."""

_METRIC_KEYS = ("voc07_map", "voc_map", "coco")


def _records(result):
    records = result.get("images")
    if records is None:
        raise ValueError("the evaluation holds no per-image detections: call "
                         "evaluate(..., keep_images=True)")
    return records


def _worst(counts, records, num):
    """The ``num`` records with the largest positive ``counts``: [{index, count}] (stable)."""
    order = sorted((i for i, c in enumerate(counts) if c > 0), key=lambda i: -counts[i])
    return [{"index": int(records[i].index), "count": int(counts[i])} for i in order[:num]]


def _per_class(result, errors, records, class_names):
    """{class: {num_gt, num_detections, AP50 (our matching), the evaluator's per-class APs}}.

    The evaluator's COCO entries (COCOeval's AP, AP50) are named ``coco_AP``, ``coco_AP50``;
    its VOC ones keep their names (``voc07_ap``, ``voc_ap``).
    """
    prefix = "coco_" if "coco" in result else ""
    num_gt = np.zeros(len(class_names), np.int64)
    num_det = np.zeros(len(class_names), np.int64)
    for r in records:
        np.add.at(num_gt, r.gt_classes[~r.gt_ignore], 1)
        np.add.at(num_det, r.det_classes, 1)
    table = {}
    for k, name in enumerate(class_names):
        entry = {"num_gt": int(num_gt[k]), "num_detections": int(num_det[k]),
                 "AP50": errors["per_class"].get(k)}
        theirs = result.get("per_class", {}).get(name, {})
        entry.update({prefix + k: v for k, v in theirs.items()})
        table[name] = entry
    return table


def analyse(result, class_names, iou_thresh=DEFAULT_IOU_THRESH,
            score_thresh=DEFAULT_SCORE_THRESH, num_worst=8):
    """The diagnosis of an evaluation, JSON-ready (module docstring).

    Parameters
    ----------
    result : dict
        :func:`~gluon_ssd.evaluation.evaluate`'s answer with ``images`` (``keep_images=True``).
    class_names : sequence of str
    iou_thresh, score_thresh : float
        The confusion matrix's and the galleries' match IoU and least detection score.
    num_worst : int, default 8
        Images per gallery.

    Returns
    -------
    dict
        The content of ``report.json`` (without ``files``).
    """
    records, names = _records(result), list(class_names)
    confusion = confusion_matrix(records, names, iou_thresh, score_thresh)
    per_image = confusion.pop("per_image")
    errors = error_breakdown(records)
    return {
        "num_images": len(records),
        "metrics": {k: result[k] for k in _METRIC_KEYS if k in result},
        "AP50": errors["AP50"],
        "per_class": _per_class(result, errors, records, names),
        "confusion": confusion,
        "errors": {k: errors[k] for k in ERROR_TYPES},
        "error_settings": {"foreground_iou": errors["foreground_iou"],
                           "background_iou": errors["background_iou"],
                           "AP": "AP50, COCO's 101-point interpolation, mean over classes"},
        "size_bands": size_bands(records, len(names)),
        "pr": {names[k]: {"precision": np.round(p, 4).tolist(), "recall": np.round(r, 4).tolist()}
               for k, (p, r) in sorted(errors["pr"].items()) if k < len(names)},
        "worst": {"false_positives": _worst(per_image["false_positives"], records, num_worst),
                  "missed": _worst(per_image["missed"], records, num_worst)},
    }


def _image_name(dataset, index):
    path = getattr(dataset, "image_path", None)
    return os.path.basename(path(index)) if callable(path) else f"image {index}"


def _gallery(worst, records, dataset, names, what, score_thresh):
    """The gallery figure of ``worst`` ([{index, count}]) images."""
    by_index = {r.index: r for r in records}
    panels = []
    for item in worst:
        r = by_index[item["index"]]
        keep = ~r.gt_ignore
        panels.append({"image": dataset[r.index][0], "gt_boxes": r.gt_boxes[keep],
                       "gt_classes": r.gt_classes[keep], "det_boxes": r.det_boxes,
                       "det_classes": r.det_classes, "det_scores": r.det_scores,
                       "title": f"{_image_name(dataset, r.index)}: {item['count']} {what}"})
    return viz.plot_gallery(panels, names, score_thresh=score_thresh,
                            title=f"images with the most {what} (score >= {score_thresh})")


def _figures(report, records, dataset, names):
    """{role: Figure} of the report's pictures."""
    confusion = report["confusion"]
    ax = viz.plot_confusion_matrix(confusion["counts"], confusion["labels_true"],
                                   confusion["labels_pred"], confusion["normalized"])
    ax.set_title(f"confusion matrix (IoU >= {confusion['iou_thresh']}, "
                 f"score >= {confusion['score_thresh']})")
    figures = {"confusion": ax.figure, "errors": viz.plot_error_breakdown(report["errors"]).figure}
    from matplotlib.figure import Figure
    pr_ax = Figure(figsize=(7, 5), layout="tight").add_subplot()
    pr = [report["pr"].get(n, {"precision": [], "recall": []}) for n in names]
    viz.plot_pr_curves([p["precision"] for p in pr], [p["recall"] for p in pr], names,
                       aps=[np.nan if report["per_class"][n]["AP50"] is None
                            else report["per_class"][n]["AP50"] for n in names], ax=pr_ax)
    pr_ax.set_title(f"precision-recall at IoU 0.5 (AP50 {report['AP50']:.3f})")
    figures["pr"] = pr_ax.figure
    score = confusion["score_thresh"]
    figures["worst_false_positives"] = _gallery(report["worst"]["false_positives"], records,
                                                dataset, names, "false positives", score)
    figures["worst_missed"] = _gallery(report["worst"]["missed"], records, dataset, names,
                                       "missed objects", score)
    return figures


def write_report(out, result, dataset, class_names, iou_thresh=DEFAULT_IOU_THRESH,
                 score_thresh=DEFAULT_SCORE_THRESH, num_worst=8, meta=None):
    """Write ``report.json``, ``report.html`` and their pictures (:data:`FILES`) into ``out``.

    Parameters
    ----------
    out : str
        Folder (created if missing).
    result : dict
        :func:`~gluon_ssd.evaluation.evaluate`'s answer with ``images`` (``keep_images=True``).
    dataset : Dataset
        The evaluated dataset; items ``(image, label)``, images of the galleries are read from it.
    class_names : sequence of str
    iou_thresh, score_thresh, num_worst
        See :func:`analyse`.
    meta : dict, optional
        What was evaluated (source, data, input shape): shown first, stored under ``meta``.

    Returns
    -------
    dict
        The record written to ``report.json``.
    """
    names = list(class_names)
    report = analyse(result, names, iou_thresh, score_thresh, num_worst)
    report = dict({"meta": dict(meta or {})}, **report)
    for item in report["worst"]["false_positives"] + report["worst"]["missed"]:
        item["image"] = _image_name(dataset, item["index"])
    os.makedirs(out, exist_ok=True)
    for role, fig in _figures(report, _records(result), dataset, names).items():
        viz.save_figure(fig, os.path.join(out, FILES[role]), dpi=80)
    report["files"] = {role: name for role, name in FILES.items()}
    atomic_write_json(report, os.path.join(out, FILES["json"]))
    page = render_html(report, FILES)

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(page)

    atomic_write(os.path.join(out, FILES["html"]), write)
    return report

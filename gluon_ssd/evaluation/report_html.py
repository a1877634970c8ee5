"""``report.html``: the evaluation report as one static page (pictures beside it, no network).

:func:`render_html` only formats a :func:`~gluon_ssd.evaluation.report.analyse` record; every
number on the page is one of ``report.json``'s.
"""
from html import escape

__all__ = ["render_html"]

_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #ddd; }
p.note { color: #555; font-size: 0.9em; max-width: 60em; }
"""

_ERROR_TEXT = {
    "classification": "right box (IoU >= 0.5 with an object), wrong class",
    "localization": "right class, box off (0.1 <= IoU <= 0.5)",
    "both": "wrong class and box off",
    "duplicate": "a second detection of an object already found",
    "background": "a detection where there is no object (IoU <= 0.1)",
    "missed": "an object no detection found",
}


def _number(value, digits=4):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return escape(str(value))


def _table(header, rows):
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_number(v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(name, alt):
    return f'<p><img src="{escape(name)}" alt="{escape(alt)}"></p>'


def _summary(report):
    rows = [(k, v) for k, v in report.get("meta", {}).items()]
    rows.append(("images", report["num_images"]))
    metrics = report["metrics"]
    for key in ("voc07_map", "voc_map"):
        if key in metrics:
            rows.append((key, metrics[key]))
    for key, value in metrics.get("coco", {}).items():
        rows.append((f"COCO {key}", value))
    rows.append(("AP50 (the matching below)", report["AP50"]))
    return "<h2>Summary</h2>" + _table(("", "value"), rows)


def _errors(report, files):
    rows = [(k, report["errors"][k]["count"], report["errors"][k]["dAP"], _ERROR_TEXT[k])
            for k in _ERROR_TEXT]
    settings = report["error_settings"]
    return ("<h2>Error breakdown</h2>" + _image(files["errors"], "error breakdown")
            + _table(("type", "count", "dAP", "meaning"), rows)
            + f'<p class="note">TIDE\'s error types (foreground IoU {settings["foreground_iou"]}, '
              f'background IoU {settings["background_iou"]}) over all detections. dAP: how much '
              f'AP50 ({report["AP50"]:.4f}) would gain if every error of that type alone were '
              f'fixed. The largest dAP is where to work first.</p>')


def _confusion(report, files):
    c = report["confusion"]
    rows = [[true] + list(counts) for true, counts in zip(c["labels_true"], c["counts"])]
    return ("<h2>Confusion matrix</h2>" + _image(files["confusion"], "confusion matrix")
            + _table(["true \\ predicted"] + c["labels_pred"], rows)
            + f'<p class="note">Detections scoring at least {c["score_thresh"]}, matched at IoU '
              f'{c["iou_thresh"]}. A class row sums to its ground-truth boxes, a class column to '
              f'its detections; the background row holds false alarms, the missed column '
              f'objects no detection found.</p>')


def _per_class(report):
    table = report["per_class"]
    extra = sorted({k for entry in table.values() for k in entry}
                   - {"num_gt", "num_detections", "AP50"})
    rows = [[name, e["num_gt"], e["num_detections"], e["AP50"]] + [e.get(k) for k in extra]
            for name, e in table.items()]
    return "<h2>AP per class</h2>" + _table(
        ["class", "boxes", "detections", "AP50"] + extra, rows)


def _size_bands(report):
    rows = [(band, b["num_boxes"], b["ap"], b["ap50"]) for band, b in report["size_bands"].items()]
    return ("<h2>AP per object size</h2>" + _table(("band", "boxes", "AP", "AP50"), rows)
            + '<p class="note">COCO\'s area bands in original image pixels: small &lt; 32², '
              'medium &lt; 96², large; AP over IoU 0.50:0.95 and AP50 by pycocotools restricted '
              'to each band.</p>')


def _worst(report, files):
    parts = ["<h2>Worst cases</h2>"]
    for key, what in (("false_positives", "false positives"), ("missed", "missed objects")):
        parts.append(f"<h3>Most {what}</h3>")
        parts.append(_image(files[f"worst_{key}"], f"images with the most {what}"))
        parts.append(_table(("image", what), [(w.get("image", w["index"]), w["count"])
                                               for w in report["worst"][key]]))
    parts.append('<p class="note">Ground truth dashed, detections solid.</p>')
    return "".join(parts)


def render_html(report, files):
    """The page of a report record; ``files`` {role: file name} of its pictures (relative)."""
    sections = [_summary(report), _errors(report, files), _confusion(report, files),
                _per_class(report), _size_bands(report),
                "<h2>Precision-recall</h2>" + _image(files["pr"], "precision-recall curves"),
                _worst(report, files)]
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>gluon_ssd evaluation report</title><style>{_STYLE}</style></head>"
            "<body><h1>Evaluation report</h1>" + "\n".join(sections) + "</body></html>\n")

"""What detection leaves behind: a picture per image and one JSON file for a run."""
import json
import math

import numpy as np

from ..utils.fileio import atomic_write
from ..viz import plot_detections, save_figure

__all__ = ["draw_detections", "write_detections"]


def draw_detections(result, path, class_names, dpi=100):
    """Save a picture of ``result.image`` with its detections (boxes, class names, scores).

    Parameters
    ----------
    result : ImageDetections
        A result without ``error`` (its ``image`` holds the drawing copy).
    path : str
        Output file; the format comes from the extension.
    class_names : sequence of str
        All class names, indexed by ``class_id`` (colours stay the same from image to image).
    dpi : int, default 100
        The picture has the drawing copy's size in pixels.

    Returns
    -------
    str
        ``path``.
    """
    # A pyplot-free Figure: drawing files must not switch the caller's backend (a notebook's);
    # matplotlib is imported here, when drawing: it is slow to import.
    from matplotlib.figure import Figure

    if result.error is not None or result.image is None:
        raise ValueError(f"nothing to draw for {result.file}: "
                         f"{result.error or 'no image kept (image=None)'}")
    h, w = result.image.shape[:2]
    scale = np.array([w / result.width, h / result.height] * 2)
    dets = result.detections
    boxes = np.array([d["box"] for d in dets], np.float64).reshape(-1, 4) * scale
    scores = np.array([d["score"] for d in dets], np.float64)
    ids = np.array([d["class_id"] for d in dets], np.float64)
    fig = Figure(figsize=(w / dpi, h / dpi), dpi=dpi)
    ax = fig.add_axes([0, 0, 1, 1])
    plot_detections(result.image, boxes, scores, ids, list(class_names), thresh=-math.inf, ax=ax)
    ax.set_axis_off()
    return save_figure(fig, path, dpi=dpi)


def write_detections(results, path, **meta):
    """Write ``{**meta, 'images': [...], 'errors': [...]}`` as JSON, atomically.

    ``images`` holds :meth:`ImageDetections.to_dict` of the readable files, ``errors``
    ``{'file', 'error'}`` of the others. Returns the record written.
    """
    record = dict(meta)
    record["images"] = [r.to_dict() for r in results if r.error is None]
    record["errors"] = [r.to_dict() for r in results if r.error is not None]

    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(record, f, indent=1)

    atomic_write(path, write)
    return record

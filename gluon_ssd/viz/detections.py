"""Detections drawn over their image (boxes by GluonCV's ``plot_bbox``)."""
import numpy as np
from gluoncv.utils import viz as gcv_viz

from .style import _as_image, _as_numpy, _class_color, _new_axes


def _boxes(bboxes):
    """(K, 4) float array from (K, 4) or (1, K, 4)."""
    boxes = _as_numpy(bboxes, "bboxes")
    if boxes.ndim == 3 and boxes.shape[0] == 1:
        boxes = boxes[0]
    if boxes.ndim == 3:
        raise ValueError(f"bboxes holds {boxes.shape[0]} images (shape {boxes.shape}); pass one "
                         f"image's boxes, e.g. bboxes[i]")
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"bboxes must be (K, 4) or (1, K, 4) corners (x1, y1, x2, y2), got shape "
                         f"{boxes.shape}")
    return boxes.astype(np.float64)


def _per_box(values, num, what):
    """(K,) float array from (K,), (K, 1) or (1, K, 1)."""
    arr = _as_numpy(values, what)
    shape = arr.shape
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or len(arr) != num:
        raise ValueError(f"{what} must be (K,), (K, 1) or (1, K, 1) with K={num} like bboxes, got "
                         f"shape {shape}")
    return arr.astype(np.float64)


def plot_detections(image, bboxes, scores=None, ids=None, class_names=None, thresh=0.5, ax=None,
                    linewidth=2.0, fontsize=9):
    """Draw one image's detections: a box per kept row, labelled with class name and score.

    Parameters
    ----------
    image : numpy.ndarray or NDArray
        ``(H, W, 3)`` RGB (or ``(H, W)`` grey), uint8 in [0, 255] or float (in [0, 1] if its maximum
        is at most 1, else in [0, 255]).
    bboxes : array-like or NDArray
        ``(K, 4)`` or ``(1, K, 4)`` corners ``(x1, y1, x2, y2)`` in image pixels: one image of the
        detector's ``(B, K, 4)`` output.
    scores : array-like or NDArray, optional
        ``(K,)``, ``(K, 1)`` or ``(1, K, 1)`` confidences.
    ids : array-like or NDArray, optional
        Same shapes: class ids, ``-1`` for padding.
    class_names : sequence of str, optional
        Names for the ids; without them labels show the id.
    thresh : float, default 0.5
        Rows with ``score < thresh`` are not drawn (only when ``scores`` is given).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure otherwise.
    linewidth, fontsize : float
        Box line width and label font size.

    Returns
    -------
    matplotlib.axes.Axes
        One ``Rectangle`` patch and (with ids or scores) one text label per drawn box. Padding rows
        (id ``-1``, or all four coordinates ``-1``) are never drawn. Each class keeps its colour
        from call to call.
    """
    img = _as_image(image)
    boxes = _boxes(bboxes)
    num = len(boxes)
    scores = None if scores is None else _per_box(scores, num, "scores")
    ids = None if ids is None else _per_box(ids, num, "ids")
    keep = ~np.all(boxes == -1, axis=1)
    if ids is not None:
        keep &= ids >= 0
    if scores is not None:
        keep &= scores >= thresh  # NaN scores compare False: not drawn
    boxes = boxes[keep]
    scores = None if scores is None else scores[keep]
    ids = None if ids is None else np.round(ids[keep])
    if class_names is not None and ids is not None and len(ids) and ids.max() >= len(class_names):
        raise ValueError(f"class id {int(ids.max())} has no name: {len(class_names)} class_names "
                         f"given")
    classes = [-1] if ids is None else sorted({int(c) for c in ids})
    colors = {c: _class_color(c) for c in classes}
    ax = _new_axes(ax)
    return gcv_viz.plot_bbox(img, boxes, scores=scores, labels=ids, thresh=thresh,
                             class_names=class_names, colors=colors, ax=ax, linewidth=linewidth,
                             fontsize=fontsize)

"""A gallery of images with their ground truth and their detections drawn in two styles.

Ground truth: dashed boxes in the class colour, labelled ``GT name`` below the box's top-left
corner. Detections: solid boxes (:func:`~gluon_ssd.viz.plot_detections`), labelled ``name score``
above it. Drawn on a pyplot-free ``Figure``.
"""
import math

import numpy as np

from .detections import plot_detections
from .style import _as_image, _class_color


def _draw_ground_truth(ax, boxes, classes, class_names):
    from matplotlib.patches import Rectangle
    for box, cls in zip(np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(classes)):
        x1, y1, x2, y2 = box
        color = _class_color(int(cls))
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color,
                               linewidth=1.8, linestyle="--"))
        ax.text(x1 + 1, y1 + 1, f"GT {class_names[int(cls)]}", va="top", fontsize=7,
                color="black", bbox={"facecolor": "white", "alpha": 0.7, "pad": 1,
                                     "edgecolor": color, "linestyle": "--"})


MAX_DRAWN = 25
"""Detections drawn per panel at most (the highest-scoring): more hide the image."""


def _top(panel, score_thresh):
    """(boxes, scores, classes) of the panel's at most MAX_DRAWN best detections kept."""
    boxes = np.asarray(panel["det_boxes"], np.float64).reshape(-1, 4)
    scores = np.asarray(panel["det_scores"], np.float64).reshape(-1)
    classes = np.asarray(panel["det_classes"], np.float64).reshape(-1)
    keep = np.flatnonzero(scores >= score_thresh)
    keep = keep[np.argsort(-scores[keep], kind="mergesort")][:MAX_DRAWN]
    return boxes[keep], scores[keep], classes[keep]


def plot_gallery(panels, class_names, score_thresh=0.5, ncols=4, title=None):
    """One figure with a panel per image: ground truth dashed, detections solid.

    Parameters
    ----------
    panels : sequence of dict
        ``image`` ((H, W, 3) RGB uint8 array or NDArray), ``gt_boxes`` ((M, 4) corners in the
        image's pixels), ``gt_classes`` ((M,)), ``det_boxes`` ((K, 4)), ``det_classes`` ((K,)),
        ``det_scores`` ((K,)), optional ``title``.
    class_names : sequence of str
    score_thresh : float, default 0.5
        Detections scoring lower are not drawn (nor more than :data:`MAX_DRAWN` a panel).
    ncols : int, default 4
    title : str, optional
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per panel (at least one: an empty gallery says so).
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    names = list(class_names)
    count = max(len(panels), 1)
    ncols = min(ncols, count)
    nrows = math.ceil(count / ncols)
    fig = Figure(figsize=(4.2 * ncols, 4.2 * nrows + 0.6))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax in axes:
        ax.set_axis_off()
    if not panels:
        axes[0].text(0.5, 0.5, "no image to show", ha="center", va="center")
    for ax, panel in zip(axes, panels):
        image = _as_image(panel["image"])
        boxes, scores, classes = _top(panel, score_thresh)
        plot_detections(image, boxes, scores, classes, class_names=names, thresh=score_thresh,
                        ax=ax, linewidth=1.8, fontsize=7)
        _draw_ground_truth(ax, panel["gt_boxes"], panel["gt_classes"], names)
        ax.set_title(panel.get("title", ""), fontsize=9)
        ax.set_axis_off()
    fig.legend(handles=[Line2D([], [], color="black", linestyle="--", label="ground truth"),
                        Line2D([], [], color="black",
                               label=f"detection (score >= {score_thresh})")],
               loc="lower center", ncol=2, fontsize=9, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig

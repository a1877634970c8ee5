"""Pictures of what an SSD sees: detections, anchors over their feature-map grid, backbone taps,
training logs and precision-recall curves.

Every function draws with matplotlib, returns what it drew on (``Axes`` or ``Figure``) and never
calls ``plt.show()``; :func:`save_figure` writes a figure atomically. Boxes are drawn by GluonCV's
:func:`gluoncv.utils.viz.plot_bbox` and images by :func:`gluoncv.utils.viz.plot_image`.

One module a kind of picture: ``detections``, ``anchors`` (and the feature-map sizes and anchors
they are drawn from), ``taps``, ``curves`` (training logs, precision-recall), ``diagnostics``
(confusion matrix, error breakdown), ``gallery`` (ground truth and detections of several images);
``style`` holds what they share.
"""
from .anchors import feature_map_sizes, layer_anchors, plot_anchor_sample, plot_anchors
from .curves import plot_pr_curves, plot_training_log
from .detections import plot_detections
from .diagnostics import plot_confusion_matrix, plot_error_breakdown
from .gallery import plot_gallery
from .style import save_figure
from .taps import plot_taps

__all__ = ["plot_detections", "feature_map_sizes", "layer_anchors", "plot_anchors",
           "plot_anchor_sample", "plot_taps", "plot_training_log", "plot_pr_curves",
           "plot_confusion_matrix", "plot_error_breakdown", "plot_gallery", "save_figure"]

"""Pictures of an evaluation's diagnosis: the confusion-matrix heatmap and the error breakdown.

Drawn on a pyplot-free ``Figure`` unless an ``ax`` is given (a notebook passes one of
``plt.subplots``), so writing a report never switches the caller's backend.
"""
import numpy as np

from .style import _as_numpy

ERROR_LABELS = {"classification": "Cls", "localization": "Loc", "both": "Both",
                "duplicate": "Dupe", "background": "Bkg", "missed": "Miss"}


def _axes(ax, figsize):
    """``ax``, or the axes of a new pyplot-free figure laid out to fit its labels."""
    if ax is not None:
        return ax
    from matplotlib.figure import Figure
    return Figure(figsize=figsize, layout="tight").add_subplot()


def plot_confusion_matrix(counts, labels_true, labels_pred, normalized=None, ax=None):
    """Heatmap of a detection confusion matrix.

    Parameters
    ----------
    counts : array-like
        ``(R, C)`` counts, rows true (classes + background), columns predicted (classes + missed).
    labels_true, labels_pred : sequence of str
        ``R`` row and ``C`` column names.
    normalized : array-like, optional
        ``(R, C)`` row-normalized values that colour the cells (default ``counts`` divided by
        their row sums); every cell shows its count.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One image (the heatmap) and one text per cell.
    """
    counts = _as_numpy(counts, "counts")
    if counts.shape != (len(labels_true), len(labels_pred)):
        raise ValueError(f"counts has shape {counts.shape}, labels give "
                         f"({len(labels_true)}, {len(labels_pred)})")
    if normalized is None:
        rows = counts.sum(axis=1, keepdims=True)
        normalized = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    normalized = _as_numpy(normalized, "normalized")
    side = max(4.0, 0.55 * len(labels_pred) + 2.5)
    ax = _axes(ax, (side, side * 0.9))
    image = ax.imshow(normalized, cmap="Blues", vmin=0, vmax=1)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the row")
    small = len(labels_pred) <= 30
    for (i, j), value in np.ndenumerate(counts):
        if small and value:
            ax.text(j, i, f"{int(value)}", ha="center", va="center", fontsize=8,
                    color="white" if normalized[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(labels_pred)))
    ax.set_xticklabels(labels_pred, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels_true)))
    ax.set_yticklabels(labels_true, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("ground truth")
    return ax


def plot_error_breakdown(errors, ax=None):
    """Bar chart of TIDE's six error types: dAP per type, the count on each bar.

    Parameters
    ----------
    errors : dict
        ``{type: {"count": int, "dAP": float}}`` for the six types of
        :data:`gluon_ssd.evaluation.errors.ERROR_TYPES`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Six bars, in the order classification, localization, both, duplicate, background, missed.
    """
    missing = [k for k in ERROR_LABELS if k not in errors]
    if missing:
        raise ValueError(f"errors lacks {missing}; expected {list(ERROR_LABELS)}")
    ax = _axes(ax, (7, 4))
    keys = list(ERROR_LABELS)
    gains = [100 * float(errors[k]["dAP"]) for k in keys]
    bars = ax.bar([ERROR_LABELS[k] for k in keys], gains,
                  color=[f"C{n}" for n in range(len(keys))])
    for bar, key in zip(bars, keys):
        ax.annotate(f"{errors[key]['count']}", (bar.get_x() + bar.get_width() / 2,
                                                bar.get_height()),
                    ha="center", va="bottom", fontsize=8, xytext=(0, 2),
                    textcoords="offset points")
    ax.set_ylabel("dAP50 (points gained if fixed)")
    ax.set_ylim(0, max(gains + [1.0]) * 1.15)
    ax.set_title("error breakdown (TIDE); count above each bar")
    return ax

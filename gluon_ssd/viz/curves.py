"""Training logs (``log.csv`` or columns) and precision-recall curves."""
import csv
import math
import os

import numpy as np

from .style import _as_numpy, _class_color, _new_axes


def _read_log(log):
    """``{column: float array}`` of the numeric columns of a CSV file or a dict of columns."""
    if isinstance(log, dict):
        raw = {str(k): list(np.atleast_1d(np.asarray(v, dtype=object))) for k, v in log.items()}
        lengths = {k: len(v) for k, v in raw.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"log columns have different lengths: {lengths}")
    elif isinstance(log, (str, os.PathLike)):
        with open(log, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        rows = [r for r in rows if any(cell.strip() for cell in r)]
        if not rows:
            raise ValueError(f"{os.fspath(log)!r} is empty: expected a header row and data rows")
        header, data = rows[0], rows[1:]
        for n, row in enumerate(data):
            if len(row) != len(header):
                raise ValueError(f"{os.fspath(log)!r} data row {n + 1} has {len(row)} fields, the "
                                 f"header {len(header)}")
        raw = {name.strip(): [row[c] for row in data] for c, name in enumerate(header)}
    else:
        raise TypeError(f"log must be a CSV path or a dict of columns, got {type(log).__name__}")
    columns = {}
    for name, values in raw.items():
        try:
            arr = np.array([np.nan if v is None or (isinstance(v, str) and not v.strip())
                            else float(v) for v in values], dtype=np.float64)
        except (TypeError, ValueError):
            continue  # text column (a time stamp, a note): not plotted
        if len(arr) and not np.all(np.isnan(arr)):
            columns[name] = arr
    if not any(len(v) for v in raw.values()):
        raise ValueError("the log has no data rows")
    return columns, max(len(v) for v in raw.values())


def plot_training_log(log, ax=None):
    """Training curves from a CSV log (or a dict of columns): every numeric column vs epoch.

    Parameters
    ----------
    log : str, os.PathLike or dict
        A CSV file with a header row (e.g. ``epoch,train_loss,cls_loss,box_loss,val_map``) or
        ``{column: sequence}``. Empty cells are gaps; columns that are not numbers are skipped.
        Without an ``epoch`` column rows are numbered 1, 2, ...
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    (matplotlib.axes.Axes, matplotlib.axes.Axes or None)
        The left axes with every column whose name does not contain ``'map'`` (losses), and the
        right axes (``twinx``, y from 0 to 1) with those that do, or None when there are none.
        One line per column, with markers so that a one-row log shows points.
    """
    # matplotlib is imported when drawing, not with the package: it is slow to import.
    from matplotlib.ticker import MaxNLocator
    columns, num_rows = _read_log(log)
    epoch_key = next((k for k in columns if k.lower() == "epoch"), None)
    x = columns.pop(epoch_key) if epoch_key else np.arange(1, num_rows + 1, dtype=np.float64)
    if not columns:
        raise ValueError("the log has no numeric column to plot besides the epoch")
    ax = _new_axes(ax)
    map_cols = [k for k in columns if "map" in k.lower()]
    loss_cols = [k for k in columns if k not in map_cols]
    for n, name in enumerate(loss_cols):
        ax.plot(x, columns[name], marker="o", markersize=4, color=f"C{n % 10}", label=name)
    map_ax = None
    if map_cols:
        map_ax = ax.twinx()
        for n, name in enumerate(map_cols, start=len(loss_cols)):
            map_ax.plot(x, columns[name], marker="s", markersize=4, linestyle="--",
                        color=f"C{n % 10}", label=name)
        map_ax.set_ylim(0, 1)
        map_ax.set_ylabel("mAP")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    seen = np.unique(x[np.isfinite(x)])
    if len(seen) == 1:  # one row: whole epochs around it, not a +-5% sliver
        ax.set_xlim(seen[0] - 1, seen[0] + 1)
    ax.set_xlabel(epoch_key or "row")
    ax.set_ylabel("loss")
    handles, labels = ax.get_legend_handles_labels()
    if map_ax is not None:
        more = map_ax.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    (map_ax or ax).legend(handles, labels, fontsize="small", loc="upper right")
    return ax, map_ax


def plot_pr_curves(precisions, recalls, class_names, aps=None, ax=None):
    """Precision-recall curves, one line per class.

    Parameters
    ----------
    precisions, recalls : sequence of array-like
        Per class, precision and recall at each rank (equal lengths), e.g. from
        ``gluoncv.utils.metrics.VOCMApMetric._recall_prec()``. A class whose arrays are None or
        empty (no ground truth) is left out.
    class_names : sequence of str
        One per class.
    aps : sequence of float, optional
        Per class average precision, shown in the legend (NaN: ``n/a``).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One line per class that has data, recall on x and precision on y, both 0..1.
    """
    names = list(class_names)
    if len(precisions) != len(names) or len(recalls) != len(names):
        raise ValueError(f"need one precision and recall array per class: {len(names)} "
                         f"class_names, {len(precisions)} precisions, {len(recalls)} recalls")
    if aps is not None and len(aps) != len(names):
        raise ValueError(f"aps has {len(aps)} entries for {len(names)} class_names")
    ax = _new_axes(ax)
    for k, (name, prec, rec) in enumerate(zip(names, precisions, recalls)):
        if prec is None or rec is None:
            continue
        prec = _as_numpy(prec, f"precisions[{k}]").ravel()
        rec = _as_numpy(rec, f"recalls[{k}]").ravel()
        if prec.shape != rec.shape:
            raise ValueError(f"class {name!r}: {len(prec)} precisions but {len(rec)} recalls")
        if not len(prec):
            continue
        label = name
        if aps is not None:
            ap = float(aps[k])
            label += f" (AP {ap:.3f})" if math.isfinite(ap) else " (AP n/a)"
        ax.plot(rec, prec, color=_class_color(k), label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    if ax.lines:
        ax.legend(fontsize="x-small", loc="lower left")
    return ax

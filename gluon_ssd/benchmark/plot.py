"""Bar charts of a run: inference latency per variant (log scale, with the FLOP floor) and
training throughput next to the data pipeline's (drawn without pyplot: any backend)."""
import numpy as np

from .variants import LABELS, VARIANTS

__all__ = ["plot"]


def _inference_panel(ax, rows):
    variants = [v for v in VARIANTS if any(v in r["variants"] for r in rows)]
    groups = [f"{r['model']}\nbatch {r['batch']}" for r in rows]
    series = {LABELS[v]: [r["variants"].get(v, {}).get("ms", 0) for r in rows] for v in variants}
    series["FLOP floor"] = [r["floor_ms"] for r in rows]
    ax.set_ylabel("median latency (ms)")
    ax.set_title("SSD inference latency (median; floor = FLOPs / matmul ceiling)", fontsize=10)
    return groups, series


def _training_panel(ax, rows):
    groups = [f"{r['model']}\nbatch {r['batch']}, ours/GluonCV x{r['ratio']:.2f}" for r in rows]
    series = {"GluonCV step": [r["gluoncv_images_per_s"] for r in rows],
              "ours step": [r["ours_images_per_s"] for r in rows],
              "data pipeline": [r["pipeline_images_per_s"] for r in rows]}
    ax.set_ylabel("images/s")
    ax.set_title("SSD training throughput (median step) and data loading", fontsize=10)
    return groups, series


def _bars(ax, groups, series):
    ax.set_yscale("log")
    idx = np.arange(len(groups))
    width = 0.8 / len(series)
    for k, (label, values) in enumerate(series.items()):
        bars = ax.bar(idx - 0.4 + width * (k + 0.5), values, width, label=label)
        for bar in bars:
            if bar.get_height() > 0:
                ax.annotate(f"{bar.get_height():.3g}", (bar.get_x() + bar.get_width() / 2,
                                                        bar.get_height()),
                            ha="center", va="bottom", fontsize=6)
    ax.set_xticks(idx)
    ax.set_xticklabels(groups, fontsize=7)
    ax.legend(fontsize=7)


def plot(inference_rows, training_rows, path):
    """Save one panel per measured mode (inference, training) to the PNG ``path``."""
    # matplotlib is imported when drawing, not with the package: it is slow to import.
    from matplotlib.figure import Figure
    panels = [(rows, draw) for rows, draw in ((inference_rows, _inference_panel),
                                              (training_rows, _training_panel)) if rows]
    fig = Figure(figsize=(max(8, 2.4 * max(len(inference_rows), len(training_rows))),
                          4.5 * len(panels)))
    axes = fig.subplots(len(panels), 1, squeeze=False)
    for ax, (rows, draw) in zip(axes[:, 0], panels):
        _bars(ax, *draw(ax, rows))
    fig.tight_layout()
    fig.savefig(path, dpi=120)

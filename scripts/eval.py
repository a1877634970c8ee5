"""Evaluate a trained SSD on a VOC-layout split: VOC07 11-point and VOC area mAP, PR curves.

Examples::

    python scripts/eval.py --run runs/train --data-root runs/demo/data --out runs/eval
    python scripts/eval.py --bundle runs/bundle --data-root runs/demo/data --out runs/eval-bundle

    python scripts/eval.py --model ssd_300_mobilenet0.25_voc --params w.params \\
        --classes circle,square,triangle --data-root data --split val --data-shape 256 256 --out e

Prints a per-class AP table and writes ``OUT/eval.json`` (``voc07_map``, ``voc_map``,
``per_class``, ``pr``, ``num_images`` and what was evaluated) and ``OUT/pr.png`` (one
precision-recall curve per class, VOC area AP in the legend).
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gluon_ssd import viz  # noqa: E402
from gluon_ssd.cli import run  # noqa: E402
from gluon_ssd.data import VOCDataset  # noqa: E402
from gluon_ssd.detect import add_detector_arguments, detector_from_arguments  # noqa: E402
from gluon_ssd.evaluate import evaluate  # noqa: E402
from gluon_ssd.fileio import atomic_write  # noqa: E402


def _table(result):
    def fmt(ap):
        return "   n/a" if ap is None else f"{ap:6.4f}"

    width = max([len("mAP")] + [len(name) for name in result["per_class"]])
    lines = [f"{'class':<{width}}  VOC07  VOC(area)"]
    for name, ap in result["per_class"].items():
        lines.append(f"{name:<{width}}  {fmt(ap['voc07_ap'])}  {fmt(ap['voc_ap'])}")
    lines.append(f"{'mAP':<{width}}  {fmt(result['voc07_map'])}  {fmt(result['voc_map'])}")
    return "\n".join(lines)


def _nan(ap):
    """None (a class without ground truth) as NaN, for plotting."""
    return float("nan") if ap is None else ap


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_detector_arguments(p)
    p.add_argument("--data-root", required=True, help="VOC-layout folder")
    p.add_argument("--split", default="val")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    net, shape, ctx = detector_from_arguments(p, args)
    dataset = VOCDataset(args.data_root, classes=net.classes, split=args.split)

    result = evaluate(net, dataset, shape, batch_size=args.batch_size, ctx=ctx)
    print(f"{result['num_images']} images of {args.data_root} ({args.split}), input "
          f"{shape[0]}x{shape[1]}")
    print(_table(result))

    os.makedirs(args.out, exist_ok=True)
    record = dict(result, data_root=args.data_root, split=args.split, data_shape=list(shape),
                  source=args.run or args.bundle or f"{args.model}:{args.params}")

    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(record, f, indent=1)

    atomic_write(os.path.join(args.out, "eval.json"), write)
    names = list(result["pr"])
    ax = viz.plot_pr_curves([result["pr"][n]["precision"] for n in names],
                            [result["pr"][n]["recall"] for n in names], names,
                            aps=[_nan(result["per_class"][n]["voc_ap"]) for n in names])
    ax.set_title(f"precision-recall, {args.split}: VOC07 mAP {_nan(result['voc07_map']):.4f}, "
                 f"VOC mAP {_nan(result['voc_map']):.4f}")
    viz.save_figure(ax.figure, os.path.join(args.out, "pr.png"))
    plt.close(ax.figure)
    print(f"wrote {os.path.join(args.out, 'eval.json')} and {os.path.join(args.out, 'pr.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))

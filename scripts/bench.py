"""Inference latency of gluon_ssd's detectors against GluonCV's identical architectures.

What is measured
----------------
For each model name (the same name exists in both zoos) and each batch size, both networks are
built with random weights (no downloads: ``pretrained_base=False``), initialised with
``mx.init.Xavier()`` (1-D BatchNorm vectors that GluonCV leaves to the global initializer get
the usual 1 / 0 constants, see :class:`XavierOrConstant`), given the same NMS settings (``set_nms(nms_thresh=0.45, nms_topk=400,
post_nms=100)``, since NMS cost depends on the scores) and hybridized with
``static_alloc=True, static_shape=True``. The input is one fixed random fp32 tensor
``(batch, 3, base, base)`` at the model's base size (300 or 512), shared by both nets.

A *run* is one inference-mode forward pass (the whole detector: backbone, extras, heads, anchors,
box decoding and per-class NMS) followed by ``mx.nd.waitall()``, timed on the wall clock. After a
few warm-up runs of each network (graph tracing, memory planning), the timed runs alternate
GluonCV / ours (the order swapped every round) so both see the same machine noise; the latency
reported is the median over ``--repeats`` runs. The table gives both medians and the ratio
ours / GluonCV (below 1.0: ours faster). The final line says whether every ratio is <= 1.0; it
reports, it does not assert.

The trainable parameter counts of both are printed too, to show the architectures are the same
size. (GluonCV's ``ssd_300_mobilenet0.25_voc`` uses different anchor steps than ours, which place
its anchors in the top-left part of the image; the anchor count (2268) and so the cost are the
same.)

Usage::

    python scripts/bench.py --quick
    python scripts/bench.py --out bench.json --plot bench.png
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from gluon_ssd import zoo  # noqa: E402

DEFAULT_MODELS = ["ssd_300_vgg16_atrous_voc", "ssd_512_resnet50_v1_voc",
                  "ssd_300_mobilenet0.25_voc"]
NMS = dict(nms_thresh=0.45, nms_topk=400, post_nms=100)


def base_size(name):
    """int: the model's design input side (300, 512, ...)."""
    config, _ = zoo.get_config(name)
    return int(config.base_size)


class XavierOrConstant(mx.init.Xavier):
    """``mx.init.Xavier()`` for every weight of 2 or more dimensions.

    GluonCV builds some SSDs' backbones and extras as a ``SymbolBlock`` whose parameters carry
    no initializer of their own, so the global one reaches BatchNorm's 1-D gamma / beta / moving
    statistics, which plain Xavier refuses. Those vectors get the usual constants instead (1 for
    gamma and variances, 0 otherwise), the values Gluon's ``nn.BatchNorm`` would give them.
    """

    def _init_weight(self, name, arr):
        if len(arr.shape) >= 2:
            return super()._init_weight(name, arr)
        arr[:] = 1.0 if str(name).endswith(("gamma", "var")) else 0.0
        return None


def initializer():
    return XavierOrConstant()


def build_ours(name, ctx):
    net = zoo.get_model(name, pretrained_base=False)
    net.initialize(initializer(), ctx=ctx)
    net.set_nms(**NMS)
    net.hybridize(static_alloc=True, static_shape=True)
    return net


def build_gluoncv(name, ctx):
    import gluoncv
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = gluoncv.model_zoo.get_model(name, pretrained=False, pretrained_base=False)
    net.initialize(initializer(), ctx=ctx)
    net.set_nms(**NMS)
    net.hybridize(static_alloc=True, static_shape=True)
    return net


def trainable_params(net):
    """int: number of trainable parameter values (shapes must be known: call after a forward)."""
    return int(sum(np.prod(p.shape) for p in net.collect_params().values()
                   if p.grad_req != "null"))


def run_once(net, x):
    """Seconds for one inference forward pass, synchronised with ``waitall``."""
    mx.nd.waitall()
    start = time.perf_counter()
    out = net(x)
    for o in out:
        o.wait_to_read()
    mx.nd.waitall()
    return time.perf_counter() - start


def bench_pair(name, batch, repeats, warmup, ctx, progress):
    """Median latencies (ms) of GluonCV's and our ``name`` at ``batch``, timed interleaved."""
    size = base_size(name)
    mx.random.seed(0)
    x = mx.nd.random.normal(0, 1, shape=(batch, 3, size, size), ctx=ctx)
    nets = {"gluoncv": build_gluoncv(name, ctx), "ours": build_ours(name, ctx)}
    for _ in range(warmup):
        for net in nets.values():
            run_once(net, x)
            progress.update(1)
    times = {k: [] for k in nets}
    for r in range(repeats):
        order = ["gluoncv", "ours"] if r % 2 == 0 else ["ours", "gluoncv"]
        for key in order:
            times[key].append(run_once(nets[key], x))
            progress.update(1)
    params = {k: trainable_params(net) for k, net in nets.items()}
    del nets
    return {
        "model": name, "batch": batch, "input": [batch, 3, size, size],
        "gluoncv_ms": 1000 * statistics.median(times["gluoncv"]),
        "ours_ms": 1000 * statistics.median(times["ours"]),
        "gluoncv_runs_ms": [1000 * t for t in times["gluoncv"]],
        "ours_runs_ms": [1000 * t for t in times["ours"]],
        "gluoncv_params": params["gluoncv"], "ours_params": params["ours"],
    }


def plot(results, path):
    labels = [f"{r['model']}\nbatch {r['batch']}\n"
              f"ours/GluonCV x{r['ours_ms'] / r['gluoncv_ms']:.2f}" for r in results]
    idx = np.arange(len(results))
    width = 0.38
    fig, ax = plt.subplots(figsize=(max(7, 2.1 * len(results)), 5))
    gcv = ax.bar(idx - width / 2, [r["gluoncv_ms"] for r in results], width, label="GluonCV")
    ours = ax.bar(idx + width / 2, [r["ours_ms"] for r in results], width, label="gluon_ssd")
    for bar in list(gcv) + list(ours):
        ax.annotate(f"{bar.get_height():.0f}", (bar.get_x() + bar.get_width() / 2,
                                                 bar.get_height()),
                    ha="center", va="bottom", fontsize=7)
    ax.set_xticks(idx)
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel("median latency (ms)")
    ax.set_yscale("log")
    ax.set_title("SSD inference latency, fp32, hybridized (median)", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS,
                        help="model names (present in both zoos)")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--repeats", type=int, default=10, help="timed runs per network")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs per network")
    parser.add_argument("--quick", action="store_true", help="batch 1 only, 3 repeats")
    parser.add_argument("--out", help="write the results to this JSON file")
    parser.add_argument("--plot", help="save a bar chart of the latencies to this PNG")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch_sizes, args.repeats = [1], 3
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be >= 1 and --warmup >= 0")
    for name in args.models:
        zoo.get_config(name)  # fail early on unknown names, with close matches
    ctx = mx.cpu()

    pairs = [(m, b) for m in args.models for b in args.batch_sizes]
    results = []
    total = len(pairs) * 2 * (args.warmup + args.repeats)
    with tqdm(total=total, desc="bench", unit="run", file=sys.stderr) as progress:
        for name, batch in pairs:
            progress.set_postfix_str(f"{name} b{batch}")
            results.append(bench_pair(name, batch, args.repeats, args.warmup, ctx, progress))

    print(f"\nmxnet {mx.__version__}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, ctx {ctx}, {args.repeats} timed runs "
          f"(median), {args.warmup} warm-up\n")
    print("Trainable parameters:")
    seen = set()
    for r in results:
        if r["model"] in seen:
            continue
        seen.add(r["model"])
        same = "same" if r["ours_params"] == r["gluoncv_params"] else "DIFFERENT"
        print(f"  {r['model']:<28} GluonCV {r['gluoncv_params']:>12,}   ours "
              f"{r['ours_params']:>12,}   ({same})")
    print()
    header = f"{'model':<28} {'batch':>5} {'GluonCV ms':>11} {'ours ms':>9} {'ours/GluonCV':>13}"
    print(header)
    print("-" * len(header))
    for r in results:
        r["ratio"] = r["ours_ms"] / r["gluoncv_ms"]
        print(f"{r['model']:<28} {r['batch']:>5} {r['gluoncv_ms']:>11.1f} {r['ours_ms']:>9.1f} "
              f"{r['ratio']:>13.3f}")
    slower = [r for r in results if r["ratio"] > 1.0]
    if slower:
        worst = max(slower, key=lambda r: r["ratio"])
        print(f"\nNOT every ratio <= 1.0: ours slower in {len(slower)} of {len(results)} cases "
              f"(worst {worst['model']} batch {worst['batch']}: x{worst['ratio']:.3f}).")
    else:
        print(f"\nEvery ratio <= 1.0: ours not slower than GluonCV in all {len(results)} cases.")

    if args.out:
        with open(args.out, "w") as f:
            json.dump({"mxnet": mx.__version__, "cpus": os.cpu_count(), "ctx": str(ctx),
                       "repeats": args.repeats, "warmup": args.warmup, "nms": NMS,
                       "all_ratios_le_1": not slower, "results": results}, f, indent=2)
        print(f"wrote {args.out}")
    if args.plot:
        plot(results, args.plot)
        print(f"wrote {args.plot}")
    return results


if __name__ == "__main__":
    main()

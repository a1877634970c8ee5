"""One inference row: every variant's median latency on one batch, and its ratios.

For each model and batch size, one fixed random fp32 tensor ``(batch, 3, base, base)`` at the
model's base size goes through every variant's runner (:mod:`.variants`), timed round-robin
(:mod:`.timing`), each timed run right after an untimed one of the same variant.
:func:`add_ratios` adds the ratio to GluonCV fp32 measured in the same row, GFLOP/s against the
matrix-multiply ceiling and ``x floor`` (:mod:`.flops`).
"""
import statistics

import mxnet as mx

from .timing import alternate, inference_plan

__all__ = ["bench_inference", "add_ratios"]


def bench_inference(info, makers, batch, repeats, warmup, ctx, progress):
    """Median latencies of every variant on one ``batch``, timed round-robin."""
    name, size = info["model"], info["size"]
    progress.set_postfix_str(f"{name} b{batch}")
    mx.random.seed(0)
    x = mx.nd.random.normal(0, 1, shape=(batch, 3, size, size), ctx=ctx)
    runners = {v: make((x, x.asnumpy())) for v, make in makers.items()}
    repeats, warmup = inference_plan(batch, repeats, warmup)
    times = alternate(runners, repeats, warmup, progress, rewarm=True)
    flops = info["flops_per_image"] * batch
    row = {"model": name, "batch": batch, "input": [batch, 3, size, size], "repeats": repeats,
           "warmup": warmup, "flops": flops, "variants": {}}
    for v, seconds in times.items():
        median = statistics.median(seconds)
        row["variants"][v] = {"ms": 1000 * median, "runs_ms": [1000 * t for t in seconds],
                              "gflops": flops / median / 1e9}
    return row


def add_ratios(row, ceiling):
    """Ratios to GluonCV, fractions of the ceiling and of the FLOP floor (in place)."""
    row["floor_ms"] = 1000 * row["flops"] / (ceiling * 1e9)
    reference = row["variants"].get("gluoncv", {}).get("ms")
    for entry in row["variants"].values():
        entry["x_gluoncv"] = entry["ms"] / reference if reference else None
        entry["fraction_of_ceiling"] = entry["gflops"] / ceiling
        entry["x_floor"] = entry["ms"] / row["floor_ms"]

"""Where a training step's time goes on anchor-dense SSDs: ours vs GluonCV's target generator.

Three mobilenet0.25 SSDs at 320 x 320 (:data:`CONFIGS`, built with
:func:`gluon_ssd.zoo.build_ssd`, random weights), from the preset-like one to the stride-4 one
that small objects need. Each step on a fixed synthetic batch (``batch`` images of noise,
``objects`` boxes of 12-40 px per image, seeded) is timed by part, with ``mx.nd.waitall()``
between parts:

- **forward**: the network in train mode (under ``autograd.record``);
- **targets**: :class:`gluon_ssd.training.targets.SSDTargets` (ours), or GluonCV's
  ``SSDTargetGenerator(iou_thresh=0.5, stds=BOX_STDS, negative_mining_ratio=-1)`` with the box
  targets of non-positives zeroed (what ``SSDTargets`` wrapped before);
- **loss**: :class:`gluon_ssd.training.loss.SSDMultiBoxLoss` (hybridized), the same for both;
- **backward + update**: ``autograd.backward`` and ``trainer.step(batch)`` (SGD, :data:`.nets.SGD`).

Both variants share one network and trainer per configuration; after ``warmup`` steps of each,
``repeats`` rounds alternate them (order swapped every round). Each part's figure is its median;
images/s = batch / the median step (sum of the parts).
"""
import statistics
import time

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from .. import zoo
from ..blocks.coding import BOX_STDS
from ..model.config import SSDConfig
from ..training.loss import SSDMultiBoxLoss
from ..training.targets import SSDTargets
from .nets import SGD, initializer

__all__ = ["CONFIGS", "PARTS", "GluonCVTargets", "synthetic_batch", "split_step",
           "bench_targets"]

_R4, _R6 = (1, 2, 0.5), (1, 2, 0.5, 3, 1 / 3)
# name -> (description, SSDConfig): mobilenet0.25 at 320 px, anchors from strides 16, 8 or 4.
CONFIGS = {
    "s16": ("strides 16/32 + 3 extras (preset-like)", SSDConfig(
        backbone="mobilenet0.25", base_size=320, from_layers=(16, 32, "", "", ""),
        num_filters=(-1, -1, 256, 128, 128), strides=(-1, -1, 2, 2, 2), pads=(-1, -1, 1, 1, 1),
        sizes=(32, 64, 118, 172, 226, 320), ratios=(_R4,) + (_R6,) * 4)),
    "s8": ("strides 8/16/32 + 2 extras", SSDConfig(
        backbone="mobilenet0.25", base_size=320, from_layers=(8, 16, 32, "", ""),
        num_filters=(-1, -1, -1, 256, 128), strides=(-1, -1, -1, 2, 2), pads=(-1, -1, -1, 1, 1),
        sizes=(16, 32, 64, 128, 224, 320), ratios=(_R4,) * 5)),
    "s4": ("strides 4/8/16/32 + 1 extra", SSDConfig(
        backbone="mobilenet0.25", base_size=320, from_layers=(4, 8, 16, 32, ""),
        num_filters=(-1, -1, -1, -1, 128), strides=(-1, -1, -1, -1, 2), pads=(-1, -1, -1, -1, 1),
        sizes=(12, 24, 48, 96, 192, 320), ratios=(_R4,) * 5)),
}
PARTS = ("forward", "targets", "loss", "backward_update")
CLASSES = ("a", "b", "c")


class GluonCVTargets:
    """GluonCV's generator as ``targets(anchors, labels) -> (cls_targets, box_targets)``."""

    def __init__(self):
        from gluoncv.model_zoo.ssd.target import SSDTargetGenerator
        self._generator = SSDTargetGenerator(iou_thresh=0.5, stds=BOX_STDS,
                                             negative_mining_ratio=-1)

    def __call__(self, anchors, labels):
        with autograd.pause():
            cls_t, box_t, _ = self._generator(anchors, None, labels.slice_axis(axis=-1, begin=0, end=4),
                                              labels.slice_axis(axis=-1, begin=4, end=5))
            positive = (cls_t > 0).expand_dims(-1).broadcast_like(box_t)
            return cls_t, mx.nd.where(positive, box_t, mx.nd.zeros_like(box_t))


def synthetic_batch(batch, objects, side=320, seed=0, ctx=None):
    """``(data (B, 3, side, side), labels (B, objects, 5))``: noise, boxes of 12-40 px."""
    rng = np.random.RandomState(seed)
    wh = rng.uniform(12, 40, (batch, objects, 2))
    xy = rng.uniform(0, 1, (batch, objects, 2)) * (side - wh)
    ids = rng.randint(0, len(CLASSES), (batch, objects, 1))
    labels = np.concatenate([xy, xy + wh, ids], -1).astype(np.float32)
    data = rng.normal(0, 1, (batch, 3, side, side)).astype(np.float32)
    return mx.nd.array(data, ctx=ctx), mx.nd.array(labels, ctx=ctx)


def split_step(net, trainer, loss, targets, data, labels):
    """One training step: ``{part: seconds}`` for the parts of :data:`PARTS`."""
    times = {}
    mx.nd.waitall()
    start = time.perf_counter()
    with autograd.record():
        cls_preds, box_preds, anchors = net(data)
        mx.nd.waitall()
        times["forward"] = time.perf_counter() - start
        start = time.perf_counter()
        cls_t, box_t = targets(anchors, labels)
        mx.nd.waitall()
        times["targets"] = time.perf_counter() - start
        start = time.perf_counter()
        total = loss(cls_preds, box_preds, cls_t, box_t)[0]
        mx.nd.waitall()
        times["loss"] = time.perf_counter() - start
    start = time.perf_counter()
    autograd.backward(total)
    trainer.step(data.shape[0])
    mx.nd.waitall()
    times["backward_update"] = time.perf_counter() - start
    return times


def _bench_config(name, batch, objects, repeats, warmup, ctx, progress):
    description, config = CONFIGS[name]
    mx.random.seed(0)
    net = zoo.build_ssd(config, list(CLASSES))
    net.initialize(initializer(), ctx=ctx)
    net.hybridize(static_alloc=True, static_shape=True)
    trainer = gluon.Trainer(net.collect_params(), "sgd", dict(SGD))
    loss = SSDMultiBoxLoss()
    loss.hybridize()
    data, labels = synthetic_batch(batch, objects, config.base_size, ctx=ctx)
    variants = {"gluoncv": GluonCVTargets(), "ours": SSDTargets()}
    times = {key: [] for key in variants}
    for r in range(warmup + repeats):
        keys = list(variants) if r % 2 == 0 else list(variants)[::-1]
        for key in keys:
            if progress is not None:
                progress.set_postfix_str(f"targets {name} {key}")
            step = split_step(net, trainer, loss, variants[key], data, labels)
            if r >= warmup:
                times[key].append(step)
            if progress is not None:
                progress.update(1)
    with autograd.train_mode():
        num_anchors = net(data[:1])[2].shape[1]
    row = {"config": name, "description": description, "anchors": int(num_anchors),
           "batch": batch, "objects": objects, "repeats": repeats, "warmup": warmup}
    for key, steps in times.items():
        parts = {part: 1000 * statistics.median(s[part] for s in steps) for part in PARTS}
        step_ms = statistics.median(1000 * sum(s.values()) for s in steps)
        row[key] = dict(parts, step_ms=step_ms, images_per_s=1000 * batch / step_ms)
    row["targets_speedup"] = row["gluoncv"]["targets"] / row["ours"]["targets"]
    row["images_per_s_ratio"] = row["ours"]["images_per_s"] / row["gluoncv"]["images_per_s"]
    network = row["ours"]["forward"] + row["ours"]["backward_update"]
    row["targets_share_of_network"] = row["ours"]["targets"] / network
    return row


def bench_targets(names, batch, objects, repeats, warmup, ctx=None, progress=None):
    """One row per configuration name of :data:`CONFIGS` (module docstring)."""
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        raise ValueError(f"unknown target-benchmark configurations {unknown}; known: "
                         f"{list(CONFIGS)}")
    ctx = ctx or mx.cpu()
    return [_bench_config(name, batch, objects, repeats, warmup, ctx, progress)
            for name in names]


def print_targets(rows):
    """The per-part table, both variants of each configuration, and the ratios."""
    header = (f"{'layers (taps, extras)':<40} {'anchors':>7} {'targets by':<8} {'forward':>8} "
              f"{'targets':>8} {'loss':>7} {'bwd+upd':>8} {'img/s':>7}")
    print(header)
    print("-" * len(header))
    for r in rows:
        for key in ("gluoncv", "ours"):
            e = r[key]
            print(f"{r['description']:<40} {r['anchors']:>7,} {key:<8} {e['forward']:>8.1f} "
                  f"{e['targets']:>8.1f} {e['loss']:>7.1f} {e['backward_update']:>8.1f} "
                  f"{e['images_per_s']:>7.2f}")
        print(f"{'':<40} {'':>7} targets x{r['targets_speedup']:.1f} faster, images/s "
              f"x{r['images_per_s_ratio']:.2f}, targets = "
              f"{100 * r['targets_share_of_network']:.0f}% of forward + backward")
    if rows:
        print(f"\nms per batch of {rows[0]['batch']} at 320 x 320, {rows[0]['objects']} objects "
              f"per image, median of {rows[0]['repeats']} steps after {rows[0]['warmup']} "
              f"warm-up; both target generators on the same network, alternating.")

"""Training throughput: one step of ours and of GluonCV's identical net, and the data pipeline.

Images/s of one training step on a fixed batch (``batch`` images at ``size``, by default the
model's base size), both nets with ``gluon.Trainer(..., 'sgd', learning_rate=1e-3,
momentum=0.9, wd=5e-4)``:

- ours: :func:`gluon_ssd.training.fit`'s own step, :class:`gluon_ssd.training.steps.TrainStep` (forward in
  train mode, :class:`gluon_ssd.training.targets.SSDTargets` from the anchors,
  :class:`gluon_ssd.training.loss.SSDMultiBoxLoss` (hybridized), ``autograd.backward``,
  ``trainer.step(batch)``, the loss read back once);
- GluonCV, as its ``train_ssd.py`` does with in-loop targets: forward in train mode,
  ``SSDTargetGenerator(iou_thresh=0.5, stds=BOX_STDS, negative_mining_ratio=-1)`` on
  the batch (under ``autograd.pause``), ``gluoncv.loss.SSDMultiBoxLoss()`` on the lists,
  ``autograd.backward``, ``trainer.step(1)``.

A step ends with ``mx.nd.waitall()``; steps alternate GluonCV / ours (order swapped every round),
with :func:`~.timing.training_plan` timed and warm-up steps each; images/s = batch / median step
time, and the ratio ours / GluonCV (>= 1.0 is the target). Next to it, the data pipeline:
synthetic VOC images (375 x 500, :func:`gluon_ssd.data.synthetic.generate_voc`, in a temporary
folder) loaded through ``gluon.data.DataLoader(VOCDataset(...).transform(train_transform(size,
mean, std, 'flip')), batch, batchify_fn=batchify(), num_workers=0)``: images/s of the loading
alone (the faster of two passes). The training batch is the loader's first batch.
"""
import statistics
import time

import numpy as np
from mxnet import autograd, gluon

from .. import zoo
from ..blocks.coding import BOX_STDS
from ..training.steps import TrainStep
from .nets import SGD, build_gluoncv, build_ours
from .timing import alternate, timed_step, training_plan

__all__ = ["PIPELINE_IMAGE_SIZE", "make_pipeline_data", "bench_pipeline", "ours_train_step",
           "gluoncv_train_step", "bench_training"]

PIPELINE_IMAGE_SIZE = (375, 500)  # (height, width), a typical VOC image


def make_pipeline_data(root, count):
    """A synthetic VOC folder of ``count`` train images: the :class:`VOCDataset` over it."""
    from ..data import VOCDataset
    from ..data.synthetic import CLASSES, generate_voc
    generate_voc(root, num_train=count, num_val=0, image_size=PIPELINE_IMAGE_SIZE, seed=0,
                 progress=False)
    return VOCDataset(root, CLASSES, "train")


def bench_pipeline(dataset, size, mean, std, batch):
    """(images/s of the faster of two passes over the loader, its first batch)."""
    from ..data.transforms import batchify, train_transform
    np.random.seed(0)
    loader = gluon.data.DataLoader(dataset.transform(train_transform((size, size), mean, std,
                                                                     "flip")),
                                   batch_size=batch, shuffle=False, last_batch="keep",
                                   batchify_fn=batchify(), num_workers=0)
    best, first = float("inf"), None
    for _ in range(2):
        start = time.perf_counter()
        count = 0
        for data, label in loader:
            data.wait_to_read()
            if first is None:
                first = (data, label)
            count += data.shape[0]
        best = min(best, time.perf_counter() - start)
    return count / best, first


def ours_train_step(name, ctx, batch):
    """A callable: one training step of our net on ``batch = (data, label)``: ``fit``'s own
    :class:`gluon_ssd.training.steps.TrainStep` (targets, loss, backward, update, one host sync)."""
    net = build_ours(name, ctx)
    trainer = gluon.Trainer(net.collect_params(), "sgd", dict(SGD))
    data, label = batch
    step = TrainStep(net, trainer, [ctx], data.shape[0])
    return (lambda: step(data, label)), net


def gluoncv_train_step(name, ctx, batch):
    """A callable: one training step of GluonCV's net, as its ``train_ssd.py`` (in-loop targets)."""
    import gluoncv
    from gluoncv.model_zoo.ssd.target import SSDTargetGenerator
    net = build_gluoncv(name, ctx)
    trainer = gluon.Trainer(net.collect_params(), "sgd", dict(SGD))
    generator = SSDTargetGenerator(iou_thresh=0.5, stds=BOX_STDS,
                                   negative_mining_ratio=-1)
    mbox_loss = gluoncv.loss.SSDMultiBoxLoss()
    data, label = batch

    def step():
        with autograd.record():
            cls_preds, box_preds, anchors = net(data)
            with autograd.pause():
                gt_boxes = label.slice_axis(axis=-1, begin=0, end=4)
                gt_ids = label.slice_axis(axis=-1, begin=4, end=5)
                cls_t, box_t, _ = generator(anchors, None, gt_boxes, gt_ids)
            sum_loss, _, _ = mbox_loss([cls_preds], [box_preds], [cls_t], [box_t])
            autograd.backward(sum_loss)
        trainer.step(1)
    return step, net


def bench_training(name, dataset, size, batch, repeats, warmup, ctx, progress):
    """Images/s of GluonCV's and our training step on the same batch, and of the data pipeline."""
    progress.set_postfix_str(f"{name} train")
    config, _ = zoo.get_config(name)
    pipeline_ips, (data, label) = bench_pipeline(dataset, size, config.mean, config.std, batch)
    data, label = data.as_in_context(ctx), label.as_in_context(ctx)
    steps = {"gluoncv": gluoncv_train_step(name, ctx, (data, label))[0],
             "ours": ours_train_step(name, ctx, (data, label))[0]}
    repeats, warmup = training_plan(repeats, warmup)
    runners = {key: (lambda step=step: timed_step(step)) for key, step in steps.items()}
    times = alternate(runners, repeats, warmup, progress)
    del steps, runners
    median = {k: statistics.median(v) for k, v in times.items()}
    return {"model": name, "batch": batch, "input": [batch, 3, size, size],
            "repeats": repeats, "warmup": warmup,
            "gluoncv_images_per_s": batch / median["gluoncv"],
            "ours_images_per_s": batch / median["ours"],
            "ratio": median["gluoncv"] / median["ours"],
            "pipeline_images_per_s": pipeline_ips, "pipeline_images": len(dataset),
            "gluoncv_steps_ms": [1000 * t for t in times["gluoncv"]],
            "ours_steps_ms": [1000 * t for t in times["ours"]]}

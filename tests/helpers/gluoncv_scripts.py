"""A driver of GluonCV's SSD scripts (not a test module): their calls, in their order, with
``gluoncv.model_zoo.get_model`` swapped for ``gluon_ssd.zoo.get_model`` (tests/test_zoo.py).

The scripts themselves (``scripts/detection/ssd/train_ssd.py``, ``eval_ssd.py``, ``demo_ssd.py``,
``scripts/deployment/export/export_pretrained.py`` of dmlc/gluon-cv 0.10) are not in GluonCV's
wheel and CI has no internet, so this is a driver making the same GluonCV calls, in the
same order and with the same arguments; the comments cite the script lines mirrored. Nothing is
copied from GluonCV but the call sequence. Training runs on two CPU contexts, as train_ssd.py does
on two GPUs, with ``norm_layer=gluon.nn.BatchNorm`` (its default branch). Its ``--syncbn`` branch
(``SyncBatchNorm``, ``norm_kwargs={'num_devices': 2}``) is built and checked in
tests/model/test_norm.py; it cannot be trained on CPU contexts: MXNet 1.9.1's CPU SyncBatchNorm
hangs there with any network of five or more such layers, gluon_ssd or not (measured: a
Conv2D + SyncBatchNorm stack on mx.cpu(0), mx.cpu(1) runs with three layers, hangs with five).
"""
import matplotlib
import matplotlib.image

matplotlib.use("Agg")

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402

import gluoncv as gcv  # noqa: E402
from gluoncv.data.batchify import Pad, Stack, Tuple  # noqa: E402
from gluoncv.data.transforms.presets.ssd import (  # noqa: E402
    SSDDefaultTrainTransform, SSDDefaultValTransform)

NET_NAME = "ssd_300_mobilenet0.25_voc"  # '_'.join(('ssd', data_shape, network, dataset))
DATA_SHAPE = 128  # small for CPU: the net accepts any size from 128 px
CTX = [mx.cpu(0), mx.cpu(1)]
BATCH_SIZE = 4


def dataset(count, seed):
    """(HWC uint8 NDArray image, (N, 6) label: x1, y1, x2, y2, class, difficult), as VOCDetection."""
    rng = np.random.RandomState(seed)
    items = []
    for _ in range(count):
        img = rng.randint(0, 255, (160, 192, 3)).astype("uint8")
        x1, y1 = rng.randint(0, 80, 2)
        w, h = rng.randint(30, 80, 2)
        cls = rng.randint(0, 20)
        img[y1:y1 + h, x1:x1 + w] = 255 * (cls % 2)
        items.append((mx.nd.array(img, dtype="uint8"),
                      np.array([[x1, y1, x1 + w, y1 + h, cls, 0]], dtype="float32")))
    return gluon.data.SimpleDataset(items)


def get_dataloader(net, train_dataset, val_dataset, data_shape, batch_size, ctx):
    """train_ssd.py get_dataloader (lines 121-136), num_workers=0."""
    width, height = data_shape, data_shape
    with autograd.train_mode():  # "use fake data to generate fixed anchors for target generation"
        _, _, anchors = net(mx.nd.zeros((1, 3, height, width), ctx))
    anchors = anchors.as_in_context(mx.cpu())
    batchify_fn = Tuple(Stack(), Stack(), Stack())
    train_loader = gluon.data.DataLoader(
        train_dataset.transform(SSDDefaultTrainTransform(width, height, anchors)),
        batch_size, True, batchify_fn=batchify_fn, last_batch="rollover", num_workers=0)
    val_batchify_fn = Tuple(Stack(), Pad(pad_val=-1))
    val_loader = gluon.data.DataLoader(
        val_dataset.transform(SSDDefaultValTransform(width, height)),
        batch_size, False, batchify_fn=val_batchify_fn, last_batch="keep", num_workers=0)
    return train_loader, val_loader


def validate(net, val_data, ctx, eval_metric):
    """train_ssd.py validate (lines 223-252)."""
    eval_metric.reset()
    net.set_nms(nms_thresh=0.45, nms_topk=400)
    net.hybridize(static_alloc=True, static_shape=True)
    for batch in val_data:
        data = gluon.utils.split_and_load(batch[0], ctx_list=ctx, batch_axis=0, even_split=False)
        label = gluon.utils.split_and_load(batch[1], ctx_list=ctx, batch_axis=0, even_split=False)
        det_bboxes, det_ids, det_scores, gt_bboxes, gt_ids, gt_difficults = [], [], [], [], [], []
        for x, y in zip(data, label):
            ids, scores, bboxes = net(x)
            det_ids.append(ids)
            det_scores.append(scores)
            det_bboxes.append(bboxes.clip(0, batch[0].shape[2]))
            gt_ids.append(y.slice_axis(axis=-1, begin=4, end=5))
            gt_bboxes.append(y.slice_axis(axis=-1, begin=0, end=4))
            gt_difficults.append(y.slice_axis(axis=-1, begin=5, end=6) if y.shape[-1] > 5 else None)
        eval_metric.update(det_bboxes, det_ids, det_scores, gt_bboxes, gt_ids, gt_difficults)
    return eval_metric.get()


def train_one_epoch(net, train_data, ctx, steps):
    """train_ssd.py train (lines 254-331): SGD, SSDMultiBoxLoss, split_and_load, trainer.step(1)."""
    net.collect_params().reset_ctx(ctx)
    trainer = gluon.Trainer(net.collect_params(), "sgd",
                            {"learning_rate": 0.001, "wd": 0.0005, "momentum": 0.9},
                            update_on_kvstore=None)
    mbox_loss = gcv.loss.SSDMultiBoxLoss()
    net.hybridize(static_alloc=True, static_shape=True)
    losses = []
    for i, batch in enumerate(train_data):
        if i == steps:
            break
        data = gluon.utils.split_and_load(batch[0], ctx_list=ctx, batch_axis=0)
        cls_targets = gluon.utils.split_and_load(batch[1], ctx_list=ctx, batch_axis=0)
        box_targets = gluon.utils.split_and_load(batch[2], ctx_list=ctx, batch_axis=0)
        with autograd.record():
            cls_preds, box_preds = [], []
            for x in data:
                cls_pred, box_pred, _ = net(x)
                cls_preds.append(cls_pred)
                box_preds.append(box_pred)
            sum_loss, _, _ = mbox_loss(cls_preds, box_preds, cls_targets, box_targets)
            autograd.backward(sum_loss)
        trainer.step(1)
        losses.append(sum(float(l.sum().asscalar()) for l in sum_loss))
    return losses

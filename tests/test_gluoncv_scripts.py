"""GluonCV's SSD scripts, with ``gluoncv.model_zoo.get_model`` swapped for ``gluon_ssd.zoo.get_model``.

The scripts themselves (``scripts/detection/ssd/train_ssd.py``, ``eval_ssd.py``, ``demo_ssd.py``,
``scripts/deployment/export/export_pretrained.py`` of dmlc/gluon-cv 0.10) are not in GluonCV's
wheel and CI has no internet, so each test below is a driver making the same GluonCV calls, in the
same order and with the same arguments; the comments cite the script lines mirrored. Nothing is
copied from GluonCV but the call sequence. Training runs on two CPU contexts, as train_ssd.py does
on two GPUs, with ``norm_layer=gluon.nn.BatchNorm`` (its default branch). Its ``--syncbn`` branch
(``SyncBatchNorm``, ``norm_kwargs={'num_devices': 2}``) is built and checked in
tests/test_gluoncv_args.py; it cannot be trained on CPU contexts: MXNet 1.9.1's CPU SyncBatchNorm
hangs there with any network of five or more such layers, gluon_ssd or not (measured: a
Conv2D + SyncBatchNorm stack on mx.cpu(0), mx.cpu(1) runs with three layers, hangs with five).
"""
import matplotlib
import matplotlib.image

matplotlib.use("Agg")

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402

import gluoncv as gcv  # noqa: E402
from gluoncv.data.batchify import Pad, Stack, Tuple  # noqa: E402
from gluoncv.data.transforms import presets  # noqa: E402
from gluoncv.data.transforms.presets.ssd import (  # noqa: E402
    SSDDefaultTrainTransform, SSDDefaultValTransform)
from gluoncv.utils.metrics.voc_detection import VOC07MApMetric  # noqa: E402

from tests.helpers.detections import assert_same_detections  # noqa: E402

from gluon_ssd.zoo import get_model  # the one line changed in GluonCV's scripts  # noqa: E402

NET_NAME = "ssd_300_mobilenet0.25_voc"  # '_'.join(('ssd', data_shape, network, dataset))
DATA_SHAPE = 128  # small for CPU: the net accepts any size from 128 px
CTX = [mx.cpu(0), mx.cpu(1)]
BATCH_SIZE = 4


def _dataset(count, seed):
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


def _get_dataloader(net, train_dataset, val_dataset, data_shape, batch_size, ctx):
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


def _validate(net, val_data, ctx, eval_metric):
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


def _train_one_epoch(net, train_data, ctx, steps):
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


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """train_ssd.py __main__ (lines 370-420) without --syncbn, on two contexts, then two steps."""
    mx.random.seed(0)
    np.random.seed(0)
    net = get_model(NET_NAME, pretrained_base=False, norm_layer=gluon.nn.BatchNorm)
    async_net = net
    net.initialize()
    async_net.initialize()
    net.collect_params().reset_ctx(CTX[0])
    train_data, val_data = _get_dataloader(async_net, _dataset(8, 0), _dataset(4, 1),
                                           DATA_SHAPE, BATCH_SIZE, CTX[0])
    before = {n: p.data(CTX[0]).asnumpy() for n, p in net.collect_params(".*_weight").items()}
    losses = _train_one_epoch(net, train_data, CTX, steps=2)
    eval_metric = VOC07MApMetric(iou_thresh=0.5, class_names=net.classes)
    names, values = _validate(net, val_data, CTX, eval_metric)
    prefix = str(tmp_path_factory.mktemp("train_ssd") / NET_NAME)
    net.save_params(f"{prefix}_best.params")  # train_ssd.py save_params (line 217)
    return dict(net=net, losses=losses, names=names, values=values, before=before,
                params=f"{prefix}_best.params")


def test_train_ssd_trains_on_two_contexts_and_validates(trained):
    net = trained["net"]
    assert len(trained["losses"]) == 2 and all(np.isfinite(trained["losses"]))
    # Gradients were summed over both contexts: the copies of every weight are equal, and moved.
    moved = 0
    for name, p in net.collect_params(".*_weight").items():
        np.testing.assert_array_equal(p.data(CTX[0]).asnumpy(), p.data(CTX[1]).asnumpy())
        moved += not np.array_equal(p.data(CTX[0]).asnumpy(), trained["before"][name])
    assert moved == len(trained["before"])
    # VOC07MApMetric: one AP per VOC class, then mAP.
    assert trained["names"][-1] == "mAP" and len(trained["names"]) == 21
    assert 0.0 <= float(trained["values"][-1]) <= 1.0


def test_eval_and_demo_load_the_saved_params(trained, tmp_path):
    # eval_ssd.py lines 165-168 / demo_ssd.py lines 42-44: a fresh net loads the saved file.
    net = get_model(NET_NAME, pretrained=False, pretrained_base=False)
    net.load_parameters(trained["params"])
    net.set_nms(nms_thresh=0.45, nms_topk=400)
    net.hybridize()
    trained_net = trained["net"]
    trained_net.collect_params().reset_ctx(mx.cpu())
    img = np.random.RandomState(3).randint(0, 255, (150, 200, 3)).astype("uint8")
    path = str(tmp_path / "street.png")
    matplotlib.image.imsave(path, img)  # PNG: lossless
    # demo_ssd.py lines 49-53: load_test, forward, plot_bbox.
    x, orig = presets.ssd.load_test(path, short=DATA_SHAPE)
    ids, scores, bboxes = [xx[0].asnumpy() for xx in net(x)]
    expected = [xx[0].asnumpy() for xx in trained_net(x)]
    assert_same_detections([a[None] for a in expected], [a[None] for a in (ids, scores, bboxes)],
                           score_atol=1e-5, box_atol=1e-3)
    # train_ssd.py --syncbn --resume (lines 385-393): a SyncBatchNorm net loads the same file;
    # at inference it normalises with the running statistics, so it detects the same.
    sync = get_model(NET_NAME, pretrained_base=False, norm_layer=gluon.contrib.nn.SyncBatchNorm,
                     norm_kwargs={"num_devices": len(CTX)})
    sync.load_parameters(trained["params"])
    assert_same_detections([a[None] for a in expected], [xx.asnumpy() for xx in sync(x)],
                           score_atol=1e-5, box_atol=1e-3)
    thresh = float(np.sort(scores[:, 0])[-5])  # five boxes at or above it
    ax = gcv.utils.viz.plot_bbox(orig, bboxes, scores, ids, thresh=thresh, class_names=net.classes)
    drawn = int(((scores[:, 0] >= thresh) & (ids[:, 0] >= 0)).sum())
    assert drawn >= 5 and len(ax.patches) == drawn


def test_export_block_reimports_with_the_same_detections(trained, tmp_path):
    # export_pretrained.py line 16: export_block(name, net, preprocess=True, layout='HWC').
    net = get_model(NET_NAME, pretrained_base=False)
    net.load_parameters(trained["params"])
    prefix = str(tmp_path / NET_NAME)
    gcv.utils.export_block(prefix, net, data_shape=(DATA_SHAPE, DATA_SHAPE, 3), preprocess=True,
                           layout="HWC")
    deployed = gluon.SymbolBlock.imports(f"{prefix}-symbol.json", ["data"],
                                         f"{prefix}-0000.params")
    img = mx.nd.array(np.random.RandomState(4).randint(0, 255, (1, DATA_SHAPE, DATA_SHAPE, 3)))
    # export_block's preprocess: HWC 0-255 -> CHW, /255, ImageNet mean / std (GluonCV's).
    mean = mx.nd.array([0.485, 0.456, 0.406]).reshape((1, 3, 1, 1))
    std = mx.nd.array([0.229, 0.224, 0.225]).reshape((1, 3, 1, 1))
    x = (img.transpose((0, 3, 1, 2)) / 255 - mean) / std
    assert_same_detections(net(x), deployed(img), score_atol=1e-4, box_atol=1e-2)

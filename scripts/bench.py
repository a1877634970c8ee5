"""Speed of gluon_ssd's detectors against GluonCV's identical architectures: inference and training.

One script, two modes (``--mode inference|training|all``, default all). Every network is built
with random weights (no downloads: ``pretrained_base=False``), initialised with
``mx.init.Xavier()`` (1-D BatchNorm vectors that GluonCV leaves to the global initializer get the
usual 1 / 0 constants, see :class:`XavierOrConstant`) and hybridized with
``static_alloc=True, static_shape=True``. Each model name exists in both zoos. The script reports;
it never asserts a target.

Inference
---------
For each model and batch size, one fixed random fp32 tensor ``(batch, 3, base, base)`` at the
model's base size (300 or 512) goes through up to five *variants* (``--variants``):

- ``gluoncv``: GluonCV's network, fp32, hybridized (the reference of every ratio);
- ``ours``: our network, fp32, hybridized;
- ``exported``: ``gluon_ssd.deploy.export(net, dir, data_shape=(base, base))`` then
  ``deploy.load(dir, runtime='mxnet', precision='fp32')`` (BatchNorm folded into the
  convolutions, oneDNN subgraph fusion at load);
- ``int8``: the same bundle's oneDNN int8 graph (``export(..., int8=True, calib_images=...,
  int8_tolerance=None)``, ``load(dir, runtime='mxnet', precision='int8')``), calibrated
  (``naive``) on a few synthetic shape images (:func:`gluon_ssd.data.synthetic.generate_image`);
  the int8 / fp32 detection
  agreement the export measured is printed (random nets rarely score >= 0.5: then n/a);
- ``onnx``: the bundle's ONNX graph (the whole detector, NMS inside) in ONNX Runtime (CPU
  execution provider), through ``deploy.load(dir, runtime='onnxruntime')``;
- ``onnx_static``: the same with ``export(..., static_shape=True)`` (anchors folded to a
  constant, input size fixed);
- ``openvino``: the dynamic ONNX graph in OpenVINO, ``precision='fp32'`` (``f32`` hint);
- ``openvino_bf16``: the same at ``precision='bf16'``, only on a CPU with bf16 units
  (``avx512_bf16`` or ``amx_bf16``; otherwise left out and said so);
- ``openvino_static``: the static ONNX graph reshaped to the batch's exact shape, f32.

The ONNX variants take numpy input and return numpy detections; their latency is the call.
The CPU's ISA (``gluon_ssd.deploy.isa_summary``) is printed and saved with the results.

All variants share the NMS settings (``set_nms(nms_thresh=0.45, nms_topk=400, post_nms=100)``
before export): NMS cost depends on the scores, and random nets give near-uniform scores, so the
400 candidates all pass the score threshold. Every latency includes NMS on whatever scores that
variant's (random) network produces: the int8 and ONNX scores differ slightly from fp32.

A *run* is one call on the whole batch (backbone, extras, heads, anchors, box decoding, NMS)
followed by ``mx.nd.waitall()``, timed on the wall clock. After the warm-up runs of every variant
(graph tracing, memory planning, oneDNN primitive creation), the timed runs go round the variants,
the order rotated by one every round, so all see the same machine noise; the latency is the
median. Batch 1 uses ``--repeats`` timed runs and ``--warmup`` warm-up runs; larger batches (a
VGG300 batch of 8 takes seconds) use ``max(3, repeats // 3)`` timed runs and ``min(warmup, 1)``
warm-up run.

Compute. FLOPs per image are counted on our inference symbol by symbolic shape inference at
``(1, 3, base, base)``: for every ``Convolution`` and ``FullyConnected`` node, multiply-adds =
``prod(output shape) * prod(weight shape[1:])`` (grouped / depthwise convolutions included, since
the weight holds ``in_channels / groups``), and FLOPs = 2 x multiply-adds; everything else
(BatchNorm, activations, anchors, decoding, NMS) is left out. GluonCV's symbol is counted the
same way as a check. The machine's *matrix-multiply ceiling* is measured at the start: the best
of a few numpy float32 ``2048 x 2048`` products, ``2 n^3 / seconds``. Each row reports the
achieved GFLOP/s (``FLOPs x batch / latency``; for int8 the same fp32-equivalent count), its
fraction of the ceiling, and ``x floor``: latency over the *FLOP floor* ``FLOPs x batch /
ceiling``, the time the convolutions would take at numpy's matrix-multiply speed. It is a
reference, not a hard limit: a GEMM better tuned than numpy's BLAS for this CPU (ONNX Runtime's
MLAS, oneDNN) can beat it (``x floor`` below 1), and int8 goes well beyond it.

Targets (reported, not asserted; ssd_300_vgg16_atrous_voc, batch 1, this project's 2-core CPU):
exported fp32 at most 0.77 x GluonCV's latency; int8 at most 0.5 x; the ONNX Runtime path (with
its numpy NMS) at most 1.15 x the FLOP floor; and ours fp32 not slower than GluonCV anywhere.

Training
--------
Images/s of one training step on a fixed batch (``--train-batch`` images at ``--train-size``,
default the model's base size), both nets with ``gluon.Trainer(..., 'sgd', learning_rate=1e-3,
momentum=0.9, wd=5e-4)``:

- ours: :func:`gluon_ssd.train.fit`'s own step, :class:`gluon_ssd.steps.TrainStep` (forward in
  train mode, :class:`gluon_ssd.loss.SSDTargets` from the anchors,
  :class:`gluon_ssd.loss.SSDMultiBoxLoss` (hybridized), ``autograd.backward``,
  ``trainer.step(batch)``, the loss read back once);
- GluonCV, as its ``train_ssd.py`` does with in-loop targets: forward in train mode,
  ``SSDTargetGenerator(iou_thresh=0.5, stds=(0.1, 0.1, 0.2, 0.2), negative_mining_ratio=-1)`` on
  the batch (under ``autograd.pause``), ``gluoncv.loss.SSDMultiBoxLoss()`` on the lists,
  ``autograd.backward``, ``trainer.step(1)``.

A step ends with ``mx.nd.waitall()``; steps alternate GluonCV / ours (order swapped every round),
with ``max(3, repeats // 3)`` timed steps after ``min(warmup, 1)`` warm-up step each; images/s =
batch / median step time, and the ratio ours / GluonCV (>= 1.0 is the target). Next to it, the
data pipeline: ``--pipeline-images`` synthetic VOC images (375 x 500,
:func:`gluon_ssd.data.synthetic.generate_voc`, in a temporary folder) loaded through
``gluon.data.DataLoader(VOCDataset(...).transform(train_transform(size, mean, std, 'flip')),
batch, batchify_fn=batchify(), num_workers=0)``: images/s of the loading alone (the faster of two
passes). The training batch is the loader's first batch.

The machine is shared: the load average at the start and the end is printed and saved.

Usage::

    python scripts/bench.py --quick
    python scripts/bench.py --mode inference --models ssd_300_vgg16_atrous_voc --batch-sizes 1
    python scripts/bench.py --out bench.json --plot bench.png
"""
import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402
from tqdm import tqdm  # noqa: E402

from gluon_ssd import deploy, zoo  # noqa: E402
from gluon_ssd.cli import run  # noqa: E402
from gluon_ssd.steps import TrainStep  # noqa: E402

DEFAULT_MODELS = ["ssd_300_vgg16_atrous_voc", "ssd_512_resnet50_v1_voc",
                  "ssd_300_mobilenet0.25_voc"]
# Option defaults of a full run and of --quick (options given on the command line win).
DEFAULTS = dict(models=DEFAULT_MODELS, batch_sizes=[1, 8], repeats=10, warmup=2, train_batch=8,
                pipeline_images=64, calib_images=4)
QUICK = dict(models=["ssd_300_mobilenet0.25_voc"], batch_sizes=[1], repeats=3, warmup=1,
             train_batch=2, pipeline_images=8, calib_images=2)
VARIANTS = ("gluoncv", "ours", "exported", "int8", "onnx", "onnx_static", "openvino",
            "openvino_bf16", "openvino_static")
LABELS = {"gluoncv": "GluonCV fp32", "ours": "ours fp32", "exported": "ours exported",
          "int8": "ours int8", "onnx": "ONNX Runtime", "onnx_static": "ORT static",
          "openvino": "OpenVINO f32", "openvino_bf16": "OpenVINO bf16",
          "openvino_static": "OV f32 static"}
# The variants deploy.load offers (the fastest of them is the deployment target).
DEPLOYED = ("exported", "int8", "onnx", "onnx_static", "openvino", "openvino_bf16",
            "openvino_static")
ONNX_VARIANTS = ("onnx", "onnx_static", "openvino", "openvino_bf16", "openvino_static")
NMS = dict(nms_thresh=0.45, nms_topk=400, post_nms=100)
SGD = dict(learning_rate=1e-3, momentum=0.9, wd=5e-4)
PIPELINE_IMAGE_SIZE = (375, 500)  # (height, width), a typical VOC image
TARGET_MODEL, TARGET_BATCH = "ssd_300_vgg16_atrous_voc", 1
TARGET_EXPORTED, TARGET_INT8, TARGET_TRAIN = 0.77, 0.5, 1.0
# Issue 10: the fastest runtime deploy.load offers, x GluonCV fp32, batch 1.
TARGET_DEPLOY_BF16, TARGET_DEPLOY_NO_BF16 = 0.12, 0.45
SMALL_MODEL, TARGET_DEPLOY_SMALL = "ssd_300_mobilenet0.25_voc", 0.2


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
    mx.random.seed(0)
    net = zoo.get_model(name, pretrained_base=False)
    net.initialize(initializer(), ctx=ctx)
    net.set_nms(**NMS)
    net.hybridize(static_alloc=True, static_shape=True)
    return net


def build_gluoncv(name, ctx):
    import gluoncv
    mx.random.seed(0)
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


# ----------------------------------------------------------------------------------------------
# Compute: FLOPs of a network, matrix-multiply ceiling of the machine
# ----------------------------------------------------------------------------------------------

def count_flops(net, size):
    """int: FLOPs of one ``size x size`` image through ``net``'s inference graph.

    2 x the multiply-adds of every ``Convolution`` / ``FullyConnected`` node, from symbolic shape
    inference: ``prod(output shape) * prod(weight shape[1:])``.
    """
    out = net(mx.sym.var("data"))  # outside autograd.record: the inference graph
    sym = mx.sym.Group(list(out)) if isinstance(out, (list, tuple)) else out
    internals = sym.get_internals()
    _, out_shapes, _ = internals.infer_shape(data=(1, 3, size, size))
    shapes = dict(zip(internals.list_outputs(), out_shapes))
    nodes = json.loads(sym.tojson())["nodes"]
    macs = 0
    for node in nodes:
        if node["op"] in ("Convolution", "FullyConnected"):
            weight = shapes[nodes[node["inputs"][1][0]]["name"]]
            macs += int(np.prod(shapes[node["name"] + "_output"])) * int(np.prod(weight[1:]))
    return 2 * macs


def matmul_ceiling(n=2048, tries=5):
    """float: the best GFLOP/s of a numpy float32 ``n x n`` matrix product over ``tries``."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm-up: threads, pages
    best = float("inf")
    for _ in range(tries):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2.0 * n ** 3 / best / 1e9


# ----------------------------------------------------------------------------------------------
# Inference
# ----------------------------------------------------------------------------------------------

def mxnet_runner(call, x):
    """A run of ``call(x)`` (MXNet outputs), synchronised: returns ``(seconds, None)``."""
    def run():
        mx.nd.waitall()
        start = time.perf_counter()
        out = call(x)
        for o in out:
            o.wait_to_read()
        mx.nd.waitall()
        return time.perf_counter() - start, None
    return run


def numpy_runner(call, x):
    """A run of ``call(x)`` on numpy ``x`` (numpy outputs): returns ``(seconds, None)``."""
    def run():
        start = time.perf_counter()
        call(x)
        return time.perf_counter() - start, None
    return run


def static_openvino_maker(path):
    """A maker compiling ``path`` for the batch's exact input shape (OpenVINO, f32)."""
    from gluon_ssd.deploy.runtimes import OpenVINOSession

    def make(xs):
        session = OpenVINOSession(path, "fp32", static_shape=xs[1].shape)
        return numpy_runner(session.run, xs[1])
    return make


def calibration_images(size, count):
    """``count`` synthetic ``(size, size, 3)`` uint8 shape images, seeded."""
    from gluon_ssd.data.synthetic import generate_image
    return [generate_image(np.random.default_rng([7, k]), (size, size))[0] for k in range(count)]


def inference_plan(batch, repeats, warmup):
    """(timed runs, warm-up runs) at ``batch`` (see the module docstring)."""
    if batch == 1:
        return repeats, warmup
    return max(3, repeats // 3), min(warmup, 1)


def prepare_model(name, variants, calib_count, tmp_root, ctx, progress):
    """Build, count and export ``name``: (info dict, {variant: callable(x_nd, x_np) -> runner})."""
    size = base_size(name)
    nets, makers = {}, {}
    if "gluoncv" in variants:
        nets["gluoncv"] = build_gluoncv(name, ctx)
    ours = build_ours(name, ctx)
    if "ours" in variants:
        nets["ours"] = ours
    ours(mx.nd.zeros((1, 3, size, size), ctx=ctx))
    info = {"model": name, "size": size, "flops_per_image": count_flops(ours, size),
            "ours_params": trainable_params(ours)}
    if "gluoncv" in nets:
        nets["gluoncv"](mx.nd.zeros((1, 3, size, size), ctx=ctx))
        info["gluoncv_flops_per_image"] = count_flops(nets["gluoncv"], size)
        info["gluoncv_params"] = trainable_params(nets["gluoncv"])
    for key, net in nets.items():
        makers[key] = lambda xs, net=net: mxnet_runner(net, xs[0])

    if set(DEPLOYED) & set(variants):
        progress.set_postfix_str(f"{name} export")
        bundle = tempfile.mkdtemp(prefix="bundle-", dir=tmp_root)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            manifest = deploy.export(
                ours, bundle, data_shape=(size, size), int8="int8" in variants,
                calib_images=calibration_images(size, calib_count) if "int8" in variants
                else None, int8_tolerance=None,
                onnx=bool({"onnx", "openvino", "openvino_bf16"} & set(variants)))
        info["export_s"] = time.perf_counter() - start
        info["batchnorm_folded"] = manifest["optimizations"]["batchnorm_folded"]
        if "exported" in variants:
            det = deploy.load(bundle, runtime="mxnet", precision="fp32", ctx=ctx)
            makers["exported"] = lambda xs, det=det: mxnet_runner(det, xs[0])
        if "int8" in variants:
            info["int8_agreement"] = manifest["variants"]["int8"]["agreement"]["map"]
            qdet = deploy.load(bundle, runtime="mxnet", precision="int8", ctx=ctx)
            makers["int8"] = lambda xs, qdet=qdet: mxnet_runner(qdet, xs[0])
        makers.update(onnx_makers(ours, bundle, size, variants, tmp_root, info))
    return info, {v: makers[v] for v in variants if v in makers}


def onnx_makers(net, bundle, size, variants, tmp_root, info):
    """Makers of the ONNX variants (see the module docstring); skipped ones go in ``info``."""
    makers, info["skipped"] = {}, {}
    if "openvino_bf16" in variants and not deploy.has_bf16():
        info["skipped"]["openvino_bf16"] = f"CPU has no bf16 units ({deploy.isa_summary()})"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bf16 unverified on a random net: asked for anyway
        for v, runtime, precision in (("onnx", "onnxruntime", "fp32"),
                                      ("openvino", "openvino", "fp32"),
                                      ("openvino_bf16", "openvino", "bf16")):
            if v in variants and v not in info["skipped"]:
                det = deploy.load(bundle, runtime=runtime, precision=precision)
                makers[v] = lambda xs, det=det: numpy_runner(det, xs[1])
    if {"onnx_static", "openvino_static"} & set(variants):
        static = tempfile.mkdtemp(prefix="static-", dir=tmp_root)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            manifest = deploy.export(net, static, data_shape=(size, size), onnx=True,
                                     static_shape=True)
        if "onnx_static" in variants:
            det = deploy.load(static, runtime="onnxruntime")
            makers["onnx_static"] = lambda xs, det=det: numpy_runner(det, xs[1])
        if "openvino_static" in variants:
            path = os.path.join(static, manifest["variants"]["onnx"]["file"])
            makers["openvino_static"] = static_openvino_maker(path)
    return makers


def bench_inference(info, makers, batch, repeats, warmup, ctx, progress):
    """Median latencies of every variant on one ``batch``, timed round-robin."""
    name, size = info["model"], info["size"]
    progress.set_postfix_str(f"{name} b{batch}")
    mx.random.seed(0)
    x = mx.nd.random.normal(0, 1, shape=(batch, 3, size, size), ctx=ctx)
    runners = {v: make((x, x.asnumpy())) for v, make in makers.items()}
    variants = list(runners)
    repeats, warmup = inference_plan(batch, repeats, warmup)
    for _ in range(warmup):
        for v in variants:
            runners[v]()
            progress.update(1)
    times = {v: [] for v in variants}
    for r in range(repeats):
        shift = r % len(variants)
        for v in variants[shift:] + variants[:shift]:
            seconds, _ = runners[v]()
            times[v].append(seconds)
            progress.update(1)
    flops = info["flops_per_image"] * batch
    row = {"model": name, "batch": batch, "input": [batch, 3, size, size], "repeats": repeats,
           "warmup": warmup, "flops": flops, "variants": {}}
    for v in variants:
        median = statistics.median(times[v])
        row["variants"][v] = {"ms": 1000 * median, "runs_ms": [1000 * t for t in times[v]],
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


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------

def make_pipeline_data(root, count):
    """A synthetic VOC folder of ``count`` train images: the :class:`VOCDataset` over it."""
    from gluon_ssd.data import VOCDataset
    from gluon_ssd.data.synthetic import CLASSES, generate_voc
    generate_voc(root, num_train=count, num_val=0, image_size=PIPELINE_IMAGE_SIZE, seed=0,
                 progress=False)
    return VOCDataset(root, CLASSES, "train")


def bench_pipeline(dataset, size, mean, std, batch):
    """(images/s of the faster of two passes over the loader, its first batch)."""
    from gluon_ssd.transforms import batchify, train_transform
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
    :class:`gluon_ssd.steps.TrainStep` (targets, loss, backward, update, one host sync)."""
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
    generator = SSDTargetGenerator(iou_thresh=0.5, stds=(0.1, 0.1, 0.2, 0.2),
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


def timed_step(step):
    mx.nd.waitall()
    start = time.perf_counter()
    step()
    mx.nd.waitall()
    return time.perf_counter() - start


def training_plan(repeats, warmup):
    """(timed steps, warm-up steps) per network (see the module docstring)."""
    return max(3, repeats // 3), min(warmup, 1)


def bench_training(name, dataset, size, batch, repeats, warmup, ctx, progress):
    """Images/s of GluonCV's and our training step on the same batch, and of the data pipeline."""
    progress.set_postfix_str(f"{name} train")
    config, _ = zoo.get_config(name)
    pipeline_ips, (data, label) = bench_pipeline(dataset, size, config.mean, config.std, batch)
    data, label = data.as_in_context(ctx), label.as_in_context(ctx)
    steps = {"gluoncv": gluoncv_train_step(name, ctx, (data, label))[0],
             "ours": ours_train_step(name, ctx, (data, label))[0]}
    repeats, warmup = training_plan(repeats, warmup)
    for _ in range(warmup):
        for step in steps.values():
            timed_step(step)
            progress.update(1)
    times = {k: [] for k in steps}
    for r in range(repeats):
        for key in (["gluoncv", "ours"] if r % 2 == 0 else ["ours", "gluoncv"]):
            times[key].append(timed_step(steps[key]))
            progress.update(1)
    del steps
    median = {k: statistics.median(v) for k, v in times.items()}
    return {"model": name, "batch": batch, "input": [batch, 3, size, size],
            "repeats": repeats, "warmup": warmup,
            "gluoncv_images_per_s": batch / median["gluoncv"],
            "ours_images_per_s": batch / median["ours"],
            "ratio": median["gluoncv"] / median["ours"],
            "pipeline_images_per_s": pipeline_ips, "pipeline_images": len(dataset),
            "gluoncv_steps_ms": [1000 * t for t in times["gluoncv"]],
            "ours_steps_ms": [1000 * t for t in times["ours"]]}


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------

def _fmt(value, spec, missing="-"):
    return missing if value is None else format(value, spec)


def print_inference(infos, rows, ceiling, repeats):
    print(f"Matrix-multiply ceiling (numpy float32 2048x2048, best of 5): {ceiling:.1f} GFLOP/s")
    print("FLOPs per image: 2 x multiply-adds of Convolution/FullyConnected nodes, by symbolic "
          "shape inference\n")
    for info in infos:
        check = ""
        if "gluoncv_flops_per_image" in info:
            same = info["gluoncv_flops_per_image"] == info["flops_per_image"]
            check = (" (GluonCV's graph: same)" if same else
                     f" (GluonCV's graph: {info['gluoncv_flops_per_image'] / 1e9:.2f} GFLOP, "
                     f"DIFFERENT)")
        print(f"{info['model']}: {info['flops_per_image'] / 1e9:.2f} GFLOP per image{check}")
        if "gluoncv_params" in info:
            same = "same" if info["gluoncv_params"] == info["ours_params"] else "DIFFERENT"
            print(f"  trainable parameters: GluonCV {info['gluoncv_params']:,}, ours "
                  f"{info['ours_params']:,} ({same})")
        if "export_s" in info:
            agreement = info.get("int8_agreement", "not exported")
            agreement = "n/a (no fp32 detection >= 0.5)" if agreement is None else (
                agreement if isinstance(agreement, str) else f"{agreement:.3f}")
            print(f"  export {info['export_s']:.1f} s, {info['batchnorm_folded']} BatchNorm "
                  f"folded; int8 agreement with fp32 (mAP): {agreement}")
        for variant, why in info.get("skipped", {}).items():
            print(f"  {LABELS[variant]} not measured: {why}")
    print()
    header = (f"{'model':<28} {'batch':>5} {'variant':<14} {'median ms':>10} {'x GluonCV':>9} "
              f"{'GFLOP/s':>8} {'% ceil':>7} {'floor ms':>9} {'x floor':>8}")
    print(header)
    print("-" * len(header))
    for row in rows:
        for v, e in row["variants"].items():
            print(f"{row['model']:<28} {row['batch']:>5} {LABELS[v]:<14} {e['ms']:>10.1f} "
                  f"{_fmt(e['x_gluoncv'], '.3f'):>9} {e['gflops']:>8.1f} "
                  f"{100 * e['fraction_of_ceiling']:>7.1f} {row['floor_ms']:>9.1f} "
                  f"{e['x_floor']:>8.2f}")
    print(f"\nMedian of {repeats} timed runs per variant at batch 1, "
          f"{inference_plan(2, repeats, 0)[0]} at larger batches; x floor = latency / "
          f"(FLOPs x batch / ceiling).")


def print_training(rows):
    header = (f"{'model':<28} {'batch':>5} {'size':>5} {'GluonCV img/s':>14} "
              f"{'ours img/s':>11} {'ours/GluonCV':>13} {'data img/s':>11}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['model']:<28} {r['batch']:>5} {r['input'][2]:>5} "
              f"{r['gluoncv_images_per_s']:>14.2f} {r['ours_images_per_s']:>11.2f} "
              f"{r['ratio']:>13.3f} {r['pipeline_images_per_s']:>11.1f}")
    if rows:
        print(f"\nTraining step: forward + targets + loss + backward + SGD update, median of "
              f"{rows[0]['repeats']} steps; data: loading + transform + batchify of "
              f"{rows[0]['pipeline_images']} images, num_workers=0.")


def fastest_deployed(row):
    """The smallest x GluonCV among the deployed variants of ``row`` (None if not measured)."""
    ratios = [e["x_gluoncv"] for v, e in (row or {}).get("variants", {}).items()
              if v in DEPLOYED and e.get("x_gluoncv") is not None]
    return min(ratios) if ratios else None


def targets_report(inference_rows, training_rows):
    """[(description, value, met or None)]: the issue's targets, as measured in this run."""
    out = []

    def check(text, value, limit, above=False):
        met = None if value is None else (value >= limit if above else value <= limit)
        out.append({"target": text, "value": value, "met": met})

    target = next((r for r in inference_rows if r["model"] == TARGET_MODEL
                   and r["batch"] == TARGET_BATCH), None)
    variants = target["variants"] if target else {}
    where = f"{TARGET_MODEL} batch {TARGET_BATCH}"
    check(f"{where}: exported fp32 <= {TARGET_EXPORTED} x GluonCV",
          variants.get("exported", {}).get("x_gluoncv"), TARGET_EXPORTED)
    check(f"{where}: int8 <= {TARGET_INT8} x GluonCV", variants.get("int8", {}).get("x_gluoncv"),
          TARGET_INT8)
    bf16 = deploy.has_bf16()
    limit = TARGET_DEPLOY_BF16 if bf16 else TARGET_DEPLOY_NO_BF16
    check(f"{where}: fastest deploy.load runtime <= {limit} x GluonCV "
          f"({'CPU with' if bf16 else 'CPU without'} bf16 units)", fastest_deployed(target), limit)
    small = next((r for r in inference_rows if r["model"] == SMALL_MODEL
                  and r["batch"] == TARGET_BATCH), None)
    check(f"{SMALL_MODEL} batch {TARGET_BATCH}: fastest deploy.load runtime <= "
          f"{TARGET_DEPLOY_SMALL} x GluonCV", fastest_deployed(small), TARGET_DEPLOY_SMALL)
    ours = [r["variants"]["ours"]["x_gluoncv"] for r in inference_rows
            if r["variants"].get("ours", {}).get("x_gluoncv") is not None]
    check(f"ours fp32 <= 1.0 x GluonCV in all {len(ours)} inference cases (worst)",
          max(ours) if ours else None, 1.0)
    ratios = [r["ratio"] for r in training_rows]
    check(f"training images/s ours / GluonCV >= {TARGET_TRAIN} in all {len(ratios)} models "
          f"(worst)", min(ratios) if ratios else None, TARGET_TRAIN, above=True)
    return out


def plot(inference_rows, training_rows, path):
    panels = [p for p in ("inference", "training")
              if (inference_rows if p == "inference" else training_rows)]
    fig, axes = plt.subplots(len(panels), 1, squeeze=False,
                             figsize=(max(8, 2.4 * max(len(inference_rows), len(training_rows))),
                                      4.5 * len(panels)))
    for ax, panel in zip(axes[:, 0], panels):
        if panel == "inference":
            variants = [v for v in VARIANTS if any(v in r["variants"] for r in inference_rows)]
            groups = [f"{r['model']}\nbatch {r['batch']}" for r in inference_rows]
            series = {LABELS[v]: [r["variants"].get(v, {}).get("ms", 0) for r in inference_rows]
                      for v in variants}
            series["FLOP floor"] = [r["floor_ms"] for r in inference_rows]
            ax.set_ylabel("median latency (ms)")
            ax.set_yscale("log")
            ax.set_title("SSD inference latency (median; floor = FLOPs / matmul ceiling)",
                         fontsize=10)
        else:
            groups = [f"{r['model']}\nbatch {r['batch']}, ours/GluonCV x{r['ratio']:.2f}"
                      for r in training_rows]
            series = {"GluonCV step": [r["gluoncv_images_per_s"] for r in training_rows],
                      "ours step": [r["ours_images_per_s"] for r in training_rows],
                      "data pipeline": [r["pipeline_images_per_s"] for r in training_rows]}
            ax.set_ylabel("images/s")
            ax.set_yscale("log")
            ax.set_title("SSD training throughput (median step) and data loading", fontsize=10)
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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def runtime_versions():
    """'onnxruntime X, openvino Y' for the runtimes installed."""
    import importlib
    found = []
    for name in ("onnxruntime", "openvino"):
        try:
            found.append(f"{name} {importlib.import_module(name).__version__}")
        except ImportError:
            found.append(f"{name} not installed")
    return ", ".join(found)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=("inference", "training", "all"), default="all")
    parser.add_argument("--models", nargs="+",
                        help=f"model names present in both zoos (default {DEFAULT_MODELS}; "
                             f"--quick: {QUICK['models']})")
    parser.add_argument("--batch-sizes", nargs="+", type=int,
                        help="inference batch sizes (default 1 8)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                        help="inference variants (ratios need gluoncv)")
    parser.add_argument("--repeats", type=int,
                        help="timed runs per variant at batch 1, default 10 (larger batches and "
                             "training: max(3, repeats // 3))")
    parser.add_argument("--warmup", type=int,
                        help="untimed runs per variant at batch 1, default 2 (larger batches and "
                             "training: min(warmup, 1))")
    parser.add_argument("--train-batch", type=int, help="training batch size (default 8)")
    parser.add_argument("--train-size", type=int,
                        help="training input side (default the model's base size; GluonCV's VGG "
                             "extras need at least the base size)")
    parser.add_argument("--pipeline-images", type=int,
                        help="synthetic images for the data-pipeline measurement (default 64)")
    parser.add_argument("--calib-images", type=int,
                        help="synthetic images calibrating the int8 graph (default 4)")
    parser.add_argument("--quick", action="store_true",
                        help="defaults for a smoke run: mobilenet0.25 only, batch 1, 3 repeats, "
                             "1 warm-up, training batch 2 on 8 images, 2 calibration images "
                             "(options given explicitly win)")
    parser.add_argument("--out", help="write the results to this JSON file")
    parser.add_argument("--plot", help="save bar charts of the results to this PNG")
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.variants = [v for v in VARIANTS if v in args.variants]
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be >= 1 and --warmup >= 0")
    if min(args.batch_sizes) < 1 or args.train_batch < 1 or args.calib_images < 1:
        parser.error("batch sizes and --calib-images must be >= 1")
    if args.pipeline_images < args.train_batch:
        parser.error(f"--pipeline-images ({args.pipeline_images}) must be >= --train-batch "
                     f"({args.train_batch}): the training batch comes from the pipeline")
    if args.train_size is not None and args.train_size < 32:
        parser.error("--train-size must be >= 32")
    for name in args.models:
        zoo.get_config(name)  # fail early on unknown names, with close matches
    ctx = mx.cpu()
    inference, training = args.mode in ("inference", "all"), args.mode in ("training", "all")

    wall = time.perf_counter()
    load_start = os.getloadavg()
    ceiling = matmul_ceiling()
    total = 0
    if inference:
        total += len(args.models) * len(args.variants) * sum(
            sum(inference_plan(b, args.repeats, args.warmup)) for b in args.batch_sizes)
    if training:
        total += len(args.models) * 2 * sum(training_plan(args.repeats, args.warmup))
    infos, inference_rows, training_rows = [], [], []
    with tempfile.TemporaryDirectory(prefix="gluon_ssd-bench-") as tmp, \
            tqdm(total=total, desc="bench", unit="run", file=sys.stderr) as progress:
        if inference:
            for name in args.models:
                info, makers = prepare_model(name, args.variants, args.calib_images, tmp, ctx,
                                             progress)
                infos.append(info)
                for batch in args.batch_sizes:
                    row = bench_inference(info, makers, batch, args.repeats, args.warmup, ctx,
                                          progress)
                    add_ratios(row, ceiling)
                    inference_rows.append(row)
                del makers
        if training:
            progress.set_postfix_str("synthetic data")
            dataset = make_pipeline_data(os.path.join(tmp, "voc"), args.pipeline_images)
            for name in args.models:
                size = args.train_size or base_size(name)
                training_rows.append(bench_training(name, dataset, size, args.train_batch,
                                                    args.repeats, args.warmup, ctx, progress))
    wall = time.perf_counter() - wall
    load_end = os.getloadavg()

    print(f"\nmxnet {mx.__version__}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, ctx {ctx}; CPU ISA: {deploy.isa_summary()}; "
          f"{runtime_versions()}; load average (1 min) {load_start[0]:.2f} at the start, "
          f"{load_end[0]:.2f} at the end; wall time {wall:.0f} s\n")
    if inference:
        print_inference(infos, inference_rows, ceiling, args.repeats)
        print()
    if training:
        print_training(training_rows)
        print()
    targets = targets_report(inference_rows, training_rows)
    print("Targets (reported, not asserted):")
    for t in targets:
        state = "not measured" if t["met"] is None else ("met" if t["met"] else "NOT met")
        print(f"  {t['target']:<80} {_fmt(t['value'], '.3f'):>7}  {state}")

    if args.out:
        with open(args.out, "w") as f:
            json.dump({"mxnet": mx.__version__, "cpus": os.cpu_count(), "ctx": str(ctx),
                       "cpu_isa": deploy.cpu_isa(), "cpu_isa_summary": deploy.isa_summary(),
                       "runtimes": runtime_versions(),
                       "load_average": {"start": load_start, "end": load_end},
                       "wall_s": wall, "matmul_ceiling_gflops": ceiling,
                       "flops_method": "2 x multiply-adds of Convolution/FullyConnected nodes, "
                                       "symbolic shape inference on our inference symbol",
                       "nms": NMS, "sgd": SGD, "args": vars(args), "models": infos,
                       "inference": inference_rows, "training": training_rows,
                       "targets": targets}, f, indent=2)
        print(f"wrote {args.out}")
    if args.plot:
        plot(inference_rows, training_rows, args.plot)
        print(f"wrote {args.plot}")
    return {"inference": inference_rows, "training": training_rows, "targets": targets}


if __name__ == "__main__":
    sys.exit(run(main))

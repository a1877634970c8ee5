"""What the inference bench times: one row of :data:`TABLE` per variant.

Each variant runs on a *source*: GluonCV's or our network (``'gluoncv'``, ``'ours'``), the bundle
``deploy.export(net, dir, data_shape=(base, base), int8_tolerance=None, **options)`` exported
once per model with the options its variants ask for (``bundle_options``: ``int8=True``
calibrates on a few synthetic shape images, :func:`calibration_images`), or the static-shape
bundle ``export(..., onnx=True, static_shape=True)`` (anchors folded to a constant, input size
fixed). Its ``make(variant, source, ctx)`` returns a *maker*: ``maker((x_nd, x_np))`` -> a runner
of :mod:`.timing` for one batch.

- ``gluoncv``: GluonCV's network, fp32, hybridized (the reference of every ratio);
- ``ours``: our network, fp32, hybridized;
- ``exported``: the bundle in ``deploy.load(dir, runtime='mxnet', precision='fp32')``
  (BatchNorm folded into the convolutions, oneDNN subgraph fusion at load);
- ``int8``: the bundle's oneDNN int8 graph (``naive`` calibration), ``precision='int8'``; the
  int8 / fp32 detection agreement the export measured is recorded (random nets rarely score
  >= 0.5: then n/a);
- ``onnx``: the bundle's ONNX graph (the whole detector, NMS inside) in ONNX Runtime (CPU
  execution provider), ``deploy.load(dir, runtime='onnxruntime')``;
- ``onnx_static``: the same on the static bundle;
- ``openvino``: the dynamic ONNX graph in OpenVINO, ``precision='fp32'`` (``f32`` hint);
- ``openvino_bf16``: the same at ``precision='bf16'``, only on a CPU with bf16 units
  (``avx512_bf16`` or ``amx_bf16``; otherwise left out and said so: ``requires``);
- ``openvino_static``: the static ONNX graph reshaped to the batch's exact shape, f32;
- ``onnx_int8``: the bundle's int8 ONNX graph (QDQ, :mod:`gluon_ssd.deploy.onnx_int8`) in ONNX
  Runtime; ``onnx_static_int8`` the static bundle's; ``openvino_int8`` the static bundle's in
  OpenVINO (it runs int8 from static graphs only).

The ONNX variants take numpy input and return numpy detections; their latency is the call. Every
latency includes NMS on whatever scores that variant's (random) network produces: the int8 and
ONNX scores differ slightly from fp32.

Adding a variant is adding a row. One on another file (e.g. a quantized ONNX graph) adds a
source too: a function of :class:`Sources` returning ``{'dir': ..., 'onnx': path}`` in
:data:`SOURCES` (it may ``sources.get('bundle')`` first, with ``bundle_options={'onnx': True}``
in its rows), and rows with ``make=onnx_file_maker``.
"""
import os
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Optional

import mxnet as mx
import numpy as np

from .. import deploy
from ..data.synthetic import generate_image
from ..deploy.runtimes import OnnxRuntimeSession, OpenVINOSession
from .flops import count_flops
from .nets import base_size, build_gluoncv, build_ours, trainable_params
from .timing import mxnet_runner, numpy_runner

__all__ = ["Variant", "TABLE", "VARIANTS", "LABELS", "DEPLOYED", "NETS", "SOURCES", "Sources",
           "net_maker", "bundle_maker", "onnx_file_maker", "calibration_images",
           "bundle_options", "prepare_model"]

NETS = ("gluoncv", "ours")  # sources that are networks, not exported files


def net_maker(variant, net, ctx):
    """Makers of a network's variant: the hybridized block on the MXNet input."""
    return lambda xs: mxnet_runner(net, xs[0])


def bundle_maker(variant, source, ctx):
    """``deploy.load(source folder, runtime=variant.runtime, precision=variant.precision)``."""
    if variant.runtime == "mxnet":
        det = deploy.load(source["dir"], runtime="mxnet", precision=variant.precision, ctx=ctx)
        return lambda xs: mxnet_runner(det, xs[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bf16 unverified on a random net: asked for anyway
        det = deploy.load(source["dir"], runtime=variant.runtime, precision=variant.precision)
    return lambda xs: numpy_runner(det, xs[1])


def onnx_file_maker(variant, source, ctx):
    """A session of ``variant.runtime`` on the source's ONNX file (``source['onnx']``).

    With ``variant.per_shape`` (OpenVINO only) the model is reshaped to each batch's exact input
    shape and compiled for it; otherwise one session serves every batch.
    """
    path = source["onnx"]
    if variant.per_shape:
        if variant.runtime != "openvino":
            raise ValueError(f"variant {variant.name!r}: per_shape needs runtime='openvino'")

        def make(xs):
            session = OpenVINOSession(path, variant.precision, static_shape=xs[1].shape)
            return numpy_runner(session.run, xs[1])
        return make
    session = (OnnxRuntimeSession(path) if variant.runtime == "onnxruntime"
               else OpenVINOSession(path, variant.precision))
    return lambda xs: numpy_runner(session.run, xs[1])


def _needs_bf16():
    return None if deploy.has_bf16() else f"CPU has no bf16 units ({deploy.isa_summary()})"


@dataclass(frozen=True)
class Variant:
    """One way of running a model (see the module docstring)."""
    name: str  # --variants, JSON key
    label: str  # table column, 14 characters at most
    source: str  # 'gluoncv', 'ours' or a key of SOURCES
    runtime: str  # 'mxnet', 'onnxruntime', 'openvino'
    precision: str = "fp32"
    make: Callable = bundle_maker
    bundle_options: dict = field(default_factory=dict)  # what it needs in the bundle's export
    requires: Optional[Callable] = None  # () -> None, or why it cannot run on this machine
    per_shape: bool = False  # compiled for each batch's exact shape (onnx_file_maker)

    @property
    def deployed(self):
        """Whether it runs an exported file (deploy.load offers it), not a network."""
        return self.source not in NETS


TABLE = (
    Variant("gluoncv", "GluonCV fp32", "gluoncv", "mxnet", make=net_maker),
    Variant("ours", "ours fp32", "ours", "mxnet", make=net_maker),
    Variant("exported", "ours exported", "bundle", "mxnet"),
    Variant("int8", "ours int8", "bundle", "mxnet", "int8", bundle_options={"int8": True}),
    Variant("onnx", "ONNX Runtime", "bundle", "onnxruntime", bundle_options={"onnx": True}),
    Variant("onnx_static", "ORT static", "static", "onnxruntime"),
    Variant("openvino", "OpenVINO f32", "bundle", "openvino", bundle_options={"onnx": True}),
    Variant("openvino_bf16", "OpenVINO bf16", "bundle", "openvino", "bf16",
            bundle_options={"onnx": True}, requires=_needs_bf16),
    Variant("openvino_static", "OV f32 static", "static", "openvino", make=onnx_file_maker,
            per_shape=True),
    # The int8 ONNX graph (QDQ, calibrated like the oneDNN one); OpenVINO runs it from the
    # static graph only (gluon_ssd.deploy.onnx_int8).
    Variant("onnx_int8", "ORT int8", "bundle", "onnxruntime", "int8",
            bundle_options={"onnx": True, "int8": True}),
    Variant("onnx_static_int8", "ORT int8 stat", "static", "onnxruntime", "int8",
            bundle_options={"int8": True}),
    Variant("openvino_int8", "OV int8 static", "static", "openvino", "int8",
            bundle_options={"int8": True}),
)
VARIANTS = tuple(v.name for v in TABLE)
LABELS = {v.name: v.label for v in TABLE}
# The variants deploy.load offers (the fastest of them is the deployment target).
DEPLOYED = tuple(v.name for v in TABLE if v.deployed)
_BY_NAME = {v.name: v for v in TABLE}


def calibration_images(size, count):
    """``count`` synthetic ``(size, size, 3)`` uint8 shape images, seeded."""
    return [generate_image(np.random.default_rng([7, k]), (size, size))[0] for k in range(count)]


def bundle_options(variants, source="bundle"):
    """The keyword arguments of ``source``'s ``deploy.export`` that ``variants`` need."""
    options = {}
    for name in variants:
        if _BY_NAME[name].source == source:
            options.update(_BY_NAME[name].bundle_options)
    return options


def _files(folder, manifest):
    onnx = manifest["variants"].get("onnx")
    return {"dir": folder, "manifest": manifest,
            "onnx": os.path.join(folder, onnx["file"]) if onnx else None}


def _export_bundle(sources):
    """The bundle every deployed variant but the static ones runs (export time in ``info``)."""
    info, size = sources.info, sources.size
    sources.progress.set_postfix_str(f"{info['model']} export")
    folder = tempfile.mkdtemp(prefix="bundle-", dir=sources.tmp_root)
    options = bundle_options(sources.variants)
    if options.get("int8"):
        options["calib_images"] = calibration_images(size, sources.calib_count)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        manifest = deploy.export(sources.nets["ours"], folder, data_shape=(size, size),
                                 int8_tolerance=None, **options)
    info["export_s"] = time.perf_counter() - start
    info["batchnorm_folded"] = manifest["optimizations"]["batchnorm_folded"]
    if options.get("int8"):
        info["int8_agreement"] = manifest["variants"]["int8"]["agreement"]["map"]
    return _files(folder, manifest)


def _export_static(sources):
    """The static-shape ONNX bundle (anchors folded, input size fixed)."""
    folder = tempfile.mkdtemp(prefix="static-", dir=sources.tmp_root)
    options = bundle_options(sources.variants, "static")
    if options.get("int8"):
        options["calib_images"] = calibration_images(sources.size, sources.calib_count)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        manifest = deploy.export(sources.nets["ours"], folder, data_shape=(sources.size,) * 2,
                                 onnx=True, static_shape=True, int8_tolerance=None, **options)
    return _files(folder, manifest)


SOURCES = {"bundle": _export_bundle, "static": _export_static}


class Sources:
    """The sources of one model's variants, each built once, when first asked for."""

    def __init__(self, nets, variants, info, calib_count, tmp_root, progress):
        self.nets, self.variants, self.info = nets, list(variants), info
        self.size, self.calib_count = info["size"], calib_count
        self.tmp_root, self.progress = tmp_root, progress
        self._built = dict(nets)

    def get(self, key):
        if key not in self._built:
            self._built[key] = SOURCES[key](self)
        return self._built[key]


def _measure_nets(name, variants, ctx):
    """(info: FLOPs and parameters, {'ours': net, 'gluoncv': net if asked for})."""
    size = base_size(name)
    nets = {}
    if "gluoncv" in variants:
        nets["gluoncv"] = build_gluoncv(name, ctx)
    nets["ours"] = ours = build_ours(name, ctx)
    ours(mx.nd.zeros((1, 3, size, size), ctx=ctx))
    info = {"model": name, "size": size, "flops_per_image": count_flops(ours, size),
            "ours_params": trainable_params(ours)}
    if "gluoncv" in nets:
        nets["gluoncv"](mx.nd.zeros((1, 3, size, size), ctx=ctx))
        info["gluoncv_flops_per_image"] = count_flops(nets["gluoncv"], size)
        info["gluoncv_params"] = trainable_params(nets["gluoncv"])
    return info, nets


def prepare_model(name, variants, calib_count, tmp_root, ctx, progress):
    """Build, count and export ``name``: (info dict, {variant: maker}) in :data:`TABLE` order.

    Variants whose ``requires`` fails go in ``info['skipped']`` with the reason.
    """
    info, nets = _measure_nets(name, variants, ctx)
    sources = Sources(nets, variants, info, calib_count, tmp_root, progress)
    if any(_BY_NAME[v].deployed for v in variants):
        sources.get("bundle")
        info["skipped"] = {}
    makers = {}
    for variant in (v for v in TABLE if v.name in variants):
        why = variant.requires() if variant.requires else None
        if why:
            info.setdefault("skipped", {})[variant.name] = why
            continue
        makers[variant.name] = variant.make(variant, sources.get(variant.source), ctx)
    return info, makers

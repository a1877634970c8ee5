"""Load a bundle in one of its runtimes and precisions: :func:`load` -> :class:`Detector`.

``runtime='auto'`` / ``precision='auto'`` take the first of these that the bundle has, that is
installed, that this CPU supports and whose agreement with fp32 the bundle verified:

1. the reduced precisions, verified ones only: on a CPU with AMX, ``openvino`` bf16, then int8 in
   ``openvino``, ``onnxruntime`` and ``mxnet`` (oneDNN); on any other CPU int8 in
   ``onnxruntime``, ``openvino`` (static-shape bundles), ``mxnet``, then ``openvino`` bf16
   (``avx512_bf16`` CPUs only)
2. ``onnxruntime`` fp32
3. ``openvino`` fp32
4. ``mxnet`` fp32 (or the float16 main graph)

The order is fixed per CPU kind from ``scripts/bench.py``'s measurements (docs/benchmarks.md),
not timed at load, so a load is quick and the same bundle picks the same graph on every machine
of a kind. Without AMX, int8 (VNNI dot products) is well ahead of bf16, whose AVX-512 BF16
instructions speed up only part of the work, so the int8 graphs come first, ONNX Runtime's (it
runs dynamic shapes) before OpenVINO's; with AMX, OpenVINO's bf16 runs on the AMX tiles and
comes first. On a GPU ``ctx`` only ``mxnet`` applies. The choice is in ``Detector.runtime``,
``Detector.precision`` and ``Detector.choice`` and logged (logger ``gluon_ssd.deploy``, INFO).
"""
import logging
import warnings

import mxnet as mx
import numpy as np

from ..utils.checks import is_int
from .bundle import bundle_path, import_graph, read_manifest, verify_bundle
from .cpu import cpu_isa, has_bf16, isa_summary
from .runtimes import ONNX_PRECISIONS, RUNTIMES, MXNetSession, installed, open_session

__all__ = ["load", "Detector", "PRECISIONS", "available", "auto_order", "onnx_record"]

LOG = logging.getLogger("gluon_ssd.deploy")
PRECISIONS = ("fp32", "bf16", "int8", "float16")
_FP32_ORDER = (("onnxruntime", "fp32"), ("openvino", "fp32"), ("mxnet", "fp32"),
               ("mxnet", "float16"))


def auto_order(isa=None):
    """The (runtime, precision) pairs ``auto`` tries, fastest first, for this CPU's ``isa``."""
    isa = cpu_isa() if isa is None else isa
    if isa["amx"]:
        reduced = (("openvino", "bf16"), ("openvino", "int8"), ("onnxruntime", "int8"),
                   ("mxnet", "int8"))
    else:
        reduced = (("onnxruntime", "int8"), ("openvino", "int8"), ("mxnet", "int8"),
                   ("openvino", "bf16"))
    return reduced + _FP32_ORDER


_UNSET = object()


def onnx_record(records, runtime, precision):
    """The agreement record of ``runtime`` / ``precision`` among an ONNX entry's ``precisions``.

    bf16 and fp32 records are per precision (bf16 is OpenVINO's); int8 ones per runtime, under
    the int8 graph's entry. None when there is none.
    """
    if precision == "int8":
        return records.get("int8", {}).get(runtime)
    return records.get(precision)


def _verified(record):
    """Whether a precision record's agreement reached its required minimum."""
    agreement, required = record.get("agreement"), record.get("min_required")
    if isinstance(agreement, dict):  # int8 entries: {"map": ..., "min_required": ...}
        agreement, required = agreement.get("map"), agreement.get("min_required")
    return agreement is not None and required is not None and agreement >= required


def available(manifest, ctx=None):
    """What this bundle can run as here: ``{(runtime, precision): (usable, verified, why)}``.

    ``usable`` is False (with the reason in ``why``) when the runtime is not installed, the CPU
    lacks bf16 units or ``ctx`` is not a CPU; ``verified`` is True for fp32 and for a reduced
    precision whose recorded agreement passed its tolerance.
    """
    on_cpu = ctx is None or ctx.device_type == "cpu"
    options = {}
    for precision, entry in manifest["variants"].items():
        if precision == "onnx":
            continue
        why = None if on_cpu or precision != "int8" else f"int8 runs on CPU only, ctx={ctx}"
        verified = precision != "int8" or _verified(entry)
        options[("mxnet", precision)] = (why is None, verified, why or "bundle graph")
    onnx = manifest["variants"].get("onnx")
    if onnx is not None:
        records = onnx.get("precisions", {"fp32": {}})
        for runtime, precisions in ONNX_PRECISIONS.items():
            for precision in precisions:
                if precision == "int8" and "int8" not in records:
                    continue  # no int8 ONNX graph in this bundle
                record = onnx_record(records, runtime, precision)
                why = None
                if not on_cpu:
                    why = f"{runtime} runs on CPU here, ctx={ctx}"
                elif not installed(runtime):
                    why = f"{runtime} is not installed (pip install 'gluon_ssd[runtimes]')"
                elif precision == "bf16" and not has_bf16():
                    why = f"this CPU has no bf16 units ({isa_summary()})"
                elif precision == "int8" and record is None:
                    why = (f"the int8 ONNX graph was not measured in {runtime}: OpenVINO runs "
                           f"int8 from static-shape graphs (export with static_shape=True)")
                verified = precision == "fp32" or (record is not None and _verified(record))
                options[(runtime, precision)] = (why is None, verified, why or "ONNX graph")
    return options


def _choose(options, runtime, precision, out_dir, has_onnx):
    """The (runtime, precision) to load, and a sentence saying why."""
    for name, allowed in (("runtime", ("auto",) + RUNTIMES),
                          ("precision", ("auto",) + PRECISIONS)):
        value = runtime if name == "runtime" else precision
        if value not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    usable = {k: v for k, v in options.items() if v[0]}
    have = sorted(f"{r}/{p}" for r, p in usable)
    for key in auto_order():
        if key in usable and runtime in ("auto", key[0]) and precision in ("auto", key[1]):
            if precision == "auto" and not usable[key][1]:
                continue  # auto never picks an unverified reduced precision
            if not usable[key][1]:
                warnings.warn(f"bundle {out_dir!r}: {key[0]} {key[1]} has no passed agreement "
                              f"record with fp32; running it because it was asked for")
            auto = [n for n, v in (("runtime", runtime), ("precision", precision))
                    if v == "auto"]
            why = (f"picked by auto ({', '.join(auto)}) as the fastest verified option"
                   if auto else "as asked")
            return key, why
    blocked = [f"{r}/{p}: {v[2]}" for (r, p), v in options.items()
               if not v[0] and runtime in ("auto", r) and precision in ("auto", p)]
    raise ValueError(f"bundle {out_dir!r} cannot run runtime={runtime!r} precision="
                     f"{precision!r} here; available: {', '.join(have) or 'nothing'}"
                     + (f"; not available: {'; '.join(blocked)}" if blocked else "")
                     + ("" if has_onnx or runtime in ("auto", "mxnet") else
                        "; export with onnx=True for the ONNX runtimes"))


class Detector:
    """A loaded bundle: call it on a batch to get ``(ids, scores, bboxes)``, in any runtime.

    Attributes
    ----------
    runtime : str
        ``'mxnet'``, ``'onnxruntime'`` or ``'openvino'``.
    precision : str
        ``'fp32'``, ``'bf16'``, ``'int8'`` or ``'float16'``.
    choice : str
        Why this runtime and precision (``'as asked'`` or what ``auto`` decided).
    variant : str
        The MXNet graph's key in the manifest (``'fp32'``, ``'float16'``, ``'int8'``), or
        ``'onnx'``.
    net : mxnet.gluon.SymbolBlock or None
        The hybridized MXNet graph (``runtime='mxnet'`` only).
    classes : tuple of str
    manifest : dict
    ctx : mxnet.Context
    """

    def __init__(self, session, manifest, runtime, precision, ctx, choice=""):
        self.session, self.manifest, self.ctx = session, manifest, ctx
        self.runtime, self.precision, self.choice = runtime, precision, choice
        self.variant = precision if runtime == "mxnet" else "onnx"
        self.net = session.net if runtime == "mxnet" else None
        self.classes = tuple(manifest["classes"])
        spec = manifest["input"]
        self.input_dtype = "float32" if precision == "int8" and not spec["preprocess"] \
            else spec["dtype"]

    @property
    def preprocess(self):
        """bool: whether the graph takes uint8 NHWC pixels."""
        return bool(self.manifest["input"]["preprocess"])

    def __call__(self, images):
        """Detect on a batch.

        Parameters
        ----------
        images : NDArray or numpy.ndarray
            ``(B, H, W, 3)`` uint8 RGB when the bundle has ``preprocess``, else ``(B, 3, H, W)``
            normalized (see :func:`normalize_images`); any ``H, W``.

        Returns
        -------
        (ids, scores, bboxes)
            ``(B, K, 1)``, ``(B, K, 1)``, ``(B, K, 4)`` (boxes ``x1, y1, x2, y2`` in input
            pixels, -1 padded), float32; NDArrays (on ``ctx``) for NDArray input, numpy arrays
            for numpy input, whatever the runtime.
        """
        shape = tuple(images.shape)
        channels = shape[3] if self.preprocess else (shape[1] if len(shape) == 4 else None)
        if len(shape) != 4 or channels != 3:
            expected = "(B, H, W, 3) uint8" if self.preprocess else "(B, 3, H, W) float"
            raise ValueError(f"images must be {expected} for this bundle, got shape {shape}")
        as_ndarray = isinstance(images, mx.nd.NDArray)
        if self.runtime != "mxnet":
            self._check_static_size(shape)
        if self.runtime == "mxnet":
            if not as_ndarray:
                images = mx.nd.array(images, ctx=self.ctx, dtype=self.input_dtype)
            elif images.context != self.ctx or images.dtype != np.dtype(self.input_dtype):
                images = images.as_in_context(self.ctx).astype(self.input_dtype, copy=False)
            out = self.session.run(images)
            return tuple(out) if as_ndarray else tuple(o.asnumpy() for o in out)
        x = images.asnumpy() if as_ndarray else images
        out = self.session.run(np.ascontiguousarray(x, dtype=self.input_dtype))
        return tuple(mx.nd.array(o, ctx=self.ctx) for o in out) if as_ndarray else tuple(out)


    def _check_static_size(self, shape):
        """A static-shape ONNX graph takes its export size only."""
        spec = self.manifest["variants"]["onnx"]["input"]["shape"]
        size = tuple(spec[1:3] if self.preprocess else spec[2:4])
        got = tuple(shape[1:3] if self.preprocess else shape[2:4])
        if all(map(is_int, size)) and got != size:
            raise ValueError(f"this bundle's ONNX graph was exported with static_shape=True "
                             f"for (H, W) = {size}, got images of {got}; resize them, or use "
                             f"runtime='mxnet' (any size)")


def load(out_dir, runtime="auto", precision="auto", ctx=None, verify=True, variant=None,
         mxnet_backend="auto", backend=_UNSET, spin=True):
    """Load a bundle written by :func:`export`, in the runtime and precision asked or the best.

    Parameters
    ----------
    out_dir : str
        Bundle folder.
    runtime : {'auto', 'mxnet', 'onnxruntime', 'openvino'}
        ``'auto'``: see the module docstring. ONNX runtimes need the bundle's ONNX graph.
    precision : {'auto', 'fp32', 'bf16', 'int8', 'float16'}
        ``'auto'`` never picks a reduced precision the bundle has not verified; an explicit
        unverified one runs with a warning. bf16 needs OpenVINO and a CPU with bf16 units.
    ctx : mxnet.Context, optional
        Default CPU; a GPU allows ``runtime='mxnet'`` only.
    verify : bool, default True
        Check every file's size and sha256 against the manifest first (see
        :func:`verify_bundle`); a truncated or altered file raises ``ValueError`` naming it.
    variant : {'fp32', 'float16', 'int8'}, optional
        Older spelling of ``runtime='mxnet', precision=variant``.
    mxnet_backend : 'auto', str or None
        Subgraph backend for the MXNet graph's ``hybridize``: 'auto' uses the manifest's
        ``cpu_backend`` on CPU for float graphs (int8 graphs are already fused); None for none.
    backend :
        Older name of ``mxnet_backend`` (deprecated).
    spin : bool, default True
        ONNX Runtime's threads spin between runs (lowest latency when inference is all the
        process does); False leaves the cores to the process's other work between runs
        (``gluon-ssd serve`` decodes uploads meanwhile).

    Returns
    -------
    Detector

    Raises
    ------
    ValueError
        An unknown runtime or precision, or one this bundle / CPU / installation lacks: the
        message lists what is available and why the rest is not.
    """
    if backend is not _UNSET:
        warnings.warn("deploy.load(backend=...) is now mxnet_backend=...", DeprecationWarning,
                      stacklevel=2)
        mxnet_backend = backend
    if variant is not None:
        if (runtime, precision) not in (("auto", "auto"), ("mxnet", "auto"), ("mxnet", variant)):
            raise ValueError(f"variant={variant!r} means runtime='mxnet', precision={variant!r}; "
                             f"do not combine it with runtime={runtime!r}, "
                             f"precision={precision!r}")
        runtime, precision = "mxnet", variant
    manifest = verify_bundle(out_dir) if verify else read_manifest(out_dir)
    ctx = ctx or mx.cpu()
    (runtime, precision), why = _choose(available(manifest, ctx), runtime, precision, out_dir,
                                         "onnx" in manifest["variants"])
    if runtime == "mxnet":
        net = import_graph(out_dir, manifest["variants"][precision], ctx=ctx)
        if mxnet_backend == "auto":
            mxnet_backend = (manifest["optimizations"].get("cpu_backend")
                             if ctx.device_type == "cpu" and precision != "int8" else None)
        session = MXNetSession(net, ctx, mxnet_backend)
    else:
        onnx = manifest["variants"]["onnx"]
        graph = onnx["precisions"]["int8"]["file"] if precision == "int8" else onnx["file"]
        session = open_session(runtime, bundle_path(out_dir, graph), precision, spin=spin)
    LOG.info("deploy.load(%r): runtime=%s precision=%s (%s; CPU %s)", out_dir, runtime,
             precision, why, isa_summary())
    return Detector(session, manifest, runtime, precision, ctx, choice=why)

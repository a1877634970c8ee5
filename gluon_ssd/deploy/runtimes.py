"""The runtimes a bundle runs in, behind one call: ``session.run(x) -> [ids, scores, bboxes]``.

- ``mxnet``: the bundle's MXNet graph (fp32, float16 or oneDNN int8), hybridized with
  ``static_alloc`` and, on CPU, a subgraph backend (oneDNN ``'MKLDNN'``: conv + activation
  fusion). Any ``ctx``.
- ``onnxruntime``: the bundle's ONNX graph (NMS inside), CPU execution provider; fp32, or int8
  from the bundle's QDQ graph (:mod:`.onnx_int8`).
- ``openvino``: the same ONNX graph compiled by OpenVINO's CPU plugin, ``INFERENCE_PRECISION_HINT``
  ``f32`` or ``bf16`` (bf16 only on CPUs with bf16 units, see :mod:`.cpu`), latency hint; int8
  from the QDQ graph (its float parts at ``f32``).

The ONNX runtimes take and return numpy; the MXNet one NDArrays (see :class:`~.loader.Detector`
for the conversion).
"""
import importlib.util

import numpy as np

__all__ = ["RUNTIMES", "ONNX_PRECISIONS", "installed", "installed_runtimes", "MXNetSession",
           "OnnxRuntimeSession", "OpenVINOSession", "open_session"]

RUNTIMES = ("mxnet", "onnxruntime", "openvino")
# OpenVINO's INFERENCE_PRECISION_HINT per precision; an int8 (QDQ) graph's float parts run f32.
_OV_PRECISION = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}
# The precisions each ONNX runtime offers (int8 needs the bundle's QDQ graph).
ONNX_PRECISIONS = {"onnxruntime": ("fp32", "int8"), "openvino": ("fp32", "bf16", "int8")}


def installed(runtime):
    """bool: whether ``runtime``'s Python package can be imported (without importing it)."""
    if runtime == "mxnet":
        return True
    return importlib.util.find_spec(runtime) is not None


def installed_runtimes():
    """The packages of the ONNX path importable here, among 'onnx', 'onnxruntime', 'openvino'."""
    return [name for name in ("onnx", "onnxruntime", "openvino") if installed(name)]


class MXNetSession:
    """An MXNet ``SymbolBlock``, hybridized; ``run`` takes and returns NDArrays on ``ctx``."""

    def __init__(self, net, ctx, backend=None):
        self.net, self.ctx, self.backend = net, ctx, backend
        if backend:
            net.hybridize(static_alloc=True, static_shape=True, backend=backend)
        else:
            net.hybridize(static_alloc=True, static_shape=True)

    def run(self, x):
        """``x`` NDArray ``(B, 3, H, W)`` (or uint8 NHWC) -> list of 3 NDArrays."""
        return list(self.net(x))


class OnnxRuntimeSession:
    """An ONNX model in ONNX Runtime (CPU execution provider, all graph optimizations).

    Parameters
    ----------
    path : str
        The ``.onnx`` file.
    threads : int, optional
        Intra-op threads; default ONNX Runtime's (one per core).
    spin : bool, default True
        Let the intra-op threads spin between runs (ONNX Runtime's default): the lowest latency
        for a process that does little else. False frees the cores between runs for a process
        that shares them (a service decoding uploads while it infers).
    """

    def __init__(self, path, threads=None, spin=True):
        import onnxruntime as ort  # optional (the runtimes extra): imported when used
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = int(threads)
        if not spin:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, x):
        """``x`` numpy ``(B, 3, H, W)`` float32 (or uint8 NHWC) -> ``[ids, scores, bboxes]``."""
        return self.session.run(self.output_names, {self.input_name: x})


class OpenVINOSession:
    """An ONNX model compiled by OpenVINO for the CPU.

    Parameters
    ----------
    path : str
        The ``.onnx`` file.
    precision : {'fp32', 'bf16', 'int8'}
        ``INFERENCE_PRECISION_HINT`` ``f32`` / ``bf16`` (``f32`` for an int8 QDQ graph, whose
        convolutions run int8). OpenVINO defaults to bf16 on CPUs with AMX; here it is always
        set explicitly.
    static_shape : tuple of int, optional
        Reshape the model to this input shape before compiling (one size only).
    """

    def __init__(self, path, precision="fp32", static_shape=None):
        import openvino as ov  # optional (the runtimes extra): imported when used
        if precision not in _OV_PRECISION:
            raise ValueError(f"OpenVINO precision must be one of {sorted(_OV_PRECISION)}, got "
                             f"{precision!r}")
        core = ov.Core()
        model = core.read_model(path)
        if static_shape is not None:
            model.reshape(list(static_shape))
        self.precision = precision
        self.compiled = core.compile_model(model, "CPU", {
            "INFERENCE_PRECISION_HINT": _OV_PRECISION[precision],
            "PERFORMANCE_HINT": "LATENCY"})
        self.request = self.compiled.create_infer_request()
        self.outputs = list(self.compiled.outputs)

    def run(self, x):
        """``x`` numpy ``(B, 3, H, W)`` float32 (or uint8 NHWC) -> ``[ids, scores, bboxes]``."""
        results = self.request.infer({0: x})
        return [np.array(results[o]) for o in self.outputs]


def open_session(runtime, path, precision="fp32", spin=True):
    """An ONNX session of ``runtime`` ('onnxruntime' or 'openvino') on ``path``.

    ``path`` is the graph of that precision: the int8 QDQ graph for ``'int8'``, else the fp32
    graph (OpenVINO's bf16 is a compile option of the fp32 graph). ``spin``: see
    :class:`OnnxRuntimeSession` (ONNX Runtime only).
    """
    if runtime not in ONNX_PRECISIONS:
        raise ValueError(f"no ONNX session for runtime {runtime!r}; expected one of "
                         f"{sorted(ONNX_PRECISIONS)}")
    if precision not in ONNX_PRECISIONS[runtime]:
        raise ValueError(f"{runtime} runs the bundle's ONNX graphs in "
                         f"{', '.join(ONNX_PRECISIONS[runtime])}, got precision {precision!r}"
                         + ("; use runtime='openvino' for bf16" if precision == "bf16" else ""))
    if runtime == "onnxruntime":
        return OnnxRuntimeSession(path, spin=spin)
    return OpenVINOSession(path, precision)

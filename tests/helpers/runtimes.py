"""Optional runtimes (onnx, ONNX Runtime, OpenVINO) for the deploy and benchmark tests (not a test
module): import one or skip, and the operators TensorRT's ONNX parser accepts.

Runtimes come with the ``runtimes`` / ``test`` extras. Without them the tests that need one skip
with the reason, except under ``make test`` (``GLUON_SSD_REQUIRE_RUNTIMES=1``), where a missing
runtime fails.
"""
import os

import pytest

RUNTIMES = ("onnxruntime", "openvino")
# Operators marked supported ("Y") in onnx-tensorrt's docs/operators.md (TensorRT 8.4), among
# those an SSD graph could use; not in it: Mod, NonZero, Unique, Compress, Sequence*. TensorRT
# also needs TopK's K and NonMaxSuppression's thresholds as initializers: they are (onnx_nms).
TENSORRT_OPS = {"Abs", "Add", "And", "ArgMax", "ArgMin", "AveragePool", "BatchNormalization",
                "Cast", "Ceil", "Clip", "Concat", "Constant", "ConstantOfShape", "Conv", "Cos",
                "CumSum", "Div", "Einsum", "Equal", "Erf", "Exp", "Expand", "Flatten", "Floor",
                "Gather", "GatherElements", "GatherND", "Gemm", "GlobalAveragePool",
                "GlobalMaxPool", "Greater", "GreaterOrEqual", "Identity", "LeakyRelu", "Less",
                "LessOrEqual", "Log", "MatMul", "Max", "MaxPool", "Min", "Mul", "Neg",
                "NonMaxSuppression", "Not", "Or", "Pad", "Pow", "PRelu", "Range", "ReduceMax",
                "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "Relu", "Reshape",
                "Resize", "Round", "ScatterElements", "ScatterND", "Shape", "Sigmoid", "Sin",
                "Size", "Slice", "Softmax", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Tanh",
                "Tile", "TopK", "Transpose", "Unsqueeze", "Where"}


def require(module):
    """Import ``module``, or skip (fail under GLUON_SSD_REQUIRE_RUNTIMES=1) when absent."""
    if os.environ.get("GLUON_SSD_REQUIRE_RUNTIMES") == "1":
        return __import__(module)
    return pytest.importorskip(module, reason=f"{module} not installed: pip install "
                                              f"'gluon_ssd[runtimes]' (make test installs it)")

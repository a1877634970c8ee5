"""Tests for gluon_ssd.deploy.runtimes: ONNX Runtime sessions spin or leave the cores free."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

from gluon_ssd.deploy.runtimes import OnnxRuntimeSession, open_session  # noqa: E402

SPIN_KEY = "session.intra_op.allow_spinning"


def _negate_model(path):
    """A one-node ONNX graph: y = -x, x float32 (2, 3)."""
    graph = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["y"])], "neg",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return str(path)


def _spin_entry(session):
    return session.session.get_session_options().get_session_config_entry(SPIN_KEY)


def test_a_session_that_does_not_spin_says_so_to_onnx_runtime_and_still_runs(tmp_path):
    path = _negate_model(tmp_path / "neg.onnx")
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    quiet = open_session("onnxruntime", path, spin=False)
    assert _spin_entry(quiet) == "0"
    np.testing.assert_array_equal(quiet.run(x)[0], -x)
    # The default leaves ONNX Runtime's own choice (spinning) untouched: no entry is set.
    with pytest.raises(Exception, match=SPIN_KEY):
        _spin_entry(OnnxRuntimeSession(path))

"""Tests for gluon_ssd.deploy.onnx_int8: the bundle's int8 ONNX graph (QDQ, ONNX Runtime's
quantizer), gated by agreement, loaded in each runtime."""
import importlib
import os

import numpy as np
import pytest

from tests.helpers.deploy_fixtures import SIZE, noise_images, normalized
from tests.helpers.runtimes import TENSORRT_OPS, require

from gluon_ssd import deploy
from gluon_ssd.deploy import onnx_int8

pytestmark = pytest.mark.onnx


def _graph_ops(path):
    import onnx
    model = onnx.load(path)
    int8_weights = {i.name for i in model.graph.initializer if i.data_type == onnx.TensorProto.INT8}
    return model, [n.op_type for n in model.graph.node], int8_weights


@pytest.mark.parametrize("static, calib_mode, preprocess", [
    (False, "naive", False), (True, "entropy", True)], ids=["dynamic-naive", "static-entropy-uint8"])


def test_int8_onnx_graph_is_quantized_recorded_and_detects_like_fp32(
        net, tmp_path, static, calib_mode, preprocess):
    require("onnxruntime")
    if static:
        require("openvino")
    out = str(tmp_path / "b")
    calib = list(noise_images(40, 8))
    manifest = deploy.export(net, out, SIZE, onnx=True, int8=True, calib_images=calib,
                             calib_mode=calib_mode, static_shape=static, preprocess=preprocess)
    onnx_entry = manifest["variants"]["onnx"]
    record = onnx_entry["precisions"]["int8"]
    assert record["file"] == onnx_entry["file"][:-len(".onnx")] + "-int8.onnx"
    assert record["file"] in manifest["files"]  # hashed like every file of the bundle
    assert record["calib_mode"] == calib_mode and record["num_calib_images"] == 8
    runtimes = ["onnxruntime", "openvino"] if static else ["onnxruntime"]
    assert [k for k in ("onnxruntime", "openvino") if k in record] == runtimes
    for runtime in runtimes:
        assert record[runtime]["verified"], record[runtime]
        assert record[runtime]["agreement"] >= deploy.DEFAULT_INT8_TOLERANCE
        assert record[runtime]["num_reference_detections"] > 100
    # QDQ: every convolution's weight is an int8 initializer behind a DequantizeLinear, and
    # the NMS tail is still in the graph, in float.
    model, ops, int8_weights = _graph_ops(os.path.join(out, record["file"]))
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    dq_inputs = {n.output[0]: n.input[0] for n in model.graph.node
                 if n.op_type == "DequantizeLinear"}
    assert convs and all(dq_inputs.get(c.input[1]) in int8_weights for c in convs)
    assert "QuantizeLinear" in ops and ops.count("NonMaxSuppression") == 1
    # TensorRT reads QDQ graphs as explicit int8 (onnx-tensorrt lists both ops as supported).
    assert set(ops) <= TENSORRT_OPS | {"QuantizeLinear", "DequantizeLinear"}
    assert model.opset_import[0].version == 19
    # On images it was not calibrated on, each runtime's int8 agrees with its fp32 and differs
    # from it (it really is another graph).
    images = noise_images(41, 4)
    x = images if preprocess else normalized(images, net).asnumpy()
    for runtime in runtimes:
        fp32 = deploy.load(out, runtime=runtime, precision="fp32")
        int8 = deploy.load(out, runtime=runtime, precision="int8")
        assert (int8.runtime, int8.precision) == (runtime, "int8")
        ref, got = fp32(x), int8(x)
        assert [a.shape for a in got] == [a.shape for a in ref]
        assert deploy.detection_agreement(ref, got) >= 0.8
        assert np.abs(ref[1] - got[1]).max() > 1e-4
    # auto picks a verified int8 (no bf16 in this bundle, so on every CPU kind).
    assert deploy.load(out).precision == "int8"


def test_openvino_int8_needs_the_static_graph(net, tmp_path):
    require("onnxruntime")
    require("openvino")
    out = str(tmp_path / "b")
    deploy.export(net, out, SIZE, onnx=True, int8=True, calib_images=list(noise_images(40, 4)),
                  int8_tolerance=None)
    with pytest.raises(ValueError, match=r"openvino/int8: the int8 ONNX graph was not measured "
                                         r"in openvino: .*static_shape=True"):
        deploy.load(out, runtime="openvino", precision="int8")
    # Recorded unchecked (tolerance None): auto does not pick it; asking for it warns.
    assert deploy.load(out, runtime="onnxruntime").precision == "fp32"
    with pytest.warns(UserWarning, match="onnxruntime int8 has no passed agreement record"):
        assert deploy.load(out, runtime="onnxruntime", precision="int8").precision == "int8"


def test_int8_onnx_below_tolerance_is_refused(net, tmp_path, monkeypatch):
    require("onnxruntime")
    out = str(tmp_path / "b")
    calib = list(noise_images(40, 4))
    before = deploy.export(net, out, SIZE, onnx=True)
    real = onnx_int8.agreement_record

    def without_detections(reference_dets, dets, *args, **kwargs):
        ids = np.full_like(dets[0], -1)  # int8 finds nothing: agreement 0
        return real(reference_dets, (ids, dets[1], dets[2]), *args, **kwargs)

    monkeypatch.setattr(onnx_int8, "agreement_record", without_detections)
    with pytest.raises(ValueError, match="onnxruntime int8 detections agree with onnxruntime "
                                         "fp32 at mAP 0.000 < int8_tolerance 0.8: refusing"):
        deploy.export(net, out, SIZE, onnx=True, int8=True, calib_images=calib)
    assert deploy.read_manifest(out) == before  # the previous bundle is untouched
    assert sorted(os.listdir(out)) == sorted(list(before["files"]) + [deploy.MANIFEST])


def test_int8_file_names():
    assert onnx_int8.int8_file_name("ssd.onnx") == "ssd-int8.onnx"
    assert onnx_int8.int8_file_name("ssd-static.onnx") == "ssd-static-int8.onnx"


def test_without_onnxruntime_int8_export_writes_the_rest_and_says_so(net, tmp_path, monkeypatch):
    export_module = importlib.import_module("gluon_ssd.deploy.export")  # not deploy.export()
    monkeypatch.setattr(export_module, "installed", lambda runtime: runtime != "onnxruntime")
    out = str(tmp_path / "b")
    with pytest.warns(UserWarning, match="no int8 ONNX graph, ONNX Runtime's quantizer is not "
                                         "installed"):
        manifest = deploy.export(net, out, SIZE, onnx=True, int8=True, int8_tolerance=None,
                                 calib_images=list(noise_images(40, 2)))
    assert "int8" in manifest["variants"] and "onnx" in manifest["variants"]
    assert "int8" not in manifest["variants"]["onnx"]["precisions"]
    assert not any(f.endswith("-int8.onnx") for f in os.listdir(out))

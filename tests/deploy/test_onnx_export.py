"""Tests for gluon_ssd.deploy.onnx_export: the ONNX graph is the whole detector (NMS inside),
outputs and detections the MXNet graph's, in ONNX Runtime and OpenVINO (in a process without mxnet
or gluon_ssd), at two sizes. Its NMS tail alone: tests/deploy/test_onnx_nms.py.
"""
import subprocess
import sys
import textwrap

import mxnet as mx
import numpy as np
import pytest

from tests.helpers.deploy_fixtures import SIZE, noise_images, normalized
from tests.helpers.detections import assert_same_detections
from tests.helpers.runtimes import RUNTIMES, TENSORRT_OPS, require

from gluon_ssd import deploy


@pytest.fixture(scope="module")
def onnx_bundle(net, tmp_path_factory):
    require("onnx")
    out = tmp_path_factory.mktemp("onnx")
    return out, deploy.export(net, str(out), SIZE, onnx=True)


def test_onnx_graph_has_the_detector_outputs_and_nms_inside(onnx_bundle):
    import onnx
    out, manifest = onnx_bundle
    entry = manifest["variants"]["onnx"]
    assert entry["file"] in manifest["files"] and entry["nms_in_graph"]
    model = onnx.load(str(out / entry["file"]))
    onnx.checker.check_model(model)
    # NonMaxSuppression exists from opset 10/11; the opset is fixed whatever onnx would stamp
    # (at 21+ ONNX Runtime's QDQ optimizer breaks the int8 graph: gluon_ssd.deploy.onnx_export).
    assert model.opset_import[0].version == 19
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [0, 3, 0, 0]  # batch, height and width unset: any size
    outputs = {o.name: [d.dim_value or d.dim_param for d in o.type.tensor_type.shape.dim]
               for o in model.graph.output}
    assert outputs == {"ids": ["B", 100, 1], "scores": ["B", 100, 1], "bboxes": ["B", 100, 4]}
    ops = {node.op_type for node in model.graph.node}
    assert "NonMaxSuppression" in ops and "BatchNormalization" not in ops  # folded
    assert ops <= TENSORRT_OPS, f"ops outside TensorRT's parser list: {ops - TENSORRT_OPS}"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_onnx_detects_like_mxnet_without_mxnet(net, onnx_bundle, runtime, tmp_path):
    """The .onnx file alone, in a process that imports neither mxnet nor gluon_ssd."""
    require(runtime)
    out, manifest = onnx_bundle
    path = str(out / manifest["variants"]["onnx"]["file"])
    inputs = {"square": noise_images(14, 2), "other": noise_images(15, 1, size=(256, 320))}
    np.savez(tmp_path / "in.npz", **{k: normalized(v, net).asnumpy() for k, v in inputs.items()})
    run = {"onnxruntime": """
        import onnxruntime as ort
        sess = ort.InferenceSession(PATH, providers=["CPUExecutionProvider"])
        infer = lambda x: sess.run(["ids", "scores", "bboxes"], {"data": x})
    """, "openvino": """
        import openvino as ov
        compiled = ov.Core().compile_model(PATH, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        infer = lambda x: [compiled(x)[compiled.output(n)] for n in ("ids", "scores", "bboxes")]
    """}[runtime]
    script = textwrap.dedent(f"PATH = {path!r}\n") + textwrap.dedent(run) + textwrap.dedent(f"""
        import sys
        import numpy as np
        inputs = np.load({str(tmp_path / "in.npz")!r})
        result = {{f"{{k}}{{i}}": np.asarray(o) for k in inputs.files
                   for i, o in enumerate(infer(inputs[k]))}}
        np.savez({str(tmp_path / "out.npz")!r}, **result)
        assert not {{"mxnet", "gluon_ssd"}} & set(sys.modules), "must run without them"
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=str(tmp_path), timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    got = np.load(tmp_path / "out.npz")
    for key, images in inputs.items():
        expected = net(normalized(images, net))
        assert got[f"{key}0"].shape == (len(images), 100, 1) and got[f"{key}0"].dtype == np.float32
        assert_same_detections(expected, [got[f"{key}{i}"] for i in range(3)])


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_static_shape_onnx_folds_the_anchors_and_detects_like_mxnet(net, tmp_path, runtime):
    onnx = require("onnx")
    require(runtime)
    size = (256, 320)
    manifest = deploy.export(net, str(tmp_path), size, onnx=True, static_shape=True)
    entry = manifest["variants"]["onnx"]
    assert entry["file"].endswith("-static.onnx") and not entry["any_size"]
    assert entry["input"]["shape"] == ["B", 3, 256, 320]
    model = onnx.load(str(tmp_path / entry["file"]))
    anchors = [i for i in model.graph.initializer if i.name.endswith("static_anchors")]
    # The constant holds the anchors the MXNet net builds at that size (its dynamic graph's).
    n_expected = net.predictions(mx.nd, mx.nd.zeros((1, 3) + size))[2].shape[1]
    assert anchors and list(anchors[0].dims) == [1, n_expected, 4]
    detector = deploy.load(str(tmp_path), runtime=runtime)
    images = noise_images(25, 2, size=size)
    assert_same_detections(net(normalized(images, net)), detector(normalized(images, net)))
    with pytest.raises(ValueError, match=r"static_shape=True for \(H, W\) = \(256, 320\), got "
                                         r"images of \(300, 300\)"):
        detector(normalized(noise_images(26, 1), net))
    with pytest.raises(ValueError, match="static_shape=True .* needs onnx=True"):
        deploy.export(net, str(tmp_path / "x"), size, static_shape=True)

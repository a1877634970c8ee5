"""The ONNX graph is the whole detector: NMS inside, outputs and detections the MXNet graph's, in
ONNX Runtime and OpenVINO (in a process without mxnet or gluon_ssd), at two sizes.

Runtimes come with the ``runtimes`` / ``test`` extras. Without them these tests skip with the
reason, except under ``make test`` (``GLUON_SSD_REQUIRE_RUNTIMES=1``), where a missing runtime
fails.
"""
import os
import subprocess
import sys
import textwrap

import mxnet as mx
import numpy as np
import pytest

from tests.helpers.deploy_fixtures import SIZE, make_net, noise_images, normalized, random_heads
from tests.helpers.detections import as_numpy, assert_same_detections

from gluon_ssd import deploy
from gluon_ssd.blocks.decoder import SSDDecoder
from gluon_ssd.deploy.onnx_nms import append_nms

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


@pytest.fixture(scope="module")
def net():
    return make_net()


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


def _tail_model(num_classes, settings):
    """An ONNX model whose inputs are raw boxes and scores, followed by the NMS tail."""
    import onnx
    from onnx import TensorProto, helper
    inputs = [helper.make_tensor_value_info("raw_boxes", TensorProto.FLOAT, ["B", "N", 4]),
              helper.make_tensor_value_info("raw_scores", TensorProto.FLOAT,
                                            ["B", "N", num_classes])]
    nodes = [helper.make_node("Identity", ["raw_boxes"], ["boxes_out"]),
             helper.make_node("Identity", ["raw_scores"], ["scores_out"])]
    outputs = [helper.make_tensor_value_info("boxes_out", TensorProto.FLOAT, None),
               helper.make_tensor_value_info("scores_out", TensorProto.FLOAT, None)]
    model = helper.make_model(helper.make_graph(nodes, "raw", inputs, outputs),
                              opset_imports=[helper.make_opsetid("", 13)])
    append_nms(model, num_classes, **settings)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _run_tail(runtime, model_bytes, boxes, scores, folder):
    if runtime == "onnxruntime":
        ort = require("onnxruntime")
        sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
        return sess.run(["ids", "scores", "bboxes"], {"raw_boxes": boxes, "raw_scores": scores})
    ov = require("openvino")
    core = ov.Core()
    path = os.path.join(folder, "tail.onnx")
    with open(path, "wb") as f:
        f.write(model_bytes)
    compiled = core.compile_model(core.read_model(path), "CPU",
                                  {"INFERENCE_PRECISION_HINT": "f32"})
    result = compiled([boxes, scores])
    return [result[compiled.output(n)] for n in ("ids", "scores", "bboxes")]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("settings", [
    dict(nms_thresh=0.45, nms_topk=400, post_nms=100, score_thresh=0.01),
    dict(nms_thresh=0.3, nms_topk=50, post_nms=100, score_thresh=0.01),  # post_nms > topk: padded
    dict(nms_thresh=0.5, nms_topk=2000, post_nms=-1, score_thresh=0.2),  # topk > C * N rows
    dict(nms_thresh=1.0, nms_topk=100, post_nms=30, score_thresh=0.01),  # no suppression
])
def test_onnx_nms_tail_is_the_decoder(runtime, settings, tmp_path):
    # The same random heads as test_deploy.test_postprocess_numpy_is_the_decoder: 300 anchors of
    # 5-40 px in a 100 px square, so NMS suppresses; the MXNet decoder is the reference.
    classes = 3
    cls, box, anchors = random_heads(classes=classes)
    decoder = SSDDecoder(classes, **settings)
    decoder.initialize()
    expected = as_numpy(decoder(cls, box, anchors))
    boxes = decoder.bbox_decoder(box, anchors).asnumpy()
    scores = np.ascontiguousarray(mx.nd.softmax(cls).asnumpy()[..., 1:])
    got = _run_tail(runtime, _tail_model(classes, settings), boxes, scores, str(tmp_path))
    assert [g.shape for g in got] == [e.shape for e in expected]
    assert (expected[0] >= 0).sum() > 20
    assert_same_detections(expected, got, score_thresh=settings["score_thresh"])
    if settings["nms_thresh"] < 1:  # the comparison would see a missing NMS
        unsuppressed = deploy.postprocess_numpy(boxes, scores, **dict(settings, nms_thresh=1.0))
        with pytest.raises(AssertionError):
            assert_same_detections(unsuppressed, got)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_onnx_nms_tail_keeps_overlapping_boxes_of_different_classes(runtime, tmp_path):
    # Worked by hand: boxes 0 and 1 overlap with IoU 90 / 110 = 0.82 > 0.45; box 2 is apart.
    # Class 0 scores 0.9 / 0.8 / 0.1: box 1 is suppressed by box 0. Class 1 scores 0.05 / 0.7 /
    # 0.02: box 1 is its best, kept even though box 0 (class 0) covers it: per-class NMS.
    boxes = np.array([[[0, 0, 10, 10], [0, 1, 10, 11], [50, 50, 60, 60]]], np.float32)
    scores = np.array([[[0.9, 0.05], [0.8, 0.7], [0.1, 0.02]]], np.float32)
    settings = dict(nms_thresh=0.45, nms_topk=4, post_nms=5, score_thresh=0.03)
    ids, top, out_boxes = _run_tail(runtime, _tail_model(2, settings), boxes, scores,
                                    str(tmp_path))
    # Top 4 candidates: 0.9 (c0 b0), 0.8 (c0 b1), 0.7 (c1 b1), 0.1 (c0 b2); 0.05 misses the cut.
    np.testing.assert_array_equal(ids[0, :, 0], [0, 1, 0, -1, -1])
    np.testing.assert_allclose(top[0, :, 0], [0.9, 0.7, 0.1, -1, -1], rtol=1e-6)
    np.testing.assert_array_equal(out_boxes[0, :3], boxes[0, [0, 1, 2]])
    assert (out_boxes[0, 3:] == -1).all()


def test_onnx_nms_tail_needs_a_constant_topk():
    onnx = require("onnx")
    with pytest.raises(ValueError, match="positive nms_topk"):
        append_nms(onnx.ModelProto(), 3, 0.45, -1, 100, 0.01)

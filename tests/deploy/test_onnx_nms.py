"""Tests for gluon_ssd.deploy.onnx_nms: the ONNX NMS tail alone (raw boxes and scores in) is the
MXNet decoder, in ONNX Runtime and OpenVINO; worked by hand on three boxes."""
import os

import mxnet as mx
import numpy as np
import pytest

from tests.helpers.deploy_fixtures import random_heads
from tests.helpers.detections import as_numpy, assert_same_detections
from tests.helpers.runtimes import RUNTIMES, require

from gluon_ssd import deploy
from gluon_ssd.blocks.decoder import SSDDecoder
from gluon_ssd.deploy.onnx_nms import append_nms


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
    # The same random heads as tests/deploy/test_postprocess.py's test: 300 anchors of
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
        with pytest.raises(AssertionError, match=r"^image \d: "):
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

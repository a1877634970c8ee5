"""Tests for gluon_ssd.deploy.postprocess: the numpy reference NMS is the decoder's, and the
agreement mAP of two detection lists by hand."""
import mxnet as mx
import numpy as np
import pytest

from tests.helpers.deploy_fixtures import random_heads
from tests.helpers.detections import as_numpy

from gluon_ssd import deploy
from gluon_ssd.blocks.decoder import SSDDecoder


@pytest.mark.parametrize("settings", [
    dict(nms_thresh=0.45, nms_topk=400, post_nms=100, score_thresh=0.01),
    dict(nms_thresh=0.3, nms_topk=50, post_nms=100, score_thresh=0.01),  # post_nms > topk: padded
    dict(nms_thresh=0.5, nms_topk=-1, post_nms=-1, score_thresh=0.2),  # GluonCV's full path
    dict(nms_thresh=1.0, nms_topk=100, post_nms=30, score_thresh=0.01),  # no suppression
])


def test_postprocess_numpy_is_the_decoder(settings):
    classes = 3
    cls, box, anchors = random_heads(classes=classes)  # overlapping anchors: NMS suppresses
    decoder = SSDDecoder(classes, **settings)
    decoder.initialize()
    expected = as_numpy(decoder(cls, box, anchors))
    boxes, scores = decoder.bbox_decoder(box, anchors).asnumpy(), mx.nd.softmax(cls).asnumpy()
    actual = deploy.postprocess_numpy(boxes, scores[..., 1:], **settings)
    assert (expected[0] >= 0).sum() > 20
    if settings["nms_thresh"] < 1:  # NMS really suppresses here
        unsuppressed = deploy.postprocess_numpy(boxes, scores[..., 1:], **dict(settings,
                                                                               nms_thresh=1.0))
        assert not np.array_equal(unsuppressed[2], actual[2])
    for e, a in zip(expected, actual):
        assert e.shape == a.shape
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-5)


def test_detection_agreement():
    ids = np.array([[[0], [1], [-1]]], np.float32)
    scores = np.array([[[0.9], [0.6], [-1]]], np.float32)
    boxes = np.array([[[0, 0, 10, 10], [20, 20, 40, 40], [-1, -1, -1, -1]]], np.float32)
    assert deploy.detection_agreement((ids, scores, boxes), (ids, scores, boxes)) == 1.0
    moved = boxes + np.array([0, 0, 0, 0], np.float32)
    moved[0, 1] += 15  # IoU of the class-1 box with its reference < 0.5: class 1 AP is 0
    assert deploy.detection_agreement((ids, scores, boxes), (ids, scores, moved)) == \
        pytest.approx(0.5)
    low = scores * 0.5  # no reference box reaches 0.5: agreement undefined
    assert np.isnan(deploy.detection_agreement((ids, low, boxes), (ids, scores, boxes)))

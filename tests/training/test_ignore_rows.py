"""Rows with IGNORE_CLASS_ID (boxes cut by a tile) are neither positives nor mined negatives."""
import mxnet as mx
import numpy as np

from gluon_ssd.data.labels import IGNORE_CLASS_ID
from gluon_ssd.training.loss import SSDMultiBoxLoss, SSDTargets


def test_anchors_matching_an_ignored_box_are_left_out_of_the_loss():
    # Three anchors (cx, cy, w, h): one on a real box, one on an ignored box, one on nothing.
    anchors = mx.nd.array([[[15, 15, 10, 10], [45, 45, 10, 10], [80, 80, 10, 10]]])
    labels = mx.nd.array([[[10, 10, 20, 20, 0, 0], [40, 40, 50, 50, IGNORE_CLASS_ID, 0]]])
    cls_targets, box_targets = SSDTargets()(anchors, labels)
    # class 0 -> target 1; the ignored row -> -2 + 1 = -1 (ignored); nothing -> 0 (background).
    assert cls_targets.asnumpy().tolist() == [[1, -1, 0]]
    assert np.all(box_targets.asnumpy()[0, 1:] == 0)
    # The loss sees the ignored anchor neither as positive nor as negative: whatever it predicts
    # there, the loss is the same.
    loss = SSDMultiBoxLoss(min_negatives=3)
    box_preds = mx.nd.zeros((1, 3, 4))
    confident = mx.nd.array([[[0, 5], [5, 0], [5, 0]]])
    wrong_there = mx.nd.array([[[0, 5], [-9, 9], [5, 0]]])
    a = loss(confident, box_preds, cls_targets, box_targets)[0].asscalar()
    b = loss(wrong_there, box_preds, cls_targets, box_targets)[0].asscalar()
    assert a == b

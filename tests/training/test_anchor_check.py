"""Anchor coverage checked by hand on boxes of known sizes, and against brute force."""
import mxnet as mx
import numpy as np
from gluoncv.utils.bbox import bbox_iou
from mxnet import gluon

from gluon_ssd import zoo
from gluon_ssd.training.anchor_check import (LayerAnchors, anchor_coverage, best_ious,
                                             network_layers, presented_boxes)


def test_coverage_of_boxes_of_known_sizes_on_one_grid():
    # One layer: 10 px cells (centres 5, 15, ...), one 10 x 10 anchor per cell.
    layer = LayerAnchors(step=10, offset=0.5, map_size=(10, 10), shapes=np.array([[10., 10.]]))
    boxes = np.array([[0, 0, 10, 10],      # on a centre: IoU 1
                      [5, 0, 15, 10],      # between centres 5 and 15: overlap 5 x 10 = 50,
                                           # union 150: 1/3
                      [3, 3, 7, 7],        # 4 x 4 inside a 10 x 10: 16 / 100 = 0.16
                      [0, 0, 20, 20]])     # 20 x 20 around 10 x 10 at (5, 5): 100 / 400 = 0.25
    np.testing.assert_allclose(best_ious(boxes, [layer])[:, 0], [1, 1 / 3, 0.16, 0.25])
    coverage = anchor_coverage(boxes, [layer])
    assert coverage["coverage"] == 0.25 and coverage["num_boxes"] == 4
    # Areas 100, 100, 16, 400 px^2: all small.
    assert coverage["size_bands"]["small"] == {"coverage": 0.25, "num_boxes": 4}
    assert coverage["size_bands"]["medium"] == {"coverage": None, "num_boxes": 0}
    assert coverage["layers"] == [{"reach": 0.25, "best": 4}]


def test_best_ious_equal_brute_force_over_a_network_anchors():
    net = zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained_base=False, classes=["a"])
    net.initialize()
    with mx.autograd.train_mode():
        anchors = net(mx.nd.zeros((1, 3, 256, 320)))[2][0].asnumpy()   # (N, 4) cx, cy, w, h
    corners = np.concatenate([anchors[:, :2] - anchors[:, 2:] / 2,
                              anchors[:, :2] + anchors[:, 2:] / 2], axis=1)
    rng = np.random.RandomState(0)
    sides = rng.uniform(8, 200, (200, 2))
    origin = rng.uniform(0, 1, (200, 2)) * (np.array([320, 256]) - sides)
    boxes = np.concatenate([origin, origin + sides], axis=1)
    layers = network_layers(net, (256, 320))
    assert sum(np.prod(l.map_size) * len(l.shapes) for l in layers) == len(anchors)
    expected = bbox_iou(boxes, corners).max(axis=1)
    np.testing.assert_allclose(best_ious(boxes, layers).max(axis=1), expected, atol=1e-5)


def test_boxes_are_counted_as_the_network_sees_them():
    image = mx.nd.zeros((100, 400, 3), dtype="uint8")
    label = np.array([[0, 0, 40, 20, 0, 0], [350, 50, 390, 90, 1, 0]], np.float32)
    data = gluon.data.SimpleDataset([(image, label)])
    # Resized to 100 x 100: x / 4 -> [0, 0, 10, 20] and [87.5, 50, 97.5, 90].
    np.testing.assert_allclose(presented_boxes(data, (100, 100)),
                               [[0, 0, 10, 20], [87.5, 50, 97.5, 90]])
    # In 100 x 100 tiles without resizing: windows x 0, 100, 200, 300: boxes keep their size.
    tiled = presented_boxes(data, (100, 100), tile=(100, 100), overlap=0.0)
    np.testing.assert_allclose(tiled, [[0, 0, 40, 20], [50, 50, 90, 90]])
    # The SSD augmentation's zoom-out shrinks about half of them (factors 1-4).
    many = gluon.data.SimpleDataset([(image, np.tile(label, (50, 1)))])
    zoomed = presented_boxes(many, (100, 400), augment="ssd")
    widths = zoomed[:, 2] - zoomed[:, 0]
    assert len(zoomed) == 100 and 0.3 < np.mean(widths < 39.99) < 0.7
    assert widths.min() >= 40 / 4 - 1e-6

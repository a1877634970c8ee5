"""Tests for gluon_ssd.blocks.anchors: the SSD paper's default boxes on the real feature maps."""
import math

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from gluon_ssd import zoo
from gluon_ssd.blocks.anchors import SSDAnchorGenerator, anchor_shapes


def _paper_default_boxes(maps, steps, sizes, ratios):
    """SSD paper sec. 2.2, written out with loops: cell-major, (s_k, 1), (s'_k, 1), then ratios."""
    boxes = []
    for k, (m, step) in enumerate(zip(maps, steps)):
        s, s_next = sizes[k], sizes[k + 1]
        for i in range(m):
            for j in range(m):
                cx, cy = (j + 0.5) * step, (i + 0.5) * step
                boxes.append((cx, cy, s, s))
                boxes.append((cx, cy, math.sqrt(s * s_next), math.sqrt(s * s_next)))
                for a in ratios[k][1:]:
                    boxes.append((cx, cy, s * math.sqrt(a), s / math.sqrt(a)))
    return np.array(boxes, dtype=np.float32)


def test_ssd300_vgg_has_the_papers_8732_default_boxes():
    net = zoo.get_model("ssd_300_vgg16_atrous_voc", pretrained_base=False)
    net.initialize(mx.init.Xavier())
    with autograd.train_mode():
        _, _, anchors = net(mx.nd.zeros((1, 3, 300, 300)))
    anchors = anchors[0].asnumpy()
    # SSD paper (Liu et al. 2016), Table 7 (8732 boxes):
    # 38*38*4 + 19*19*6 + 10*10*6 + 5*5*6 + 3*3*4 + 1*4 = 8732
    assert anchors.shape == (38 * 38 * 4 + 19 * 19 * 6 + 10 * 10 * 6 + 5 * 5 * 6 + 3 * 3 * 4 + 4, 4)
    assert anchors.shape[0] == 8732
    r4, r6 = (1, 2, 0.5), (1, 2, 0.5, 3, 1 / 3)
    expected = _paper_default_boxes(maps=(38, 19, 10, 5, 3, 1), steps=(8, 16, 32, 64, 100, 300),
                                    sizes=(30, 60, 111, 162, 213, 264, 315),
                                    ratios=(r4, r6, r6, r6, r4, r4))
    np.testing.assert_allclose(anchors, expected, rtol=1e-5)
    # A few by hand: first cell of conv4_3: centre (0.5 * 8, 0.5 * 8), 30 px, sqrt(30 * 60) px.
    np.testing.assert_allclose(anchors[0], (4, 4, 30, 30))
    np.testing.assert_allclose(anchors[1], (4, 4, 42.4264, 42.4264), rtol=1e-5)
    np.testing.assert_allclose(anchors[3], (4, 4, 30 / math.sqrt(2), 30 * math.sqrt(2)), rtol=1e-5)
    # conv11_2 (1x1, step 300): centre 150, s=264, s'=sqrt(264 * 315) = 288.375
    np.testing.assert_allclose(anchors[-4], (150, 150, 264, 264))
    np.testing.assert_allclose(anchors[-3], (150, 150, 288.375, 288.375), rtol=1e-4)


def test_ssd512_vgg_has_24564_anchors():
    net = zoo.get_model("ssd_512_vgg16_atrous_voc", pretrained_base=False)
    net.initialize(mx.init.Xavier())
    with autograd.train_mode():
        _, _, anchors = net(mx.nd.zeros((1, 3, 512, 512)))
    # 64*64*4 + 32*32*6 + 16*16*6 + 8*8*6 + 4*4*6 + 2*2*4 + 1*4
    # (SSD paper, Table 7: 24564 boxes for SSD512)
    assert anchors.shape == (1, 24564, 4)


def test_anchors_follow_any_map_size_and_aspect_ratio():
    gen = SSDAnchorGenerator(30, 60, (1, 2, 0.5), step=8)
    gen.initialize()
    gen.hybridize()
    # A 160 x 300 map (a 1280 x 2400 input at stride 8): GluonCV's fixed 128x128 grid has no
    # anchors past cell 127; here every cell gets its 4 boxes.
    a = gen(mx.nd.zeros((1, 1, 160, 300))).asnumpy()[0]
    assert a.shape == (160 * 300 * 4, 4)
    np.testing.assert_allclose(a[-1], (299.5 * 8, 159.5 * 8, 30 / math.sqrt(2), 30 * math.sqrt(2)))
    # Row-major cells: the 5th box is cell (0, 1), centre x = 1.5 * 8.
    np.testing.assert_allclose(a[4], (12, 4, 30, 30))


def test_anchor_shapes_and_bad_arguments():
    shapes = anchor_shapes(30, 60, (1, 2, 0.5, 3, 1 / 3))
    assert shapes.shape == (6, 2)
    np.testing.assert_allclose(shapes[4], (30 * math.sqrt(3), 30 / math.sqrt(3)), rtol=1e-6)
    with pytest.raises(ValueError, match="start with 1"):
        anchor_shapes(30, 60, (2, 1))
    with pytest.raises(ValueError, match="> 0"):
        anchor_shapes(30, 60, (1, -2))
    with pytest.raises(ValueError, match="increasing"):
        anchor_shapes(60, 30, (1,))
    with pytest.raises(ValueError, match="step"):
        SSDAnchorGenerator(30, 60, (1,), step=0)


def test_anchors_export_in_the_graph():
    gen = SSDAnchorGenerator(30, 60, (1, 2, 0.5), step=16)
    sym = gen(mx.sym.var("data"))
    assert sym.list_arguments() == ["data", gen.anchor_wh.name]
    _, out_shapes, _ = sym.infer_shape(data=(2, 8, 5, 7))
    assert out_shapes == [(1, 5 * 7 * 4, 4)]

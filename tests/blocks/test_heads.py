"""Tests for gluon_ssd.blocks.heads: per-feature-map class and box predictors."""
import mxnet as mx
import numpy as np
import pytest
from gluoncv.model_zoo.ssd.ssd import SSD
from mxnet.gluon import HybridBlock

from gluon_ssd.blocks.heads import SSDHead


def _n_trainable(block):
    return sum(int(np.prod(p.shape)) for p in block.collect_params().values()
               if p.grad_req != "null")


@pytest.mark.parametrize("lite", [False, True])
def test_output_shapes(lite):
    head = SSDHead(16, num_anchors=6, num_classes=20, lite=lite)
    head.initialize(mx.init.Xavier())
    cls, box = head(mx.nd.random.normal(shape=(2, 16, 5, 3)))
    assert cls.shape == (2, 5 * 3 * 6, 21)
    assert box.shape == (2, 5 * 3 * 6, 4)
    assert (head.num_anchors, head.num_classes) == (6, 20)


def _location_major_expected(H, W, A, K):
    # Row (i*W + j)*A + a holds anchor a of cell (i, j); column k of it is conv channel a*K + k.
    # The test convs output 1000 * (i*W + j) + channel, so that row/column gets this value.
    expected = np.zeros((1, H * W * A, K))
    for i in range(H):
        for j in range(W):
            for a in range(A):
                for k in range(K):
                    expected[0, (i * W + j) * A + a, k] = 1000 * (i * W + j) + a * K + k
    return expected


def test_regular_head_is_location_major_by_hand():
    H, W, A = 2, 3, 2
    head = SSDHead(1, num_anchors=A, num_classes=2)  # K = 3 class scores, 4 box values
    head.initialize(mx.init.Xavier())
    x = mx.nd.arange(H * W).reshape((1, 1, H, W)) * 1000  # cell (i, j) holds 1000 * (i*W + j)
    for conv in (head.cls_pred, head.box_pred):
        weight = np.zeros(conv.weight.shape)
        weight[:, 0, 1, 1] = 1  # centre tap only: output channel c = input at the same cell
        conv.weight.set_data(mx.nd.array(weight))
        conv.bias.set_data(mx.nd.arange(conv.bias.shape[0]))  # + c
    cls, box = head(x)
    np.testing.assert_array_equal(cls.asnumpy(), _location_major_expected(H, W, A, 3))
    np.testing.assert_array_equal(box.asnumpy(), _location_major_expected(H, W, A, 4))


def test_lite_head_is_location_major_by_hand():
    H, W, A = 3, 2, 3
    head = SSDHead(1, num_anchors=A, num_classes=1, lite=True)  # K = 2 class scores
    head.initialize(mx.init.Xavier())  # BN: identity up to eps (mean 0, var 1)
    x = mx.nd.arange(H * W).reshape((1, 1, H, W)) * 0.1  # < 6: ReLU6 passes it
    for pred in (head.cls_pred, head.box_pred):
        dw = np.zeros((1, 1, 3, 3))
        dw[0, 0, 1, 1] = 1
        pred.depthwise.weight.set_data(mx.nd.array(dw))
        pred.pointwise.weight.set_data(mx.nd.full(pred.pointwise.weight.shape, 1e4))
        pred.pointwise.bias.set_data(mx.nd.arange(pred.pointwise.bias.shape[0]))
    cls, box = head(x)
    np.testing.assert_allclose(cls.asnumpy(), _location_major_expected(H, W, A, 2), rtol=1e-4)
    np.testing.assert_allclose(box.asnumpy(), _location_major_expected(H, W, A, 4), rtol=1e-4)


def test_parameter_counts_and_depthwise_weights():
    # C = 16, A = 6, K = 21: cls outputs 126 channels, box 24.
    # Regular: 16*126*9 + 126 = 18270; 16*24*9 + 24 = 3480; total 21750.
    assert _n_trainable(SSDHead(16, 6, 20)) == 21750
    lite = SSDHead(16, 6, 20, lite=True)
    # Lite, per predictor: depthwise 16*9 = 144, BN 32, then 16*126 + 126 = 2142 (cls) or
    # 16*24 + 24 = 408 (box): (144 + 32 + 2142) + (144 + 32 + 408) = 2902.
    assert _n_trainable(lite) == 2902
    assert lite.cls_pred.depthwise.weight.shape == (16, 1, 3, 3)
    assert lite.box_pred.depthwise.weight.shape == (16, 1, 3, 3)
    assert SSDHead(16, 6, 20).cls_pred.weight.shape == (126, 16, 3, 3)
    assert SSDHead(16, 6, 20, kernel_size=1).box_pred.weight.shape == (24, 16, 1, 1)


@pytest.mark.parametrize("lite", [False, True])
def test_hybridized_equals_imperative(lite):
    head = SSDHead(8, 4, 3, lite=lite)
    head.initialize(mx.init.Xavier())
    x = mx.nd.random.normal(shape=(2, 8, 5, 7))
    ref = [y.asnumpy() for y in head(x)]
    head.hybridize()
    for out, exp in zip(head(x), ref):
        np.testing.assert_allclose(out.asnumpy(), exp, rtol=1e-5, atol=1e-5)


class _TwoMaps(HybridBlock):
    """Feature 'network' for GluonCV's SSD: the input and its 2x2 average pooling."""

    def hybrid_forward(self, F, x):
        return [x, F.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="avg")]


def test_matches_gluoncv_ssd_layout():
    classes = ["a", "b", "c"]
    # ratios of length 3 and 5 with 2 sizes each: 4 and 6 anchors per location (SSDAnchorGenerator).
    theirs = SSD(None, 64, features=lambda **kwargs: _TwoMaps(), num_filters=None,
                 sizes=[10, 20, 30], ratios=[[1, 2, 0.5], [1, 2, 0.5, 3, 1.0 / 3]], steps=[8, 16],
                 classes=classes)
    theirs.initialize(mx.init.Xavier())
    x = mx.nd.random.normal(shape=(2, 5, 6, 4))
    with mx.autograd.train_mode():
        theirs(x)  # deferred shapes
    ours = [SSDHead(5, 4, len(classes)), SSDHead(5, 6, len(classes))]
    for head, cp, bp in zip(ours, theirs.class_predictors, theirs.box_predictors):
        head.initialize()
        for our, their in ((head.cls_pred, cp.predictor), (head.box_pred, bp.predictor)):
            their.weight.set_data(mx.nd.random.normal(shape=their.weight.shape))
            their.bias.set_data(mx.nd.random.normal(shape=their.bias.shape))
            our.weight.set_data(their.weight.data())
            our.bias.set_data(their.bias.data())
    with mx.autograd.train_mode():
        cls_theirs, box_theirs, _ = theirs(x)
    outs = [ours[0](x), ours[1](_TwoMaps()(x)[1])]
    cls = mx.nd.concat(*[o[0] for o in outs], dim=1)
    box = mx.nd.concat(*[o[1] for o in outs], dim=1)
    assert cls.shape == cls_theirs.shape == (2, 6 * 4 * 4 + 3 * 2 * 6, 4)
    np.testing.assert_allclose(cls.asnumpy(), cls_theirs.asnumpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(box.asnumpy(), box_theirs.asnumpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("args, kwargs, error, message", [
    ((16, 0, 20), {}, ValueError, "num_anchors must be >= 1, got 0"),
    ((16, 6, 0), {}, ValueError, "num_classes must be >= 1, got 0"),
    ((0, 6, 20), {}, ValueError, "in_channels must be >= 1, got 0"),
    ((16, 6.0, 20), {}, TypeError, "num_anchors must be an int, got float"),
    ((16, 6, 20), dict(kernel_size=2), ValueError, "kernel_size must be odd .*got 2"),
])


def test_bad_arguments_raise(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        SSDHead(*args, **kwargs)

"""Tests for gluon_ssd.blocks.l2norm: SSD's conv4_3 L2 normalization."""
import mxnet as mx
import numpy as np
import pytest
from gluoncv.model_zoo.ssd.vgg_atrous import Normalize

from gluon_ssd.blocks.l2norm import L2Normalization


def _hand_input():
    # (B=1, C=2, H=1, W=2): location (0, 0) has channels (3, 4), location (0, 1) has (0, -2).
    return mx.nd.array([[[[3.0, 0.0]], [[4.0, -2.0]]]])


def test_output_matches_hand_computed_value():
    net = L2Normalization(2)
    net.initialize(mx.init.Xavier())
    out = net(_hand_input()).asnumpy()
    # (3, 4) / ||(3, 4)|| = (0.6, 0.8), times the initial scale 20 -> (12, 16);
    # (0, -2) / 2 = (0, -1) -> (0, -20). eps = 1e-5 changes the norm by 1e-6 relative.
    expected = np.array([[[[12.0, 0.0]], [[16.0, -20.0]]]])
    assert out.shape == (1, 2, 1, 2)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_scale_is_20_under_xavier_and_has_broadcast_shape():
    net = L2Normalization(5)
    net.initialize(mx.init.Xavier())
    scale = net.scale.data().asnumpy()
    assert scale.shape == (1, 5, 1, 1)
    np.testing.assert_array_equal(scale, np.full((1, 5, 1, 1), 20.0))


def test_gradient_reaches_scale():
    net = L2Normalization(2, initial_scale=1.0)
    net.initialize()
    with mx.autograd.record():
        loss = net(_hand_input()).sum()
    loss.backward()
    # d(sum_c,loc xhat * s_c) / d s_c = sum over locations of xhat_c:
    # channel 0: 0.6 + 0 = 0.6; channel 1: 0.8 + (-1) = -0.2.
    grad = net.scale.grad().asnumpy().reshape(-1)
    np.testing.assert_allclose(grad, [0.6, -0.2], rtol=1e-5, atol=1e-6)


def test_hybridized_equals_imperative():
    net = L2Normalization(8)
    net.initialize(mx.init.Xavier())
    net.scale.set_data(mx.nd.random.uniform(1, 30, shape=(1, 8, 1, 1)))
    x = mx.nd.random.normal(shape=(2, 8, 5, 7))
    ref = net(x).asnumpy()
    net.hybridize()
    np.testing.assert_allclose(net(x).asnumpy(), ref, rtol=1e-6, atol=1e-6)


def test_matches_gluoncv_normalize():
    ours, theirs = L2Normalization(6), Normalize(6, 20)
    ours.initialize()
    theirs.initialize()
    scale = mx.nd.random.uniform(1, 30, shape=(1, 6, 1, 1))
    theirs.scale.set_data(scale)
    ours.scale.set_data(theirs.scale.data())  # same (1, C, 1, 1) layout: copied unchanged
    x = mx.nd.random.normal(shape=(2, 6, 4, 3)) * 1e-3  # small: eps matters
    np.testing.assert_allclose(ours(x).asnumpy(), theirs(x).asnumpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(channels=0), ValueError, "channels must be >= 1, got 0"),
    (dict(channels=2.0), TypeError, "channels must be an int, got float"),
    (dict(channels=2, eps=0.0), ValueError, "eps must be > 0 .*got 0.0"),
    (dict(channels=2, initial_scale="20"), TypeError, "initial_scale must be a number, got str"),
])


def test_bad_arguments_raise(kwargs, error, message):
    with pytest.raises(error, match=message):
        L2Normalization(**kwargs)

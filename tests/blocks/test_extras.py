"""Tests for gluon_ssd.blocks.extras: SSD and SSDLite extra layers."""
import mxnet as mx
import numpy as np
import pytest
from gluoncv.model_zoo.ssd.vgg_atrous import VGGAtrousExtractor, extra_spec
from gluoncv.nn.feature import FeatureExpander
from mxnet.gluon import nn

from gluon_ssd.blocks.extras import SSDExtraLayer, SSDLiteExtraLayer, extra_output_size


def _n_trainable(block):
    return sum(int(np.prod(p.shape)) for p in block.collect_params().values()
               if p.grad_req != "null")


@pytest.mark.parametrize("size, stride, pad, kernel, expected", [
    (38, 2, 1, 3, 19),  # floor((38 + 2 - 3) / 2) + 1 = 18 + 1
    (19, 2, 1, 3, 10),  # floor((19 + 2 - 3) / 2) + 1 = 9 + 1
    (10, 2, 1, 3, 5),   # floor(9 / 2) + 1 = 4 + 1
    (5, 1, 0, 3, 3),    # 5 - 3 + 1
    (3, 1, 0, 3, 1),    # 3 - 3 + 1
    (2, 1, 1, 4, 1),    # SSD512's last extra: 2 + 2 - 4 + 1
    (1, 1, 0, 3, -1),   # 1 - 3 + 1: does not fit
])


def test_extra_output_size(size, stride, pad, kernel, expected):
    assert extra_output_size(size, stride, pad, kernel) == expected


@pytest.mark.parametrize("size, stride, pad, expected", [(19, 2, 1, 10), (3, 1, 0, 1)])
def test_output_shapes_and_attributes(size, stride, pad, expected):
    for block in (SSDExtraLayer(32, 24, stride=stride, pad=pad),
                  SSDLiteExtraLayer(32, 24, stride=stride, pad=pad)):
        block.initialize(mx.init.Xavier())
        out = block(mx.nd.random.normal(shape=(2, 32, size, size)))
        assert out.shape == (2, 24, expected, expected)
        assert (block.stride, block.out_channels) == (stride, 24)
        assert block.output_size(size) == expected


def test_ssd_extra_parameter_count_and_widths():
    block = SSDExtraLayer(1024, 512)
    # Transition width max(min_depth=128, round(512 * 1.0)) = 512; convs have no bias (BN follows).
    # 1x1: 1024 * 512 = 524288; BN: 2 * 512 = 1024; 3x3: 512 * 512 * 9 = 2359296; BN: 1024.
    # Total 524288 + 1024 + 2359296 + 1024 = 2885632 (running mean/var are not trainable).
    assert _n_trainable(block) == 2885632
    assert block.trans_conv.weight.shape == (512, 1024, 1, 1)
    assert block.trans_bn._kwargs["eps"] == 1e-3  # mx.sym.BatchNorm's default, as in GluonCV
    # reduce_ratio 0.5, min_depth 128: max(128, round(256 * 0.5) = 128) = 128.
    assert SSDExtraLayer(512, 256, reduce_ratio=0.5).mid_channels == 128
    # min_depth wins: max(64, round(128 * 0.25) = 32) = 64.
    assert SSDExtraLayer(512, 128, reduce_ratio=0.25, min_depth=64).mid_channels == 64


def test_ssdlite_extra_is_depthwise_and_parameter_count():
    block = SSDLiteExtraLayer(1280, 512)
    assert block.depthwise.weight.shape == (256, 1, 3, 3)  # groups = 256 channels: depthwise
    # 1x1: 1280 * 256 = 327680; BN 512; depthwise 256 * 9 = 2304; BN 512;
    # 1x1: 256 * 512 = 131072; BN 1024. Total 327680 + 512 + 2304 + 512 + 131072 + 1024 = 463104.
    assert _n_trainable(block) == 463104


def test_ssdlite_extra_layer_order_and_relu6_by_hand():
    block = SSDLiteExtraLayer(8, 8)  # 8 -> 4 -> depthwise 4 -> 8
    block.initialize(mx.init.Xavier())  # BN: mean 0, var 1, gamma 1, beta 0: identity up to eps
    block.reduce.weight.set_data(mx.nd.ones((4, 8, 1, 1)))
    block.depthwise.weight.set_data(mx.nd.ones((4, 1, 3, 3)))
    block.project.weight.set_data(mx.nd.full((8, 4, 1, 1), 0.1))
    out = block(mx.nd.full((1, 8, 5, 5), 0.1)).asnumpy()
    # reduce: 8 * 0.1 = 0.8. Depthwise stride 2 pad 1 on 5x5 -> 3x3: a corner sees 2x2 inputs
    # (3.2), an edge 2x3 (4.8), the centre 3x3 (7.2, clipped by ReLU6 to 6).
    # project: 4 channels * 0.1 -> corner 1.28, edge 1.92, centre 2.4 (2.88 without ReLU6).
    expected = np.array([[1.28, 1.92, 1.28], [1.92, 2.4, 1.92], [1.28, 1.92, 1.28]])
    np.testing.assert_allclose(out, np.broadcast_to(expected, (1, 8, 3, 3)), rtol=1e-4)
    big = block(mx.nd.full((1, 8, 5, 5), 100.0)).asnumpy()
    # every stage clips at 6: depthwise gives 6, project 4 * 6 * 0.1 = 2.4 everywhere.
    np.testing.assert_allclose(big, np.full((1, 8, 3, 3), 2.4), rtol=1e-4)


@pytest.mark.parametrize("cls", [SSDExtraLayer, SSDLiteExtraLayer])
def test_hybridized_equals_imperative(cls):
    block = cls(16, 32)
    block.initialize(mx.init.Xavier())
    x = mx.nd.random.normal(shape=(2, 16, 9, 9))
    ref = block(x).asnumpy()
    block.hybridize()
    np.testing.assert_allclose(block(x).asnumpy(), ref, rtol=1e-5, atol=1e-5)


def _randomize(params):
    for name, p in params.items():
        low, high = (0.5, 2.0) if name.endswith(("_var", "_gamma")) else (-0.5, 0.5)
        p.set_data(mx.nd.random.uniform(low, high, shape=p.shape))


@pytest.mark.filterwarnings("ignore:Cannot decide type")  # GluonCV SymbolBlock internals
@pytest.mark.parametrize("kwargs", [
    dict(),                                         # GluonCV defaults: widths 128, 128
    dict(reduce_ratio=0.5, min_depth=8),            # mobilenet-lite style: 16, 8
    dict(use_bn=False, reduce_ratio=0.5, min_depth=8),  # biased convs, no BN
])


def test_ssd_extra_matches_gluoncv_feature_expander(kwargs):
    filters = [32, 16]
    base = nn.HybridSequential(prefix="base_")
    with base.name_scope():
        base.add(nn.Activation("relu"))
    theirs = FeatureExpander(base, "relu0_fwd", filters, **kwargs)
    x = mx.nd.random.uniform(0, 1, shape=(2, 8, 9, 9))  # non-negative: relu0 is the identity
    theirs.initialize()
    theirs(x)  # shapes are deferred in the SymbolBlock
    params = theirs.collect_params()
    _randomize(params)
    ours, in_channels = nn.HybridSequential(), 8
    for f in filters:
        ours.add(SSDExtraLayer(in_channels, f, **kwargs))
        in_channels = f
    ours.initialize()
    for i, layer in enumerate(ours):
        for our, their in ((layer.trans_conv, f"expand_trans_conv{i}"),
                           (layer.conv, f"expand_conv{i}")):
            our.weight.set_data(params[f"{their}_weight"].data())
            if our.bias is not None:
                our.bias.set_data(params[f"{their}_bias"].data())
        if layer.use_bn:
            for our, their in ((layer.trans_bn, f"expand_trans_bn{i}"), (layer.bn, f"expand_bn{i}")):
                our.gamma.set_data(mx.nd.ones(our.gamma.shape))  # fix_gamma=True: theirs is 1
                our.beta.set_data(params[f"{their}_beta"].data())
                our.running_mean.set_data(params[f"{their}_moving_mean"].data())
                our.running_var.set_data(params[f"{their}_moving_var"].data())
    expected = theirs(x)[1:]  # output 0 is the base feature
    outs, y = [], x
    for layer in ours:
        y = layer(y)
        outs.append(y)
    for out, exp in zip(outs, expected):
        assert out.shape == exp.shape
        np.testing.assert_allclose(out.asnumpy(), exp.asnumpy(), rtol=1e-4, atol=1e-5)


# fc7 side -> extra output sides: SSD300 19 -> 10 -> 5 -> 3 -> 1; SSD512 32 -> 16 -> 8 -> 4 -> 2 -> 1.
@pytest.mark.parametrize("im_size, side, sides", [(300, 19, [10, 5, 3, 1]),
                                                  (512, 32, [16, 8, 4, 2, 1])])


def test_ssd_extra_matches_gluoncv_vgg_extras(im_size, side, sides):
    theirs = VGGAtrousExtractor([1] * 5, [4] * 5, extra_spec[im_size])
    theirs.extras.initialize()
    x = mx.nd.random.uniform(0, 1, shape=(1, 1024, side, side))
    in_channels, y_theirs, y_ours = 1024, x, x
    for config, extra, expected_side in zip(extra_spec[im_size], theirs.extras, sides):
        (mid, _, _, _), (f, k, s, p) = config
        ours = SSDExtraLayer(in_channels, f, stride=s, pad=p, kernel_size=k, reduce_ratio=0.5,
                             use_bn=False)
        assert ours.mid_channels == mid  # GluonCV's table: 1x1 width is half, at least 128
        assert ours.output_size(y_ours.shape[-1]) == expected_side
        ours.initialize()
        y_theirs = extra(y_theirs)
        for our, their in ((ours.trans_conv, extra[0]), (ours.conv, extra[2])):
            our.weight.set_data(their.weight.data())
            our.bias.set_data(their.bias.data())
        y_ours = ours(y_ours)
        assert y_ours.shape == (1, f, expected_side, expected_side)
        np.testing.assert_allclose(y_ours.asnumpy(), y_theirs.asnumpy(), rtol=1e-4, atol=1e-5)
        y_ours, in_channels = y_theirs, f  # next layer from the same input


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(num_filters=0), ValueError, r"num_filters must be >= \d, got 0"),
    (dict(num_filters=-8), ValueError, r"num_filters must be >= \d, got -8"),
    (dict(num_filters=8, stride=0), ValueError, "stride must be >= 1, got 0"),
    (dict(num_filters=8, pad=-1), ValueError, "pad must be >= 0, got -1"),
    (dict(num_filters=8.0), TypeError, "num_filters must be an int, got float"),
    (dict(num_filters=8, reduce_ratio=0.0), ValueError, "reduce_ratio must be > 0, got 0.0"),
    # width max(0, round(8 * 0.01)) = 0
    (dict(num_filters=8, reduce_ratio=0.01, min_depth=0), ValueError,
     r"transition width max\(min_depth=0, round\(8 \* 0.01\)\) is 0"),
])


def test_bad_arguments_raise(kwargs, error, message):
    with pytest.raises(error, match=message):
        SSDExtraLayer(16, **kwargs)
    if set(kwargs) <= {"num_filters", "stride", "pad"}:
        with pytest.raises(error, match=message):
            SSDLiteExtraLayer(16, **kwargs)


def test_lite_extra_needs_two_filters_and_sizes_are_positive():
    with pytest.raises(ValueError, match="num_filters must be >= 2, got 1"):
        SSDLiteExtraLayer(16, 1)  # num_filters // 2 == 0 channels
    with pytest.raises(ValueError, match="size must be >= 1, got 0"):
        extra_output_size(0, 1, 0)

"""Taps of the valid-padding and concatenating families: Inception-v3, DenseNet, SqueezeNet, AlexNet.

Each tap is checked against the model_zoo network's own children run one by one, found by the map
sizes worked out by hand from the layers (never by layer names), and by perturbing the weights just
before and just after it, as tests/test_feature_extractor.py does for ResNet.
"""
import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import nn
from mxnet.gluon.contrib.nn import HybridConcurrent
from mxnet.gluon.model_zoo import vision

from gluon_ssd import FeatureExtractor, trunk_specs


def _net(name, side, seed=0):
    """A model_zoo network, initialised, its deferred shapes materialised at a side it accepts."""
    mx.random.seed(seed)
    net = vision.get_model(name)
    net.initialize(mx.init.Xavier(magnitude=1.0))
    net.features(mx.nd.zeros((1, 3, side, side)))
    return net


def _run(layers, x):
    for layer in layers:
        x = layer(x)
    return x


def _outputs(layers, x):
    """Each child's output, running them one by one."""
    outs = []
    for layer in layers:
        x = layer(x)
        outs.append(x)
    return outs


def _last_at(outs, height):
    """Index of the last output whose map is ``height`` rows high."""
    return max(i for i, o in enumerate(outs) if o.ndim == 4 and o.shape[2] == height)


def _perturb(param, scale=0.5):
    param.set_data(param.data() + scale)


def _assert_close(a, b):
    np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-4, atol=1e-5)


def _first_param(block):
    return next(p for p in block.collect_params().values() if p.name.endswith("weight"))


# Inception-v3 at 299 (Szegedy et al. 2016, model_zoo's inception.py): 3x3/2 valid conv -> 149,
# 3x3 valid -> 147, 3x3 pad 1 -> 147, 3x3/2 max pool -> 73, 1x1 -> 73, 3x3 valid -> 71,
# 3x3/2 max pool -> 35 (stride 8: blocks A1..A3, 288 channels out), block B's valid 3x3/2 -> 17
# (stride 16: C1..C4, 768), block D's valid 3x3/2 -> 8 (stride 32: E1, E2, 2048). At a width of
# 363: 181, 179, 179, 89, 89, 87, 43 -> 21 -> 10.
INCEPTION_MAPS_299 = {8: 35, 16: 17, 32: 8}


def test_inceptionv3_taps_are_the_last_block_of_each_map_size():
    net = _net("inceptionv3", 299)
    fe = FeatureExtractor(net, strides=(8, 16, 32))
    assert [(s.stride, s.channels) for s in fe.specs] == [(8, 288), (16, 768), (32, 2048)]
    assert fe.output_shapes(299) == [(c, m, m) for c, m in zip((288, 768, 2048), (35, 17, 8))]
    assert fe.output_shapes(299, 363) == [(288, 35, 43), (768, 17, 21), (2048, 8, 10)]
    f = list(net.features)
    x = mx.nd.random.uniform(shape=(1, 3, 299, 299))
    outs = _outputs(f, x)
    taps = fe(x)
    for stride, tap in zip((8, 16, 32), taps):
        k = _last_at(outs, INCEPTION_MAPS_299[stride])
        assert isinstance(f[k], HybridConcurrent)  # a whole Inception block: its concatenation
        _assert_close(tap, outs[k])

    # The stride-16 tap is the last of the five 17x17 blocks (B, C1..C4): mixed_7 of MXNet's
    # example/ssd, not the first.
    k16 = _last_at(outs, 17)
    assert sum(o.shape[2] == 17 for o in outs) == 5
    s16 = taps[1]
    _perturb(_first_param(f[k16 + 1]))  # block D, the first 8x8 one
    assert np.array_equal(fe(x)[1].asnumpy(), s16.asnumpy())
    _perturb(_first_param(f[k16]))      # the last 17x17 block reaches the tap
    assert not np.allclose(fe(x)[1].asnumpy(), s16.asnumpy())


def test_inceptionv3_minimum_input_and_errors_name_the_layer():
    fe = FeatureExtractor("inceptionv3", strides=(16, 32))
    # The 8x8-at-299 map is 1x1 at its smallest: D's valid 3x3/2 needs 3 <- B's valid 3x3/2 needs
    # 7 <- the second max pool 3x3/2 needs 15 <- the valid 3x3 needs 17 <- the first max pool needs
    # 35 <- the two valid 3x3 need 37 <- the first 3x3/2 conv needs 2 * 36 + 3 = 75.
    assert fe.min_input_size == 75
    assert fe.output_shapes(75) == [(768, 3, 3), (2048, 1, 1)]
    # At 60: 29, 27, 27, 13, 13, 11, 5, B -> 2, and block D (features[15]) refuses its 2x2 map.
    with pytest.raises(ValueError, match=r"inceptionv3 cannot take a 60x60 input: layer \S+ "
                                         r"\(features\.15\) refuses it .*smallest input .* 75x75"):
        fe.output_shapes(60)
    fe.initialize()
    with pytest.raises(ValueError, match="smallest input is 75x75"):
        fe(mx.nd.zeros((1, 3, 74, 90)))
    assert [o.shape for o in fe(mx.nd.zeros((1, 3, 75, 76)))] == [(1, 768, 3, 3), (1, 2048, 1, 1)]


def test_parameters_of_the_last_tap_are_the_whole_features_and_the_classifier_side_is_299():
    net = _net("inceptionv3", 299)  # the whole features run from 299 (their 8x8 pool)
    trainable = [p for p in net.collect_params().values() if p.grad_req != "null"]
    features = {p.name for p in net.features.collect_params().values()}
    fe = FeatureExtractor(net, strides=(32,))
    # Past the last 8x8 block only the average pooling and the Dropout remain: no parameters.
    assert fe.specs[0].params == sum(p.data().size for p in trainable if p.name in features)
    # The classifier: Dense 2048 -> 1000 with bias, counted at 299 (model_zoo's Inception-v3
    # refuses 224: its 8x8 pool meets a 5x5 map).
    assert fe.backbone_params == fe.specs[0].params + 2048 * 1000 + 1000


# DenseNet (Huang et al. 2017; model_zoo's densenet_spec): (initial channels, growth rate, layers
# per block). A block adds growth * layers channels; a transition halves them with a 1x1 conv and
# then halves the map with a 2x2 average pool. The stride-4, 8, 16 ends are the transitions' 1x1
# convs, the stride-32 end is the final BN + ReLU.
@pytest.mark.parametrize("name, channels", [
    ("densenet121", (128, 256, 512, 1024)),    # 64, 32, (6, 12, 24, 16): (64+192)/2, (128+384)/2, ...
    ("densenet161", (192, 384, 1056, 2208)),   # 96, 48, (6, 12, 36, 24): (96+288)/2, (192+576)/2, ...
    ("densenet169", (128, 256, 640, 1664)),    # 64, 32, (6, 12, 32, 32)
    ("densenet201", (128, 256, 896, 1920)),    # 64, 32, (6, 12, 48, 32)
])
def test_densenet_stride_ends_have_the_block_rule_channels(name, channels):
    fe = FeatureExtractor(name, strides=(4, 8, 16, 32))
    assert [s.channels for s in fe.specs] == list(channels)
    # 7x7/2 pad 3 and 3x3/2 pad 1 max pool: 256 -> 128 -> 64; transitions floor: 32, 16, 8.
    assert [h for _, h, _ in fe.output_shapes(256)] == [64, 32, 16, 8]
    # Smallest: 29 -> 15 -> 8 -> 4 -> 2 -> 1, while 28 -> 14 -> 7 -> 3 -> 1 -> 0.
    assert fe.min_input_size == 29


def test_densenet121_taps_are_transition_convs_and_the_final_relu():
    net = _net("densenet121", 224)  # the whole features run from 224 (their 7x7 pool)
    f = list(net.features)
    transitions = [i for i, b in enumerate(f)
                   if isinstance(b, nn.HybridSequential) and isinstance(b[-1], nn.AvgPool2D)]
    assert len(transitions) == 3
    fe = FeatureExtractor(net, strides=(16, 32))
    x = mx.nd.random.uniform(shape=(1, 3, 64, 64))
    s16, s32 = fe(x)
    t3 = f[transitions[2]]
    _assert_close(s16, _run(list(t3)[:-1], _run(f[:transitions[2]], x)))  # before the pooling
    final = max(i for i, b in enumerate(f) if isinstance(b, nn.Activation))
    assert final == len(f) - 3                # then the classifier's 7x7 pool and Flatten
    _assert_close(s32, _run(f[:final + 1], x))
    assert s32.min().asscalar() >= 0          # after the final ReLU
    # The classifier's 7x7 average pool keeps following the input at large sizes (a 7x7/7 pool),
    # but it is 1x1 at 224: it is the global pooling, not a trunk point.
    assert trunk_specs(net)[-1].path == f"features.{final}"
    _perturb(_first_param(f[transitions[2] + 1]))  # the last dense block: not in the stride-16 tap
    assert np.array_equal(fe(x)[0].asnumpy(), s16.asnumpy())
    _perturb(t3[2].weight)                          # the transition's conv is
    assert not np.allclose(fe(x)[0].asnumpy(), s16.asnumpy())


# SqueezeNet (Iandola et al. 2016) at 224, max pools 3x3/2 in ceil mode:
# 1.0: 7x7/2 valid conv -> 109, pool -> 54, fires, pool -> 27, fires, pool -> 13, last fire.
# 1.1: 3x3/2 valid conv -> 111, pool -> 55, fires, pool -> 27, fires, pool -> 13, fires.
# Smallest inputs: the last pool needs a 3x3 map <- 6 <- 12 after the first conv: 1.0's 7x7/2 from
# 2 * 11 + 7 = 29, 1.1's 3x3/2 from 2 * 11 + 3 = 25 (one less gives 11 -> 5 -> 2, refused).
@pytest.mark.parametrize("name, sizes, smallest", [("squeezenet1.0", (54, 27, 13), 29),
                                                   ("squeezenet1.1", (55, 27, 13), 25)])
def test_squeezenet_ends_at_stride_16_with_its_last_fire_module(name, sizes, smallest):
    net = _net(name, 64)
    f = list(net.features)
    fe = FeatureExtractor(net, strides=(4, 8, 16), backbone_name=name)
    assert [h for _, h, _ in fe.output_shapes(224)] == list(sizes)
    assert fe.min_input_size == smallest
    last_fire = max(i for i, b in enumerate(f) if isinstance(b, nn.HybridSequential))
    assert isinstance(f[last_fire + 1], nn.Dropout)  # the classifier's Dropout is not a tap
    assert fe.specs[2].channels == 512               # expand 1x1 + 3x3: 256 + 256
    x = mx.nd.random.uniform(shape=(1, 3, 64, 64))
    s16 = fe(x)[2]
    _assert_close(s16, _run(f[:last_fire + 1], x))
    _perturb(_first_param(f[last_fire][1]))  # the expand (concatenation) of the last fire
    assert not np.allclose(fe(x)[2].asnumpy(), s16.asnumpy())
    with pytest.raises(ValueError, match=rf"{name} has no output at stride 32; available "
                                         r"strides: \[2, 4, 8, 16\]"):
        FeatureExtractor(name, strides=(16, 32))


def test_alexnet_taps_at_224_match_its_layers():
    # 11x11/4 pad 2 conv: (224 + 4 - 11) // 4 + 1 = 55 (stride 4); 3x3/2 pool -> 27 and the 5x5
    # pad 2 conv keeps it (stride 8); pool -> 13, three 3x3 pad 1 convs (stride 16); pool -> 6 (32).
    net = _net("alexnet", 64)
    f = list(net.features)
    fe = FeatureExtractor(net, strides=(4, 8, 16, 32))
    assert fe.output_shapes(224) == [(64, 55, 55), (192, 27, 27), (256, 13, 13), (256, 6, 6)]
    # Smallest: pool 3 needs 3 <- pool 2 needs 7 <- pool 1 needs 15 <- the conv, 4 * 14 + 11 - 4 = 63.
    assert fe.min_input_size == 63
    x = mx.nd.random.uniform(shape=(1, 3, 64, 64))
    pools = [i for i, b in enumerate(f) if isinstance(b, nn.MaxPool2D)]
    for tap, end in zip(fe(x), (0, pools[1] - 1, pools[2] - 1, pools[2])):
        _assert_close(tap, _run(f[:end + 1], x))


def test_by_name_equals_by_stride_for_the_new_families():
    for name in ("inceptionv3", "densenet121", "squeezenet1.1", "alexnet"):
        by_stride = FeatureExtractor(name, strides=(8, 16))
        by_name = FeatureExtractor(name, names=[s.name for s in by_stride.specs])
        assert by_name.specs == by_stride.specs
        ends = {s.stride: s.name for s in trunk_specs(name)}  # later points overwrite: the ends
        assert [s.name for s in by_stride.specs] == [ends[8], ends[16]]

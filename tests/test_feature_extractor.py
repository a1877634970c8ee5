"""Tests for gluon_ssd.feature_extractor: taps are right, computed, shared, and fail loudly, for
every model_zoo family (padded ones first, then the valid-padding and concatenating ones)."""
import hashlib

import mxnet as mx
import numpy as np
import pytest
from gluoncv.nn.feature import FeatureExtractor as GluonCVFeatureExtractor
from mxnet.gluon import nn
from mxnet.gluon.contrib.nn import HybridConcurrent
from mxnet.gluon.model_zoo import model_store, vision

from gluon_ssd import SUPPORTED_BACKBONES, FeatureExtractor, trunk_specs


def _init(block, seed=0):
    mx.random.seed(seed)
    block.initialize(mx.init.Xavier(magnitude=1.0))
    return block


def _net(name, seed=0):
    """A model_zoo network, initialised, with every feature layer's deferred shape materialised."""
    net = _init(vision.get_model(name), seed)
    net.features(mx.nd.zeros((1, 3, 64, 64)))
    return net


def _run(layers, x):
    for layer in layers:
        x = layer(x)
    return x


def _perturb(param, scale=0.5):
    param.set_data(param.data() + scale)


def _assert_close(a, b):
    np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-4, atol=1e-5)


# Families whose every layer pads to keep 'same' sizes: maps are exactly ceil(input / stride).
_PADDED = ("resnet", "mobilenet", "vgg", "densenet")


def test_supported_backbones_are_every_model_zoo_classifier_with_spatial_features():
    # resnet{18,34,50,101,152}_v{1,2}: 10; mobilenet x4 widths; mobilenetv2 x4; vgg{11,13,16,19}(_bn): 8
    # + inceptionv3, densenet{121,161,169,201}, squeezenet1.{0,1}, alexnet: 8
    assert len(SUPPORTED_BACKBONES) == 34
    assert len(set(SUPPORTED_BACKBONES)) == 34
    # ...which is every name model_zoo's get_model lists (its error message is the only listing).
    with pytest.raises(ValueError, match="no-such-network is not supported") as listing:
        vision.get_model("no-such-network")
    assert set(SUPPORTED_BACKBONES) == set(str(listing.value).split("\n\t")[1:])


@pytest.mark.parametrize("name", SUPPORTED_BACKBONES)
def test_every_backbone_specs_match_outputs_and_hybridize(name):
    net = vision.get_model(name)
    fe = FeatureExtractor(net, backbone_name=name)  # every stride's end
    _init(fe)
    strides = [s.stride for s in fe.specs]
    # SqueezeNet's features end with a fire module at stride 16; every other family reaches 32.
    assert strides == sorted(set(strides)) and strides[-1] == (16 if "squeeze" in name else 32)
    # Exactly the parameters the outputs depend on: the graph's variables are the registered ones.
    graph = mx.sym.Group(fe(mx.sym.var("data")))
    used = set(graph.list_arguments()) | set(graph.list_auxiliary_states())
    assert used - {"data"} == set(fe.collect_params().keys())
    assert 0 < fe.num_params <= fe.backbone_params
    assert fe.num_params == fe.specs[-1].params
    # Shared, not copied: the extractor's parameters are the network's own objects.
    net_params = net.collect_params()
    assert all(p is net_params[k] for k, p in fe.collect_params().items())

    # The smallest square input (at least 64) and a non-square one: multiples of 32 for the padded
    # families, where H_out == H / stride; valid convolutions make the others' maps smaller.
    side = max(64, fe.min_input_size)
    for height, width in ((side, side), (side + 32, side + 64)):
        x = mx.nd.random.uniform(shape=(2, 3, height, width))
        imperative = fe(x)
        assert len(imperative) == len(fe.specs)
        for spec, out, shape in zip(fe.specs, imperative, fe.output_shapes(height, width)):
            assert out.shape[1:] == shape and out.shape[:2] == (2, spec.channels)
            nominal = (-(-height // spec.stride), -(-width // spec.stride))
            if name.startswith(_PADDED):
                assert out.shape[2:] == nominal
            else:
                assert 1 <= out.shape[2] <= nominal[0] and 1 <= out.shape[3] <= nominal[1]
        fe.hybridize()
        hybrid = fe(x)
        fe.hybridize(active=False)
        for a, b in zip(imperative, hybrid):
            _assert_close(a, b)


def test_resnet101_v1_stride16_tap_is_the_end_of_stage3():
    # ResNet v1 features: conv, bn, relu, pool, stage1..stage4, pool (mxnet.gluon.model_zoo.vision.resnet); stage 3 is
    # features[6] with 23 units for ResNet-101.
    net = _net("resnet101_v1")
    stage3, stage4 = net.features[6], net.features[7]
    assert len(stage3) == 23
    fe = FeatureExtractor(net, strides=(16,))
    x = mx.nd.random.uniform(shape=(1, 3, 64, 64))
    tap = fe(x)[0]
    _assert_close(tap, _run(list(net.features)[:7], x))
    assert fe.specs[0].channels == 1024 and fe.specs[0].path == "features.6.22"

    _perturb(stage4[0].body[0].weight)
    assert np.array_equal(fe(x)[0].asnumpy(), tap.asnumpy()), "stage 4 must not reach the tap"
    _perturb(stage3[22].body[0].weight)
    assert not np.allclose(fe(x)[0].asnumpy(), tap.asnumpy()), "the last unit must reach the tap"


def test_resnet101_v2_taps_are_stage_sums_and_final_bn_relu():
    # ResNet v2 features: bn, conv, bn, relu, pool, stage1..stage4, bn, relu, pool, flatten.
    net = _net("resnet101_v2")
    f = list(net.features)
    assert isinstance(f[9], nn.BatchNorm) and isinstance(f[10], nn.Activation)
    fe = FeatureExtractor(net, strides=(16, 32))
    x = mx.nd.random.uniform(shape=(1, 3, 64, 64))
    s16, s32 = fe(x)
    _assert_close(s16, _run(f[:8], x))   # through stage 3: its last unit's sum
    _assert_close(s32, _run(f[:11], x))  # through stage 4 and the final BN + ReLU
    assert s32.min().asscalar() >= 0     # activated

    _perturb(f[8][0].bn1.gamma)          # stage 4's first BN: not part of the stride-16 tap
    assert np.array_equal(fe(x)[0].asnumpy(), s16.asnumpy())
    _perturb(f[7][22].conv1.weight)      # last unit of stage 3
    assert not np.allclose(fe(x)[0].asnumpy(), s16.asnumpy())
    s32 = fe(x)[1]
    _perturb(f[9].beta)                  # final BN reaches the stride-32 tap
    assert not np.allclose(fe(x)[1].asnumpy(), s32.asnumpy())


def test_mobilenetv2_stride16_tap_is_the_ssdlite_expansion_of_layer_15():
    # MobileNetV2 paper (Sandler et al. 2018), Sec. 6.2: the expansion inside the 14th linear bottleneck (index 13), 576 channels at
    # stride 16 for width 1.0; features = conv, bn, relu6, then the 17 bottlenecks, so it is f[16].
    net = _net("mobilenetv2_1.0")
    f = list(net.features)
    block = f[3 + 13]
    fe = FeatureExtractor(net, strides=(16, 32))
    assert (fe.specs[0].channels, fe.specs[0].stride) == (576, 16)
    assert (fe.specs[1].channels, fe.specs[1].stride) == (1280, 32)
    x = mx.nd.random.uniform(shape=(1, 3, 64, 64))
    tap = fe(x)[0]
    expansion = _run(list(block.out)[:3], _run(f[:16], x))  # 1x1 conv + BN + ReLU6
    _assert_close(tap, expansion)
    _perturb(block.out[3].weight)  # the depthwise stride-2 conv after the expansion
    assert np.array_equal(fe(x)[0].asnumpy(), tap.asnumpy())
    # Selectable by name too, as seed-style configs do.
    by_name = FeatureExtractor(net, names=[fe.specs[0].name])
    _assert_close(by_name(x)[0], tap)


def test_layer_outputs_are_selectable_without_fwd_suffix():
    fe = FeatureExtractor("mobilenet1.0", names=["relu22", "relu26_fwd"])
    assert [s.name for s in fe.specs] == ["relu22_fwd", "relu26_fwd"]
    assert [s.stride for s in fe.specs] == [16, 32]


def _stride_ends_from_layer_attributes(features):
    """Index of the last layer before each stride-2 layer, from the layers' own `stride` kwargs."""
    ends, stride = {}, 1
    for i, layer in enumerate(features):
        s = layer._kwargs.get("stride", (1, 1))[0] if hasattr(layer, "_kwargs") else 1
        if s == 2 and i > 0:
            ends[stride] = i - 1
        stride *= s
    ends[stride] = max(i for i, l in enumerate(features)
                       if not isinstance(l, (nn.GlobalAvgPool2D, nn.Flatten, nn.Dense,
                                             nn.Dropout)))
    return ends


@pytest.mark.parametrize("name", ["mobilenet0.5", "vgg16", "vgg13_bn"])
def test_flat_backbone_taps_match_the_layer_strides(name):
    net = _net(name)
    f = list(net.features)
    ends = _stride_ends_from_layer_attributes(f)
    fe = FeatureExtractor(net, strides=(8, 16, 32))
    x = mx.nd.random.uniform(shape=(1, 3, 64, 64))
    for stride, out in zip((8, 16, 32), fe(x)):
        _assert_close(out, _run(f[:ends[stride] + 1], x))
    if name.startswith("vgg"):
        # stride 8 ends at conv4_3's ReLU (SSD's first tap): the layer before the 4th max pooling.
        pools = [i for i, l in enumerate(f) if isinstance(l, nn.MaxPool2D)]
        assert ends[8] == pools[3] - 1 and isinstance(f[ends[8]], nn.Activation)


@pytest.mark.parametrize("name, gluoncv_names", [
    # gluoncv/model_zoo/ssd/presets.py: ssd_512_resnet18_v1_voc, ssd_512_resnet50_v1_voc,
    # ssd_512_mobilenet1.0_voc, ssd_300_mobilenet0.25_voc.
    ("resnet18_v1", ["stage3_activation1", "stage4_activation1"]),
    ("resnet50_v1", ["stage3_activation5", "stage4_activation2"]),
    ("mobilenet1.0", ["relu22_fwd", "relu26_fwd"]),
    ("mobilenet0.25", ["relu22_fwd", "relu26_fwd"]),
])


def test_stride_taps_agree_with_gluoncv_where_gluoncv_is_right(name, gluoncv_names):
    net = _net(name)
    ours = FeatureExtractor(net, strides=(16, 32))
    assert [s.name for s in ours.specs] == gluoncv_names
    theirs = GluonCVFeatureExtractor(net, gluoncv_names)
    x = mx.nd.random.uniform(shape=(1, 3, 64, 64))
    for a, b in zip(ours(x), theirs(x)):
        _assert_close(a, b)


def test_gluoncv_resnet101_v2_tap_is_mid_stage3_and_rejected():
    net = _net("resnet101_v2")
    gluoncv_names = ["stage3_activation22", "stage4_activation2"]  # ssd_512_resnet101_v2_voc
    theirs = GluonCVFeatureExtractor(net, gluoncv_names)
    x = mx.nd.random.uniform(shape=(1, 3, 64, 64))
    before = theirs(x)[0]
    _perturb(net.features[7][22].conv1.weight)  # last unit of stage 3: GluonCV's tap ignores it
    assert np.array_equal(theirs(x)[0].asnumpy(), before.asnumpy())
    with pytest.raises(ValueError, match="stage3__plus22"):  # our error suggests the real end
        FeatureExtractor(net, names=gluoncv_names)


def test_trunk_specs_list_every_point_and_stride_ends():
    specs = trunk_specs("resnet50_v1")
    # conv, bn, relu, pool + 3 + 4 + 6 + 3 units; the global pool is not spatial.
    assert len(specs) == 4 + 16
    assert [s.stride for s in specs[:4]] == [2, 2, 2, 4]
    assert {s.path for s in specs} >= {"features.6.5", "features.7.2"}


def test_describe_shows_last_units_and_parameter_counts():
    text50 = FeatureExtractor("resnet50_v1", strides=(16, 32)).describe(512)
    text101 = FeatureExtractor("resnet101_v1", strides=(16, 32)).describe(512)
    assert "features.6.5 (6/6)" in text50 and "features.7.2 (3/3)" in text50
    assert "features.6.22 (23/23)" in text101 and "features.7.2 (3/3)" in text101
    assert "32x32" in text101 and "16x16" in text101  # 512 / 16, 512 / 32
    # ResNet-101's stage 3 has 17 more units than ResNet-50's (23 vs 6), each: 1x1 conv 1024->256
    # with bias, 3x3 conv 256->256 without (gluon's _conv3x3), 1x1 conv 256->1024 with bias, and
    # three BatchNorms' gamma+beta (256, 256, 1024 channels): 1,119,744 trainable scalars per unit.
    r50 = FeatureExtractor("resnet50_v1", strides=(16,)).specs[0].params
    r101 = FeatureExtractor("resnet101_v1", strides=(16,)).specs[0].params
    per_unit = (1024 * 256 + 256) + 256 * 9 * 256 + (256 * 1024 + 1024) + 2 * (256 + 256 + 1024)
    assert r101 - r50 == 17 * per_unit


def test_any_input_size_down_to_the_minimum():
    fe = _init(FeatureExtractor("vgg11", strides=(32,)))
    # Five 2x2/2 max poolings without padding: the smallest input keeping pool5 at 1x1 is 32.
    assert fe.min_input_size == 32
    assert fe(mx.nd.zeros((1, 3, 32, 45)))[0].shape == (1, 512, 1, 1)
    with pytest.raises(ValueError, match="smallest input is 32x32"):
        fe(mx.nd.zeros((1, 3, 31, 64)))
    r = _init(FeatureExtractor("resnet18_v1", strides=(32,)))
    assert r(mx.nd.zeros((1, 3, 37, 70)))[0].shape == (1, 512, 2, 3)  # ceil(37/32), ceil(70/32)


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match="resnet50_v1"):
        FeatureExtractor("resnet50_v3")
    with pytest.raises(ValueError, match="stage3_activation5"):
        FeatureExtractor("resnet50_v1", names=["stage3_activaton5"])
    with pytest.raises(ValueError, match=r"available strides: \[2, 4, 8, 16, 32\]"):
        FeatureExtractor("resnet50_v1", strides=(64,))
    with pytest.raises(ValueError, match="not both"):
        FeatureExtractor("resnet18_v1", strides=(8,), names=["stage4_activation1"])
    with pytest.raises(ValueError, match="duplicate"):
        FeatureExtractor("resnet18_v1", strides=(8, 8))
    with pytest.raises(TypeError, match="strides entry must be an int, got str"):
        FeatureExtractor("resnet18_v1", strides=("16",))
    with pytest.raises(TypeError, match="HybridBlock"):
        FeatureExtractor(42)
    with pytest.raises(ValueError, match="expected a"):
        _init(FeatureExtractor("resnet18_v1", strides=(8,)))(mx.nd.zeros((3, 64, 64)))


def test_pretrained_goes_through_the_model_store(tmp_path, monkeypatch):
    # A local weights file with the model store's naming (name-<sha1[:8]>.params) and sha1 check;
    # registering its hash stands in for the published one, so nothing is downloaded.
    source = _init(vision.get_model("resnet18_v1"), seed=3)
    source(mx.nd.zeros((1, 3, 32, 32)))  # materialise deferred shapes
    tmp_file = tmp_path / "weights.params"
    source.save_parameters(str(tmp_file))
    sha1 = hashlib.sha1(tmp_file.read_bytes()).hexdigest()
    tmp_file.rename(tmp_path / f"resnet18_v1-{sha1[:8]}.params")
    monkeypatch.setitem(model_store._model_sha1, "resnet18_v1", sha1)

    fe = FeatureExtractor("resnet18_v1", strides=(32,), pretrained=True, root=str(tmp_path))
    src = source.features[0].weight.data().asnumpy()
    loaded = [p for k, p in fe.collect_params().items() if k.endswith("conv0_weight")][0]
    np.testing.assert_array_equal(loaded.data().asnumpy(), src)


# --- the valid-padding and concatenating families: Inception-v3, DenseNet, SqueezeNet, AlexNet.
# Each tap is checked against the model_zoo network's own children run one by one, found by the
# map sizes worked out by hand from the layers (never by layer names), and by perturbing the
# weights just before and just after it, as above for ResNet.


def _net_at(name, side, seed=0):
    """A model_zoo network, initialised, its deferred shapes materialised at a side it accepts."""
    mx.random.seed(seed)
    net = vision.get_model(name)
    net.initialize(mx.init.Xavier(magnitude=1.0))
    net.features(mx.nd.zeros((1, 3, side, side)))
    return net


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


def _first_param(block):
    return next(p for p in block.collect_params().values() if p.name.endswith("weight"))


# Inception-v3 at 299 (Szegedy et al. 2016, model_zoo's inception.py): 3x3/2 valid conv -> 149,
# 3x3 valid -> 147, 3x3 pad 1 -> 147, 3x3/2 max pool -> 73, 1x1 -> 73, 3x3 valid -> 71,
# 3x3/2 max pool -> 35 (stride 8: blocks A1..A3, 288 channels out), block B's valid 3x3/2 -> 17
# (stride 16: C1..C4, 768), block D's valid 3x3/2 -> 8 (stride 32: E1, E2, 2048). At a width of
# 363: 181, 179, 179, 89, 89, 87, 43 -> 21 -> 10.
INCEPTION_MAPS_299 = {8: 35, 16: 17, 32: 8}


def test_inceptionv3_taps_are_the_last_block_of_each_map_size():
    net = _net_at("inceptionv3", 299)
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
    net = _net_at("inceptionv3", 299)  # the whole features run from 299 (their 8x8 pool)
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
    net = _net_at("densenet121", 224)  # the whole features run from 224 (their 7x7 pool)
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
    net = _net_at(name, 64)
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
    net = _net_at("alexnet", 64)
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

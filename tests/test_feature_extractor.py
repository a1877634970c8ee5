"""Tests for gluon_ssd.feature_extractor: taps are right, computed, shared, and fail loudly."""
import hashlib

import mxnet as mx
import numpy as np
import pytest
from gluoncv.nn.feature import FeatureExtractor as GluonCVFeatureExtractor
from mxnet.gluon import nn
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
    with pytest.raises(TypeError, match="ints"):
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

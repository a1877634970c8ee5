"""Tests for gluon_ssd.model.config and the build-time checks of gluon_ssd.zoo.build_ssd."""
import dataclasses

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from gluon_ssd import zoo
from gluon_ssd.model.config import SSDConfig

R4, R6 = (1, 2, 0.5), (1, 2, 0.5, 3, 1 / 3)

# The seed form of SSD300-VGG16 (MXNet example/ssd style), as users write it.
SEED_VGG300 = dict(
    backbone="vgg16_atrous", base_size=300,
    from_layers=["relu4_3", "relu7", "", "", "", ""],
    num_filters=[512, -1, 512, 256, 256, 256],
    strides=[-1, -1, 2, 2, 1, 1], pads=[-1, -1, 1, 1, 0, 0],
    sizes=[30, 60, 111, 162, 213, 264, 315],
    ratios=[R4, R6, R6, R6, R4, R4],
    normalizations=[20, -1, -1, -1, -1, -1],
    steps=[8, 16, 32, 64, 100, 300], extra_bn=False, extra_reduce_ratio=0.5)

SMALL = dict(  # mobilenet0.25 at 128 px: taps 8x8 and 4x4, extras 2x2 and 1x1
    backbone="mobilenet0.25", base_size=128, from_layers=[16, 32, "", ""],
    num_filters=[-1, -1, 128, 128], strides=[-1, -1, 2, 2], pads=[-1, -1, 1, 1],
    sizes=[20, 40, 70, 100, 128], ratios=[R4, R6, R6, R4])


def test_seed_dict_builds_the_zoo_architecture():
    net = zoo.build_ssd(SEED_VGG300, classes=zoo.dataset_classes("voc"))
    assert SSDConfig.from_dict(SEED_VGG300) == zoo.get_config("ssd_300_vgg16_atrous_voc")[0]
    net.initialize(mx.init.Xavier())
    with autograd.train_mode():
        _, _, anchors = net(mx.nd.zeros((1, 3, 300, 300)))
    assert anchors.shape[1] == 8732


def test_small_custom_config_builds_and_runs():
    net = zoo.build_ssd(SMALL, classes=["a", "b"])
    net.initialize(mx.init.Xavier())
    with autograd.train_mode():
        cls_preds, _, anchors = net(mx.nd.zeros((1, 3, 128, 128)))
    # 8*8*4 + 4*4*6 + 2*2*6 + 1*1*4 = 256 + 96 + 24 + 4
    assert anchors.shape == (1, 380, 4) and cls_preds.shape == (1, 380, 3)


@pytest.mark.parametrize("change, message", [
    (dict(num_filters=[-1, -1, 128]), "num_filters has 3 entries but from_layers has 4"),
    (dict(sizes=[20, 40, 70, 100]), "sizes needs 5 entries"),
    (dict(sizes=[20, 40, 30, 100, 128]), "increasing"),
    (dict(ratios=[R4, R6, (1, -2), R4]), "ratios must be > 0"),
    (dict(ratios=[R4, R6, (2, 1), R4]), "start with 1"),
    (dict(from_layers=["", 16, 32, ""]), "first layer must be a backbone tap"),
    (dict(from_layers=[16, "", 32, ""], num_filters=[-1, 128, -1, 128], strides=[-1, 2, -1, 2],
          pads=[-1, 1, -1, 1]), "taps must come before extra layers"),
    (dict(num_filters=[-1, -1, 0, 128]), r"layer 2 \(an extra layer\): num_filters must be >= 1"),
    (dict(steps=[16, 32, 64]), "steps has 3 entries"),
    (dict(normalizations=[20, -1, 20, -1]), "normalizations apply to backbone taps only"),
])


def test_config_errors(change, message):
    with pytest.raises(ValueError, match=message):
        SSDConfig(**{**SMALL, **change})


@pytest.mark.parametrize("change, message", [
    (dict(strides=[-1, -1, 2.0, 2]), r"strides must be a list of ints, got \(-1, -1, 2\.0, 2\)"),
    (dict(base_size=128.0), r"base_size must be an int, got 128\.0"),
])
def test_config_type_errors(change, message):
    # A wrong type is a TypeError, a value out of range a ValueError (gluon_ssd.utils.checks).
    with pytest.raises(TypeError, match=message):
        SSDConfig(**{**SMALL, **change})


@pytest.mark.parametrize("change, message", [
    # a third stride-2 extra on the 1x1 map is fine (pad 1), a valid 3x3 on 1x1 is not
    (dict(pads=[-1, -1, 1, 0]), r"shrinks the 2x2 map of layer 2 below 1x1 at the 128 px"),
    # GluonCV's ssd_300_mobilenet0.25 bug: steps 8, 16 on stride-16/32 maps
    (dict(steps=[8, 16, 64, 128]), r"layer 0 \(relu22_fwd\): step 8 px over its 8x8 map spans "
                                   r"64 px of the 128 px input \(real stride 16\)"),
    (dict(from_layers=["relu22", "relu26x", "", ""]), "relu26_fwd"),
    (dict(num_filters=[256, -1, 128, 128]), "has 128 channels, config says num_filters=256"),
    (dict(from_layers=[16, "relu26", "", ""]), "mixes strides and names"),
    (dict(from_layers=[16, 64, "", ""]), r"available strides"),
])


def test_build_time_errors(change, message):
    with pytest.raises(ValueError, match=message):
        zoo.build_ssd(SSDConfig(**{**SMALL, **change}), classes=["a"])


def test_unknown_keys_and_bad_types():
    with pytest.raises(ValueError, match="unknown config keys"):
        SSDConfig.from_dict({**SMALL, "from_layer": [16]})
    with pytest.raises(TypeError, match="one list of ratios per layer"):
        SSDConfig(**{**SMALL, "ratios": [1, 2, 0.5]})
    assert dataclasses.replace(SSDConfig(**SMALL), lite=True).lite


# MXNet example/ssd's Inception-v3 config (symbol/symbol_factory.py), as its users wrote it; taps
# by stride here (its names were the old symbol's 'ch_concat_mixed_7_chconcat' and
# 'ch_concat_mixed_10_chconcat': the ends of strides 16 and 32).
SEED_INCEPTION_SIZES = [[.1, .141], [.2, .272], [.37, .447], [.54, .619], [.71, .79], [.88, .961]]


def _seed_inceptionv3(taps):
    # Its sizes are (s_k, sqrt(s_k * s_k+1)) pairs; the last s_7 = 1.05 (sqrt(.88 * 1.05) = .961).
    scales = [pair[0] for pair in SEED_INCEPTION_SIZES] + [1.05]
    # Its steps=[] means one grid cell per input / map side. Maps at 300: 300 -> 149 -> 147 -> 73
    # -> 71 -> 35 -> 17 (B's valid 3x3/2: the stride-16 tap) -> 8 (D's: stride 32), then the
    # stride-2 pad-1 extras 4, 2, 1, 1.
    maps = [17, 8, 4, 2, 1, 1]
    return dict(
        backbone="inceptionv3", base_size=300, from_layers=list(taps) + ["", "", "", ""],
        num_filters=[-1, -1, 512, 256, 256, 128], strides=[-1, -1, 2, 2, 2, 2],
        pads=[-1, -1, 1, 1, 1, 1], sizes=[round(s * 300, 2) for s in scales],
        ratios=[R4, R6, R6, R6, R4, R4], steps=[300 / m for m in maps],
        extra_bn=False, extra_reduce_ratio=0.5)  # its extras: 1x1 max(128, f/2) + ReLU, 3x3 + ReLU


def _predictions(net, x):
    with autograd.train_mode():
        return [out.asnumpy() for out in net(x)]


def test_seed_inceptionv3_config_builds_the_preset_by_stride_and_by_name():
    preset, _ = zoo.get_config("ssd_300_inceptionv3_voc")
    assert SSDConfig.from_dict(_seed_inceptionv3([16, 32])) == preset
    # By name: the stride ends' names, read from the network (never typed: they are generated).
    names = [s.name for s in zoo.get_model("ssd_300_inceptionv3_voc",
                                           pretrained_base=False).features.specs]
    by_name = zoo.build_ssd(_seed_inceptionv3(names), classes=zoo.dataset_classes("voc"))
    net = zoo.get_model("ssd_300_inceptionv3_voc", pretrained_base=False)
    mx.random.seed(0)
    net.initialize(mx.init.Xavier())
    by_name.initialize()
    x = mx.nd.random.uniform(shape=(1, 3, 75, 75))  # Inception-v3's smallest input
    expected = _predictions(net, x)
    _predictions(by_name, x)  # materialise its deferred shapes
    ours, theirs = list(by_name.collect_params().values()), list(net.collect_params().values())
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):  # the same layers in the same order: copy the weights over
        assert a.shape == b.shape, (a.name, b.name)
        a.set_data(b.data())
    for a, b in zip(_predictions(by_name, x), expected):  # cls, box, anchors
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    # 17x17x4 + 8x8x6 + 4x4x6 + 2x2x6 + 1x4 + 1x4 anchors at the 300 px base size.
    assert by_name.describe(300).splitlines()[-1].startswith(f"  {1156 + 384 + 96 + 24 + 8} anchors")

"""Tests for gluon_ssd.config and the build-time checks of gluon_ssd.zoo.build_ssd."""
import dataclasses

import mxnet as mx
import pytest
from mxnet import autograd

from gluon_ssd import zoo
from gluon_ssd.config import SSDConfig

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
    (dict(num_filters=[-1, -1, 0, 128]), "needs num_filters > 0"),
    (dict(steps=[16, 32, 64]), "steps has 3 entries"),
    (dict(normalizations=[20, -1, 20, -1]), "normalizations apply to backbone taps only"),
])
def test_config_errors(change, message):
    with pytest.raises(ValueError, match=message):
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

"""Tests for gluon_ssd.blocks.vgg_atrous: SSD's reduced-fc VGG (its layers and taps); its weight
conversion from model_zoo is tested in tests/weights/test_imagenet_vgg.py."""
import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import nn
from mxnet.gluon.model_zoo import vision

from tests.helpers.vgg_nets import by_name, layers_of

from gluon_ssd import FeatureExtractor, trunk_specs
from gluon_ssd.blocks.vgg_atrous import VGGAtrous


def test_ssd_taps_are_relu4_3_and_relu7_with_hand_derived_shapes():
    fe = FeatureExtractor(VGGAtrous(), strides=(8, 16))
    assert [s.name for s in fe.specs] == ["relu4_3_fwd", "relu7_fwd"]
    assert [s.channels for s in fe.specs] == [512, 1024]
    assert [s.stride for s in fe.specs] == [8, 16]
    # pool1..pool4 are 2x2/2 in ceil mode: 300 -> 150 -> 75 -> ceil(37.5) = 38 (conv4_3)
    # -> 19 (pool4; pool5 is 3x3/1 pad 1 and fc6 pads 6 for dilation 6: both keep 19).
    assert fe.output_shapes(300) == [(512, 38, 38), (1024, 19, 19)]
    assert fe.output_shapes(512) == [(512, 64, 64), (1024, 32, 32)]  # 512 / 8, 512 / 16
    # Parameters (3x3 convs with bias): conv1 3*64*9+64 + 64*64*9+64 = 1,792 + 36,928; conv2
    # 73,856 + 147,584; conv3 295,168 + 2 * 590,080; conv4 1,180,160 + 2 * 2,359,808.
    assert fe.specs[0].params == 7_635_264
    # + conv5 3 * 2,359,808 = VGG16's 14,714,688 conv parameters; + fc6 1024*512*9+1024 = 4,719,616;
    # + fc7 1024*1024+1024 = 1,049,600: the 20.5M of Caffe's reduced VGG16.
    assert fe.specs[1].params == 14_714_688 + 4_719_616 + 1_049_600


@pytest.mark.parametrize("num_layers, batch_norm, conv4_end", [
    (16, False, "relu4_3"), (16, True, "relu4_3"), (11, False, "relu4_2"), (19, True, "relu4_4")])


def test_layers_are_the_ssd_base_network_and_nothing_more(num_layers, batch_norm, conv4_end):
    net = VGGAtrous(num_layers, batch_norm=batch_norm)
    assert list(net._children) == ["features"]
    assert all(isinstance(layer, (nn.Conv2D, nn.BatchNorm, nn.Activation, nn.MaxPool2D))
               for layer in net.features)  # no Dense classifier, no L2 normalization
    convs = sum(vgg_layers for vgg_layers in vision.vgg.vgg_spec[num_layers][0])
    assert len(layers_of(net, nn.Conv2D)) == convs + 2  # + fc6, fc7
    assert len(layers_of(net, nn.BatchNorm)) == (convs if batch_norm else 0)
    names = [s.name for s in trunk_specs(net)]
    assert names[-4:] == ["fc6_fwd", "relu6_fwd", "fc7_fwd", "relu7_fwd"]
    fe = FeatureExtractor(net, strides=(8, 16))
    assert [s.name for s in fe.specs] == [f"{conv4_end}_fwd", "relu7_fwd"]
    assert fe.output_shapes(300) == [(512, 38, 38), (1024, 19, 19)]
    fc6 = by_name(net)["fc6"]
    assert fc6._kwargs["dilate"] == (6, 6) and fc6._kwargs["pad"] == (6, 6)
    with pytest.raises(ValueError, match=r"\[11, 13, 16, 19\]"):
        VGGAtrous(15)


def test_hybridized_equals_imperative():
    mx.random.seed(0)
    fe = FeatureExtractor(VGGAtrous(), strides=(8, 16))
    fe.initialize(mx.init.Xavier(magnitude=2))
    x = mx.nd.random.uniform(shape=(1, 3, 64, 64))
    imperative = [out.asnumpy() for out in fe(x)]
    assert [o.shape for o in imperative] == [(1, 512, 8, 8), (1, 1024, 4, 4)]  # 64 / 8, 64 / 16
    assert all(np.abs(o).max() > 0 for o in imperative)
    fe.hybridize()
    for a, b in zip(fe(x), imperative):
        np.testing.assert_allclose(a.asnumpy(), b, rtol=1e-4, atol=1e-6)

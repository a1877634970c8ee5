"""Tests for gluon_ssd.model.norm: norm_layer / norm_kwargs swap every BatchNorm, keeping each
layer's settings and parameters."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from tests.helpers.detections import assert_same_detections

from gluon_ssd import zoo
from gluon_ssd.model.norm import use_norm_layer

SyncBatchNorm = gluon.contrib.nn.SyncBatchNorm


def _blocks(block):
    """``block`` and every block inside it, depth first."""
    yield block
    for child in block._children.values():
        yield from _blocks(child)


@pytest.mark.parametrize("name, has_bn", [
    ("ssd_300_vgg16_atrous_voc", False),  # VGG has no BatchNorm: nothing changes (as in GluonCV)
    ("ssd_300_mobilenet0.25_voc", True), ("ssd_300_resnet18_v2_voc", True),
    ("ssdlite_320_mobilenetv2_0.25_voc", True)])


def test_norm_layer_replaces_every_batchnorm(name, has_bn):
    plain = zoo.get_model(name, pretrained_base=False)
    count = sum(type(b) is gluon.nn.BatchNorm for b in _blocks(plain))
    assert (count > 0) == has_bn
    net = zoo.get_model(name, pretrained_base=False, norm_layer=SyncBatchNorm,
                        norm_kwargs={"num_devices": 2})
    assert not [b.name for b in _blocks(net) if type(b) is gluon.nn.BatchNorm]
    assert sum(isinstance(b, SyncBatchNorm) for b in _blocks(net)) == count
    assert sorted(net.collect_params()) == sorted(
        n.replace(plain.prefix, net.prefix, 1) for n in plain.collect_params())


def test_norm_layer_keeps_each_layers_settings_and_parameters():
    # SyncBatchNorm with one device is BatchNorm: with the same parameters, inference (running
    # statistics) must give the same outputs. Small running variances make epsilon matter (the
    # extras' 1e-3 against SyncBatchNorm's default 1e-5), so a lost setting shows.
    net = zoo.get_model("ssdlite_320_mobilenetv2_0.25_voc", pretrained_base=False)
    net.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(-1, 1, (1, 3, 128, 128))
    net(x)
    rng = np.random.RandomState(0)
    for p in net.collect_params(".*running_var").values():
        p.set_data(mx.nd.array(rng.uniform(1e-3, 1e-2, p.shape)))
    before = {n: p for n, p in net.collect_params().items()}
    with autograd.train_mode():
        expected_train = net(x)[0]
    expected = net(x)
    assert use_norm_layer(net, SyncBatchNorm, {"num_devices": 1}) > 0
    assert all(before[n] is p for n, p in net.collect_params().items())  # shared, not copied
    assert_same_detections(expected, net(x), score_atol=1e-5, box_atol=1e-3)
    # Batch statistics: SyncBatchNorm's variance is E[x^2] - E[x]^2, BatchNorm's is direct, so
    # float32 cancellation on the small late maps leaves differences of ~2e-3 (measured).
    with autograd.train_mode():
        np.testing.assert_allclose(net(x)[0].asnumpy(), expected_train.asnumpy(), rtol=1e-2,
                                   atol=1e-2)


def test_norm_layer_arguments_are_checked():
    with pytest.raises(TypeError, match="SyncBatchNorm"):
        zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained_base=False,
                      norm_layer=gluon.nn.LayerNorm)
    with pytest.raises(ValueError, match="epsilon"):
        zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained_base=False,
                      norm_layer=SyncBatchNorm, norm_kwargs={"epsilon": 1e-3})
    with pytest.raises(TypeError, match="dict"):
        zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained_base=False, norm_kwargs=2)

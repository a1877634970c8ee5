"""Tests for gluon_ssd.blocks.vgg_atrous: SSD's reduced-fc VGG and its model_zoo weight conversion."""
import hashlib
import re

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import nn
from mxnet.gluon.model_zoo import model_store, vision

from gluon_ssd import FeatureExtractor, trunk_specs
from gluon_ssd.blocks.vgg_atrous import VGGAtrous
from gluon_ssd.weights.imagenet_vgg import load_vgg_weights, vgg16_atrous


class _NumpyUniform(mx.init.Initializer):
    """Distinct random values for every parameter, drawn by numpy into the allocated array.

    It replaces model_zoo's per-layer initializers: zero biases would make the bias checks vacuous,
    and MXNet's CPU Gaussian sampler needs ~6 s for VGG16's 120M fc scalars. Uniform in
    [-0.5, 0.5) / sqrt(fan-in), so 13 convolutions neither explode nor vanish; variances in [0.5, 1.5).
    """

    def __init__(self, seed):
        super().__init__()
        self._rng = np.random.default_rng(seed)

    def _init_weight(self, name, arr):  # every parameter comes here (its own init is this one)
        value = self._rng.random(arr.shape, dtype=np.float32) - 0.5
        if name.endswith("running_var"):
            value += 1.0
        elif len(arr.shape) > 1:
            value /= np.sqrt(np.prod(arr.shape[1:]))
        arr[:] = value


def _zoo_vgg(name, side, seed=0):
    """A model_zoo VGG, every parameter random; its Dense layers sized for a ``side`` input.

    Shapes come from symbolic inference (no forward pass): fc6 in_units = 512 * (side / 32) ** 2.
    """
    net = vision.get_model(name)
    net.infer_shape(mx.nd.zeros((1, 3, side, side)))
    init = _NumpyUniform(seed)
    for param in net.collect_params().values():
        param.init = init
    net.initialize()
    return net


def _sha1(path):
    sha1 = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            sha1.update(chunk)
    return sha1.hexdigest()


def _layers(net, kind):
    return [layer for layer in net.features if isinstance(layer, kind)]


def _by_name(net):
    """Our layers keyed by their readable prefix without the network's: 'conv4_3', 'fc6', ..."""
    return {layer.prefix[len(net.prefix):].rstrip("_"): layer for layer in net.features}


def _np(param):
    return param.data().asnumpy()


def _assert_same_relu5_3(ours, zoo):
    # Both nets' stride-16 end is relu5_3 (pool5 is stride 1 in ours, the classifier follows in
    # model_zoo's). At 32x32 every pooling input is even, so ceil and floor pooling agree:
    # 32 -> 16 -> 8 -> 4 -> 2.
    x = mx.nd.array(np.random.default_rng(1).random((1, 3, 32, 32), dtype=np.float32))
    a = FeatureExtractor(ours, names=["relu5_3_fwd"])(x)[0].asnumpy()
    b = FeatureExtractor(zoo, strides=(16,))(x)[0].asnumpy()
    assert a.shape == (1, 512, 2, 2) and np.abs(a).max() > 0
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * np.abs(b).max())


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
    assert len(_layers(net, nn.Conv2D)) == convs + 2  # + fc6, fc7
    assert len(_layers(net, nn.BatchNorm)) == (convs if batch_norm else 0)
    names = [s.name for s in trunk_specs(net)]
    assert names[-4:] == ["fc6_fwd", "relu6_fwd", "fc7_fwd", "relu7_fwd"]
    fe = FeatureExtractor(net, strides=(8, 16))
    assert [s.name for s in fe.specs] == [f"{conv4_end}_fwd", "relu7_fwd"]
    assert fe.output_shapes(300) == [(512, 38, 38), (1024, 19, 19)]
    fc6 = _by_name(net)["fc6"]
    assert fc6._kwargs["dilate"] == (6, 6) and fc6._kwargs["pad"] == (6, 6)
    with pytest.raises(ValueError, match=r"\[11, 13, 16, 19\]"):
        VGGAtrous(15)


def test_pretrained_base_converts_model_zoo_vgg16_from_the_model_store(tmp_path, monkeypatch):
    zoo = _zoo_vgg("vgg16", 224)  # 224 -> pool5 7x7: fc6 is Dense(4096, in_units=25088)
    saved = tmp_path / "saved.params"
    zoo.save_parameters(str(saved))  # keys 'features.0.weight', ...
    sha1 = _sha1(saved)
    saved.rename(tmp_path / f"vgg16-{sha1[:8]}.params")  # model_store's file name
    monkeypatch.setitem(model_store._model_sha1, "vgg16", sha1)
    monkeypatch.setenv("MXNET_GLUON_REPO", "file:///nonexistent/")  # never download
    net = vgg16_atrous(pretrained_base=True, root=str(tmp_path))

    ours, zoo_convs = _by_name(net), _layers(zoo, nn.Conv2D)
    names = [f"conv{i}_{j}" for i, n in enumerate((2, 2, 3, 3, 3), 1) for j in range(1, n + 1)]
    assert names[0] == "conv1_1" and names[12] == "conv5_3"
    for name, src in zip(names, zoo_convs):
        np.testing.assert_array_equal(_np(ours[name].weight), _np(src.weight))
        np.testing.assert_array_equal(_np(ours[name].bias), _np(src.bias))
    fc6, fc7 = _layers(zoo, nn.Dense)[:2]
    # Every 4th of the 4096 filters; fc6's 7x7 kernel keeps taps 0, 3, 6.
    expected6 = _np(fc6.weight).reshape(4096, 512, 7, 7)[::4, :, ::3, ::3]
    assert expected6.shape == (1024, 512, 3, 3)
    np.testing.assert_array_equal(_np(ours["fc6"].weight), expected6)
    np.testing.assert_array_equal(_np(ours["fc6"].bias), _np(fc6.bias)[::4])
    expected7 = _np(fc7.weight)[::4, ::4].reshape(1024, 1024, 1, 1)
    np.testing.assert_array_equal(_np(ours["fc7"].weight), expected7)
    np.testing.assert_array_equal(_np(ours["fc7"].bias), _np(fc7.bias)[::4])
    assert net(mx.nd.zeros((1, 3, 32, 32))).shape == (1, 1024, 2, 2)  # every parameter is set
    _assert_same_relu5_3(net, zoo)


def test_legacy_save_params_vgg16_bn_file_maps_batchnorms(tmp_path):
    zoo = _zoo_vgg("vgg16_bn", 224)
    path = tmp_path / "vgg16_bn.params"
    zoo.collect_params().save(str(path), strip_prefix=zoo.prefix)  # old save_params: 'conv0_weight'
    assert "batchnorm9_running_var" in mx.nd.load(str(path))
    net = load_vgg_weights(VGGAtrous(batch_norm=True), str(path))
    bn4_3 = _layers(zoo, nn.BatchNorm)[9]  # BN of the 10th conv: 2 + 2 + 3 + 3 -> conv4_3
    for suffix in ("gamma", "beta", "running_mean", "running_var"):
        np.testing.assert_array_equal(_np(getattr(_by_name(net)["bn4_3"], suffix)),
                                      _np(getattr(bn4_3, suffix)))
    fc7 = _layers(zoo, nn.Dense)[1]
    np.testing.assert_array_equal(_np(_by_name(net)["fc7"].bias), _np(fc7.bias)[::4])
    _assert_same_relu5_3(net, zoo)


def test_files_that_do_not_fit_raise_value_errors_naming_the_file(tmp_path):
    def save(name, side):
        path = tmp_path / f"{name}-{side}.params"
        _zoo_vgg(name, side).save_parameters(str(path))
        return str(path)

    vgg11 = save("vgg11", 32)  # 32 -> pool5 1x1: small Dense layers, enough to fail on depth
    net = VGGAtrous()
    with pytest.raises(ValueError, match=re.escape(vgg11) + ".*8 conv.*not 13"):
        load_vgg_weights(net, vgg11)
    with pytest.raises(RuntimeError, match="has not been initialized"):  # nothing was set
        _by_name(net)["conv1_1"].weight.data()
    vgg16_small = save("vgg16", 32)  # right depth, but fc6 is (4096, 512): not a 224 classifier
    with pytest.raises(ValueError, match=re.escape(vgg16_small) + r".*\(4096, 512\)"):
        load_vgg_weights(VGGAtrous(), vgg16_small)
    with pytest.raises(ValueError, match=re.escape(vgg16_small) + ".*0 BatchNorm.*not 13, 13"):
        load_vgg_weights(VGGAtrous(batch_norm=True), vgg16_small)
    truncated = tmp_path / "truncated.params"
    truncated.write_bytes(open(vgg11, "rb").read()[:1000])
    with pytest.raises(ValueError, match=re.escape(str(truncated))):
        load_vgg_weights(VGGAtrous(), str(truncated))
    with pytest.raises(FileNotFoundError, match="missing.params"):
        load_vgg_weights(VGGAtrous(), str(tmp_path / "missing.params"))


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

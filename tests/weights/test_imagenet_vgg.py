"""Tests for gluon_ssd.weights.imagenet_vgg: model_zoo's ImageNet VGG-16 weights converted into the
atrous VGG (store file, legacy save_params file), files that do not fit named."""
import re

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import nn
from mxnet.gluon.model_zoo import model_store

from tests.helpers.vgg_nets import (assert_same_relu5_3, by_name, layers_of, np_data,
                                    sha1_of_file, zoo_vgg)

from gluon_ssd.blocks.vgg_atrous import VGGAtrous
from gluon_ssd.weights.imagenet_vgg import load_vgg_weights, vgg16_atrous


def test_pretrained_base_converts_model_zoo_vgg16_from_the_model_store(tmp_path, monkeypatch):
    zoo = zoo_vgg("vgg16", 224)  # 224 -> pool5 7x7: fc6 is Dense(4096, in_units=25088)
    saved = tmp_path / "saved.params"
    zoo.save_parameters(str(saved))  # keys 'features.0.weight', ...
    sha1 = sha1_of_file(saved)
    saved.rename(tmp_path / f"vgg16-{sha1[:8]}.params")  # model_store's file name
    monkeypatch.setitem(model_store._model_sha1, "vgg16", sha1)
    monkeypatch.setenv("MXNET_GLUON_REPO", "file:///nonexistent/")  # never download
    net = vgg16_atrous(pretrained_base=True, root=str(tmp_path))

    ours, zoo_convs = by_name(net), layers_of(zoo, nn.Conv2D)
    names = [f"conv{i}_{j}" for i, n in enumerate((2, 2, 3, 3, 3), 1) for j in range(1, n + 1)]
    assert names[0] == "conv1_1" and names[12] == "conv5_3"
    for name, src in zip(names, zoo_convs):
        np.testing.assert_array_equal(np_data(ours[name].weight), np_data(src.weight))
        np.testing.assert_array_equal(np_data(ours[name].bias), np_data(src.bias))
    fc6, fc7 = layers_of(zoo, nn.Dense)[:2]
    # Every 4th of the 4096 filters; fc6's 7x7 kernel keeps taps 0, 3, 6.
    expected6 = np_data(fc6.weight).reshape(4096, 512, 7, 7)[::4, :, ::3, ::3]
    assert expected6.shape == (1024, 512, 3, 3)
    np.testing.assert_array_equal(np_data(ours["fc6"].weight), expected6)
    np.testing.assert_array_equal(np_data(ours["fc6"].bias), np_data(fc6.bias)[::4])
    expected7 = np_data(fc7.weight)[::4, ::4].reshape(1024, 1024, 1, 1)
    np.testing.assert_array_equal(np_data(ours["fc7"].weight), expected7)
    np.testing.assert_array_equal(np_data(ours["fc7"].bias), np_data(fc7.bias)[::4])
    assert net(mx.nd.zeros((1, 3, 32, 32))).shape == (1, 1024, 2, 2)  # every parameter is set
    assert_same_relu5_3(net, zoo)


def test_legacy_save_params_vgg16_bn_file_maps_batchnorms(tmp_path):
    zoo = zoo_vgg("vgg16_bn", 224)
    path = tmp_path / "vgg16_bn.params"
    zoo.collect_params().save(str(path), strip_prefix=zoo.prefix)  # old save_params: 'conv0_weight'
    assert "batchnorm9_running_var" in mx.nd.load(str(path))
    net = load_vgg_weights(VGGAtrous(batch_norm=True), str(path))
    bn4_3 = layers_of(zoo, nn.BatchNorm)[9]  # BN of the 10th conv: 2 + 2 + 3 + 3 -> conv4_3
    for suffix in ("gamma", "beta", "running_mean", "running_var"):
        np.testing.assert_array_equal(np_data(getattr(by_name(net)["bn4_3"], suffix)),
                                      np_data(getattr(bn4_3, suffix)))
    fc7 = layers_of(zoo, nn.Dense)[1]
    np.testing.assert_array_equal(np_data(by_name(net)["fc7"].bias), np_data(fc7.bias)[::4])
    assert_same_relu5_3(net, zoo)


def test_files_that_do_not_fit_raise_value_errors_naming_the_file(tmp_path):
    def save(name, side):
        path = tmp_path / f"{name}-{side}.params"
        zoo_vgg(name, side).save_parameters(str(path))
        return str(path)

    vgg11 = save("vgg11", 32)  # 32 -> pool5 1x1: small Dense layers, enough to fail on depth
    net = VGGAtrous()
    with pytest.raises(ValueError, match=re.escape(vgg11) + ".*8 conv.*not 13"):
        load_vgg_weights(net, vgg11)
    with pytest.raises(RuntimeError, match="has not been initialized"):  # nothing was set
        by_name(net)["conv1_1"].weight.data()
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

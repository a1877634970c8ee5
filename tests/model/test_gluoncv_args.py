"""Tests for gluon_ssd.model.gluoncv_args: GluonCV's get_model arguments on gluon_ssd's zoo, the
SSD's prefix on every parameter name (save_params / load_parameters as GluonCV's scripts use
them), and GluonCV's other SSD builder keywords (honoured or refused). norm_layer / norm_kwargs:
tests/model/test_norm.py."""
import mxnet as mx
import numpy as np
import pytest

from tests.helpers.detections import assert_same_detections
from tests.helpers.scores import spread_class_scores

from gluon_ssd import zoo

# One model per backbone family: VGG atrous, ResNet v1, ResNet v2 (a BN called by attribute),
# MobileNet, MobileNetV2 with SSDLite heads and extras.
FAMILIES = ["ssd_300_vgg16_atrous_voc", "ssd_300_resnet18_v1_voc", "ssd_300_resnet18_v2_voc",
            "ssd_300_mobilenet0.25_voc", "ssdlite_320_mobilenetv2_0.25_voc"]


def _side(name):
    return 300 if "vgg" in name else 128


@pytest.mark.parametrize("name", FAMILIES)
def test_every_parameter_is_under_the_ssd_prefix_and_save_params_round_trips(name, tmp_path):
    net = zoo.get_model(name, pretrained_base=False)
    names = list(net.collect_params())
    assert names and all(n.startswith(net.prefix) for n in names), \
        [n for n in names if not n.startswith(net.prefix)][:5]
    heads = list(net.collect_params(f"{net.prefix}head.*_weight").keys())
    assert len(heads) == (4 if "ssdlite" in name else 2) * len(net.heads)  # cls + box per layer
    net.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(-1, 1, (1, 3, _side(name), _side(name)))
    net(x)
    spread_class_scores(net, x)  # distinct scores: detections to compare (tests/helpers/scores.py)
    expected = net(x)
    with mx.autograd.train_mode():
        raw = net(x)
    path = str(tmp_path / "net.params")
    net.save_params(path)  # GluonCV's train_ssd.py: names with the prefix stripped
    stored = mx.nd.load(path)
    assert sorted(stored) == sorted(n[len(net.prefix):] for n in names)
    again = zoo.get_model(name, pretrained_base=False)  # another prefix (ssdN_), same structure
    assert again.prefix != net.prefix
    again.load_parameters(path)  # GluonCV's eval_ssd.py / demo_ssd.py
    # The per-anchor outputs (no order involved), then the detections.
    with mx.autograd.train_mode():
        for a, b in zip(raw, again(x)):
            np.testing.assert_allclose(b.asnumpy(), a.asnumpy(), rtol=1e-5, atol=1e-5)
    assert_same_detections(expected, again(x), score_atol=1e-6, box_atol=1e-4)


def test_gluoncv_keywords_that_fit_are_honoured():
    net = zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained_base=False, nms_thresh=0.3,
                        nms_topk=50, post_nms=20, minimal_opset=True, anchor_alloc_size=256,
                        stds=(0.1, 0.1, 0.2, 0.2), prefix="mine_")
    decoder = net.decoder
    assert (decoder.nms_thresh, decoder.nms_topk, decoder.post_nms) == (0.3, 50, 20)
    assert decoder.minimal_opset and net.prefix == "mine_"
    assert all(n.startswith("mine_") for n in net.collect_params())
    net.initialize()
    assert net(mx.nd.zeros((1, 3, 128, 128)))[0].shape == (1, 20, 1)  # post_nms rows


@pytest.mark.parametrize("key, value, error, says", [
    ("use_bn", False, ValueError, "extra_bn"),
    ("reduce_ratio", 0.5, ValueError, "extra_reduce_ratio"),
    ("predictors_kernel", (1, 1), ValueError, "SSDHead"),
    ("transfer", "voc", ValueError, "reset_class"),
    ("stds", (0.1, 0.1, 0.1, 0.1), ValueError, "variances"),
    ("dataset", "voc", TypeError, "unexpected keyword argument 'dataset'"),
])


def test_gluoncv_keywords_that_do_not_fit_are_refused_with_what_to_use(key, value, error, says):
    with pytest.raises(error, match=says):
        zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained_base=False, **{key: value})

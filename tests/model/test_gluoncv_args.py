"""GluonCV's get_model arguments on gluon_ssd's zoo: norm_layer / norm_kwargs, the SSD's prefix on
every parameter name, and GluonCV's other SSD builder keywords (honoured or refused)."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from tests.helpers.detections import assert_same_detections
from tests.helpers.scores import spread_class_scores

from gluon_ssd import SSD, zoo
from gluon_ssd.blocks.anchors import SSDAnchorGenerator
from gluon_ssd.blocks.decoder import SSDDecoder
from gluon_ssd.blocks.heads import SSDHead
from gluon_ssd.feature_extractor import FeatureExtractor, get_backbone
from gluon_ssd.model.norm import use_norm_layer

SyncBatchNorm = gluon.contrib.nn.SyncBatchNorm
# One model per backbone family: VGG atrous, ResNet v1, ResNet v2 (a BN called by attribute),
# MobileNet, MobileNetV2 with SSDLite heads and extras.
FAMILIES = ["ssd_300_vgg16_atrous_voc", "ssd_300_resnet18_v1_voc", "ssd_300_resnet18_v2_voc",
            "ssd_300_mobilenet0.25_voc", "ssdlite_320_mobilenetv2_0.25_voc"]


def _blocks(block):
    yield block
    for child in block._children.values():
        yield from _blocks(child)


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


def test_a_hand_assembled_ssd_shares_its_backbone_and_saves_with_save_parameters(tmp_path):
    backbone = get_backbone("mobilenet0.25")  # built outside any SSD
    features = FeatureExtractor(backbone, strides=(16, 32))
    gens = [SSDAnchorGenerator(s, s * 1.5, (1, 2, 0.5), st) for s, st in ((40, 16), (80, 32))]
    heads = [SSDHead(c.channels, g.num_anchors, 2) for c, g in zip(features.specs, gens)]
    net = SSD(features, [], {}, heads, gens, SSDDecoder(2), ["a", "b"])
    net.initialize()
    net(mx.nd.zeros((1, 3, 64, 64)))
    shared = backbone.features[0].weight
    assert net.features.collect_params()[shared.name] is shared  # the same Parameter object
    with pytest.raises(ValueError, match="save_parameters"):
        net.save_params(str(tmp_path / "a.params"))
    net.save_parameters(str(tmp_path / "b.params"))
    assert "features.layer0.weight" in mx.nd.load(str(tmp_path / "b.params"))


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

"""Tests for gluon_ssd.model.ssd: the SSD block's contract (LayerSpecs, normalisation, base size,
name), an SSD assembled by hand, and reset_class.

Every expected number is derived by hand in a comment; the per-layer facts are then checked
against what the layers really output at a non-square input.
"""
import dataclasses
import re

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from tests.helpers.layer_outputs import assert_layer_specs_match

from gluon_ssd import SSD, LayerSpec, zoo
from gluon_ssd.blocks.anchors import SSDAnchorGenerator
from gluon_ssd.blocks.decoder import SSDDecoder
from gluon_ssd.blocks.heads import SSDHead
from gluon_ssd.model.config import IMAGENET_MEAN, IMAGENET_STD
from gluon_ssd.feature_extractor import FeatureExtractor, get_backbone
from gluon_ssd.model.ssd import check_saved_layers

HEIGHT, WIDTH = 300, 420  # non-square: a transposed height/width would show


def test_ssd300_vgg16_layers_are_the_papers():
    net = zoo.get_model("ssd_300_vgg16_atrous_voc", pretrained_base=False)
    layers = net.layers
    assert isinstance(layers, tuple) and all(isinstance(s, LayerSpec) for s in layers)
    # Liu et al. 2016, Fig. 2: conv4_3 38x38, fc7 19x19, then conv8_2 10x10, conv9_2 5x5,
    # conv10_2 3x3, conv11_2 1x1 at a 300 px input; 4, 6, 6, 6, 4, 4 default boxes per location
    # (ratios {1, 2, 1/2} + the extra ratio-1 box = 4; with {3, 1/3} too = 6): 8732 in all.
    assert [s.map_size for s in layers] == [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
    assert [s.num_anchors for s in layers] == [4, 6, 6, 6, 4, 4]
    assert sum(s.map_size[0] * s.map_size[1] * s.num_anchors for s in layers) == 8732
    # conv4_3 512, fc7 1024, then the extras' 512, 256, 256, 256 output channels.
    assert [s.channels for s in layers] == [512, 1024, 512, 256, 256, 256]
    # Strides from the network: conv4_3 after 3 poolings (8), fc7 after pool4 (pool5 is 3x3 stride
    # 1: 16); extras 3x3 stride 2, 2 (32, 64), then 3x3 stride 1 unpadded (64, 64).
    assert [s.stride for s in layers] == [8, 16, 32, 64, 64, 64]
    # Steps: GluonCV's / the paper's code, 300 / map size rounded: 8, 16, 32, 64, 100, 300.
    assert [s.step for s in layers] == [8.0, 16.0, 32.0, 64.0, 100.0, 300.0]
    assert layers[0].source == net.features.specs[0].name and "relu4_3" in layers[0].source
    assert [s.source for s in layers[2:]] == ["extra2", "extra3", "extra4", "extra5"]
    assert layers[0] == dataclasses.replace(layers[0])  # a frozen dataclass: compares by value
    with pytest.raises(dataclasses.FrozenInstanceError, match="'channels'"):
        layers[0].channels = 3


@pytest.mark.parametrize("name, maps_300x420", [
    # VGG atrous: 300 -> 150 -> 75 -> 38 (ceil-mode pool3) and 420 -> 210 -> 105 -> 53: conv4_3
    # 38x53; pool4 -> 19x27 (fc7); extras s2 p1: floor((n - 1) / 2) + 1 -> 10x14, 5x7; 3x3
    # unpadded: n - 2 -> 3x5, 1x3.
    ("ssd_300_vgg16_atrous_voc", [(38, 53), (19, 27), (10, 14), (5, 7), (3, 5), (1, 3)]),
    # MobileNet taps at strides 16, 32: ceil(300 / 16) = 19, ceil(420 / 16) = 27; 10x14; then
    # four s2 p1 extras: 5x7, 3x4, 2x2, 1x1.
    ("ssd_300_mobilenet0.25_voc", [(19, 27), (10, 14), (5, 7), (3, 4), (2, 2), (1, 1)]),
    # SSDLite's taps at strides 16, 32 and s2 p1 depthwise extras: the same sizes.
    ("ssdlite_320_mobilenetv2_0.25_voc", [(19, 27), (10, 14), (5, 7), (3, 4), (2, 2), (1, 1)]),
])


def test_layer_specs_match_real_outputs_at_a_non_square_input(name, maps_300x420):
    net = zoo.get_model(name, pretrained_base=False)
    net.initialize()
    assert net.map_sizes(HEIGHT, WIDTH) == maps_300x420
    real = assert_layer_specs_match(net, mx.nd.zeros((1, 3, HEIGHT, WIDTH)))
    assert len(real) == len(net.layers) == 6
    classes = len(net.classes) + 1  # 20 VOC classes + background
    for k, (spec, (map_shape, cls_shape, box_shape), (h, w)) in enumerate(
            zip(net.layers, real, maps_300x420)):
        assert map_shape == (spec.channels, h, w), k
        # The head predicts num_anchors per location: (1, h * w * A, C + 1) and (1, h * w * A, 4).
        assert cls_shape == (1, h * w * spec.num_anchors, classes), k
        assert box_shape == (1, h * w * spec.num_anchors, 4), k
    # The whole network agrees: anchors (1, N, 4) with N the sum over layers.
    with mx.autograd.train_mode():
        _, _, anchors = net(mx.nd.zeros((1, 3, HEIGHT, WIDTH)))
    assert anchors.shape == (1, sum(h * w * s.num_anchors
                                    for (h, w), s in zip(maps_300x420, net.layers)), 4)


@pytest.mark.parametrize("name", ["ssd_300_mobilenet0.25_voc", "ssdlite_320_mobilenetv2_0.25_voc",
                                  "ssd_512_resnet18_v1_voc"])


def test_map_sizes_agree_with_the_layer_specs_and_shape_inference(name):
    net = zoo.get_model(name, pretrained_base=False)
    base = net.base_size
    # The builder's arithmetic (LayerSpec.map_size) and the block's shape inference agree.
    assert net.map_sizes(base) == [s.map_size for s in net.layers]
    assert net.map_sizes(base, base) == net.map_sizes(base)
    shapes = net.map_shapes(HEIGHT, WIDTH)
    assert [(h, w) for _, h, w in shapes] == net.map_sizes(HEIGHT, WIDTH)
    assert [c for c, _, _ in shapes] == [s.channels for s in net.layers]
    # describe() reads the same: one row per layer with its stride, channels and size.
    rows = net.describe(HEIGHT, WIDTH).splitlines()[2:2 + len(net.layers)]
    for row, spec, (c, h, w) in zip(rows, net.layers, shapes):
        cells = row.split()
        assert cells[-5:] == [str(spec.stride), str(c), f"{h}x{w}", str(spec.num_anchors),
                              str(h * w * spec.num_anchors)]


def test_map_sizes_refuse_a_too_small_input():
    net = zoo.get_model("ssd_300_vgg16_atrous_voc", pretrained_base=False)
    # 300 -> 1x1 last map; 100: 13, 7, 4, 2, then a 3x3 unpadded conv on 2x2 cannot fit.
    with pytest.raises(ValueError, match="100x100"):
        net.map_sizes(100)


def test_the_zoo_passes_mean_std_base_size_model_name_and_config():
    net = zoo.get_model("ssdlite_320_mobilenetv2_0.25_voc", pretrained_base=False)
    config, _ = zoo.get_config("ssdlite_320_mobilenetv2_0.25_voc")
    assert net.config is config
    assert net.mean == tuple(config.mean) == IMAGENET_MEAN
    assert net.std == tuple(config.std) == IMAGENET_STD
    assert net.base_size == config.base_size == 320
    assert net.model_name == "ssdlite_320_mobilenetv2_0.25_voc"
    # build_ssd without a name; a config of its own normalisation is carried as given.
    custom = dataclasses.replace(config, mean=(0.5, 0.5, 0.5), std=(0.25, 0.5, 1.0))
    built = zoo.build_ssd(custom, ["a"])
    assert built.model_name is None and built.config is custom
    assert (built.mean, built.std, built.base_size) == ((0.5,) * 3, (0.25, 0.5, 1.0), 320)
    for attr in ("mean", "std", "base_size", "model_name", "layers", "config"):
        with pytest.raises(AttributeError, match=f"'{attr}'"):
            setattr(net, attr, None)  # the contract is read-only


def test_reset_class_keeps_the_layer_specs():
    net = zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained_base=False)
    net.initialize()
    before = net.layers
    net.reset_class(["cat", "dog"])
    assert net.layers == before  # channels, strides, anchors per location do not change


def _hand_parts(steps=(16, 32)):
    backbone = get_backbone("mobilenet0.25")
    features = FeatureExtractor(backbone, strides=(16, 32))
    gens = [SSDAnchorGenerator(s, s * 1.5, (1, 2, 0.5), st) for s, st in zip((40, 80), steps)]
    heads = [SSDHead(c.channels, g.num_anchors, 2) for c, g in zip(features.specs, gens)]
    return features, [], {}, heads, gens, SSDDecoder(2), ["a", "b"]


def test_a_hand_built_ssd_reads_its_layers_off_its_parts():
    parts = _hand_parts()
    net = SSD(*parts, base_size=64, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    features = parts[0]
    # MobileNet 0.25: 512 * 0.25 = 128 channels at stride 16, 1024 * 0.25 = 256 at stride 32;
    # at 64 px: 64 / 16 = 4x4 and 64 / 32 = 2x2; ratios (1, 2, 0.5) + the second ratio-1 box = 4.
    assert net.layers == (
        LayerSpec(features.specs[0].name, 128, 16, 16.0, (4, 4), 4),
        LayerSpec(features.specs[1].name, 256, 32, 32.0, (2, 2), 4))
    assert (net.mean, net.std, net.base_size) == ((0.5,) * 3, (0.5,) * 3, 64)
    assert net.model_name is None and net.config is None
    net.initialize()
    ids, scores, bboxes = net(mx.nd.zeros((1, 3, 64, 96)))
    assert ids.shape[0] == scores.shape[0] == bboxes.shape[0] == 1 and bboxes.shape[2] == 4
    # Without a base size: ImageNet normalisation and no map sizes, the rest still known.
    bare = SSD(*_hand_parts())
    assert (bare.mean, bare.std, bare.base_size) == (IMAGENET_MEAN, IMAGENET_STD, None)
    assert [s.map_size for s in bare.layers] == [None, None]
    assert [s.channels for s in bare.layers] == [128, 256]
    assert bare.map_sizes(64, 96) == [(4, 6), (2, 3)]  # ceil(96 / 16) = 6, 96 / 32 = 3


def test_given_layers_are_checked_against_the_parts():
    parts = _hand_parts()
    good = SSD(*_hand_parts(), base_size=64).layers
    net = SSD(*parts, base_size=64, layers=good, model_name="mine")
    assert net.layers == good and net.model_name == "mine"
    wrong_anchors = (dataclasses.replace(good[0], num_anchors=6), good[1])
    with pytest.raises(ValueError, match="layer 0.*4 anchors per location"):
        SSD(*_hand_parts(), layers=wrong_anchors)
    wrong_channels = (good[0], dataclasses.replace(good[1], channels=512))
    with pytest.raises(ValueError, match="layer 1.*takes 256 channels"):
        SSD(*_hand_parts(), layers=wrong_channels)
    with pytest.raises(ValueError, match="2 LayerSpecs"):
        SSD(*_hand_parts(), layers=good[:1])
    with pytest.raises(TypeError, match="LayerSpecs"):
        SSD(*_hand_parts(), layers=[(128, 16, 16.0, (4, 4), 4)] * 2)
    with pytest.raises(ValueError, match="mean must have 3 values"):
        SSD(*_hand_parts(), mean=(0.5, 0.5))
    with pytest.raises(ValueError, match="std must be > 0"):
        SSD(*_hand_parts(), std=(0.5, 0.0, 0.5))
    with pytest.raises(ValueError, match="base_size"):
        SSD(*_hand_parts(), base_size=0)
    with pytest.raises(TypeError, match="model_name"):
        SSD(*_hand_parts(), model_name=3)


def test_layer_specs_round_trip_through_json():
    import json
    net = zoo.get_model("ssd_512_vgg16_atrous_coco", pretrained_base=False)
    records = json.loads(json.dumps([spec.to_dict() for spec in net.layers]))
    # SSD512 VGG: 64x64 conv4_3 at stride 8 (512 / 8), then halving to 2x2 and the 4x4 extra's 1x1.
    assert records[0]["map_size"] == [64, 64] and records[-1]["map_size"] == [1, 1]
    assert records[0] == {"source": net.layers[0].source, "channels": 512, "stride": 8,
                          "step": 8.0, "map_size": [64, 64], "num_anchors": 4}
    assert tuple(LayerSpec.from_dict(r) for r in records) == net.layers
    assert check_saved_layers(records, net.layers, "m.json") == net.layers
    bare = LayerSpec("relu7", 16, 32, 32.0, None, 4)  # no base size: no map size
    assert LayerSpec.from_dict(json.loads(json.dumps(bare.to_dict()))) == bare


def test_saved_layer_specs_that_disagree_name_the_file_layer_and_field():
    net = zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained_base=False)
    records = [spec.to_dict() for spec in net.layers]
    # Each field in turn, on another layer: the message names that one.
    for k, (field, value) in enumerate([("channels", 64), ("stride", 8), ("step", 10.0),
                                        ("map_size", [7, 7]), ("num_anchors", 9)]):
        edited = [dict(r) for r in records]
        edited[k][field] = value
        real = records[k][field]
        with pytest.raises(ValueError, match=rf"^m\.json: layer {k} \(.*\) has {field} "
                                             rf"{re.escape(repr(value))}, the graph has "
                                             rf"{re.escape(repr(real))}"):
            check_saved_layers(edited, net.layers, "m.json", against="the graph")
    # Only the fields asked for are compared (a graph that knows no strides).
    edited = [dict(r) for r in records]
    edited[1]["stride"] = 1
    check_saved_layers(edited, [{"channels": s.channels} for s in net.layers], "m.json",
                       fields=["channels"])
    with pytest.raises(ValueError, match=r"m\.json records 5 prediction layers, the network has 6"):
        check_saved_layers(records[:5], net.layers, "m.json")
    for bad, message in [({**records[0], "stride": 8.0}, "'stride' must be an int"),
                         ({**records[0], "step": "8"}, "'step' must be a number"),
                         ({**records[0], "map_size": [19]}, "'map_size' must be"),
                         ({**records[0], "extra": 1}, "must be a dict of the fields")]:
        with pytest.raises(ValueError, match=rf"m\.json: layers\[0\].*{message}"):
            check_saved_layers([bad] + records[1:], net.layers, "m.json")
    with pytest.raises(ValueError, match="must be a list"):
        check_saved_layers({"0": records[0]}, net.layers, "m.json")


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


# --- reset_class: class-predictor rows chosen by role (background, reused classes), every other
# part and every decoder setting kept, as GluonCV's reset_class does for its regular heads.

X = mx.nd.random.uniform(-1, 1, shape=(1, 3, 128, 128))  # reset_class tests' input


def _reset_net(name="ssd_300_mobilenet0.25_voc", **kwargs):
    net = zoo.get_model(name, pretrained_base=False, **kwargs)
    net.initialize(mx.init.Xavier())
    net(X)  # finish deferred initialization
    return net


def _raw(net):
    with autograd.train_mode():
        cls_preds, box_preds, _ = net(X)
    return cls_preds[0].asnumpy(), box_preds.asnumpy()


def test_same_class_count_reuses_only_the_mapped_rows():
    """The old shape test copied all 21 class rows when the count did not change."""
    net = _reset_net()
    voc = zoo.dataset_classes("voc")
    old_cls, old_box = _raw(net)
    new = ("kitty",) + tuple(f"thing{i}" for i in range(19))  # 20 classes again
    names = sorted(net.collect_params())
    net.reset_class(new, reuse_weights={"kitty": "cat"})
    new_cls, new_box = _raw(net)
    cat = 1 + voc.index("cat")
    np.testing.assert_allclose(new_cls[:, 0], old_cls[:, 0], rtol=1e-5, atol=1e-6)  # background
    np.testing.assert_allclose(new_cls[:, 1], old_cls[:, cat], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_box, old_box, rtol=1e-5, atol=1e-6)
    # Not reused: freshly initialised, so none equals its old counterpart.
    for k in range(2, 21):
        assert np.abs(new_cls[:, k] - old_cls[:, k]).max() > 1e-3, k
    assert sorted(net.collect_params()) == names  # parameter names unchanged
    assert net.classes == new


def test_reuse_map_by_index_and_by_list_as_gluoncv():
    net = _reset_net()
    voc = zoo.dataset_classes("voc")
    old_cls, _ = _raw(net)
    person, dog = voc.index("person"), voc.index("dog")
    net.reset_class(["person", "hound"], reuse_weights={0: person, "hound": "dog"})
    cls, _ = _raw(net)
    np.testing.assert_allclose(cls[:, 1], old_cls[:, 1 + person], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cls[:, 2], old_cls[:, 1 + dog], rtol=1e-5, atol=1e-6)
    net.reset_class(["hound", "person"], reuse_weights=["person"])  # names in both lists
    again, _ = _raw(net)
    np.testing.assert_allclose(again[:, 2], old_cls[:, 1 + person], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="old class"):
        net.reset_class(["a"], reuse_weights={"a": "dog"})
    with pytest.raises(ValueError, match="new class"):
        net.reset_class(["a"], reuse_weights={5: 0})


def test_lite_head_keeps_its_depthwise_and_norm_layers():
    net = _reset_net("ssdlite_320_mobilenetv2_0.25_voc", norm_layer=gluon.contrib.nn.SyncBatchNorm,
               norm_kwargs={"num_devices": 1})
    old_cls, old_box = _raw(net)
    kept = [(head.cls_pred.depthwise, head.cls_pred.bn) for head in net.heads]
    net.reset_class(["aeroplane", "x", "y"], reuse_weights=["aeroplane"])
    cls, box = _raw(net)
    assert cls.shape[1] == 4
    for head, (depthwise, bn) in zip(net.heads, kept):
        assert head.cls_pred.depthwise is depthwise and head.cls_pred.bn is bn
        assert isinstance(head.cls_pred.bn, gluon.contrib.nn.SyncBatchNorm)
        assert head.class_conv.weight.shape[0] == head.num_anchors * 4
    np.testing.assert_allclose(cls[:, 0], old_cls[:, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cls[:, 1], old_cls[:, 1], rtol=1e-5, atol=1e-6)  # aeroplane = 0
    np.testing.assert_allclose(box, old_box, rtol=1e-5, atol=1e-6)


def test_decoder_settings_survive():
    net = _reset_net()
    net.set_nms(nms_thresh=0.3, nms_topk=50, post_nms=7)
    net.decoder.score_thresh = 0.2  # set after build: reset_class must carry it too
    before = net.decoder
    net.hybridize()
    net(X)
    net.reset_class(["a", "b"])
    d = net.decoder
    assert d is not before and d.num_classes == 2 and d.prefix == before.prefix
    assert (d.nms_thresh, d.nms_topk, d.post_nms, d.score_thresh, d.stds, d.minimal_opset) == (
        0.3, 50, 7, 0.2, before.stds, before.minimal_opset)
    ids, scores, _ = net(X)  # hybridized again with the new head and decoder
    assert ids.shape == (1, 7, 1)
    valid = scores.asnumpy()[ids.asnumpy() >= 0]
    assert valid.size > 0 and valid.min() > 0.2  # Xavier weights, 3 classes: scores near 1/3
    assert ids.asnumpy().max() <= 1


def test_reset_class_keeps_reused_and_background_predictions():
    net = zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained_base=False)
    mx.random.seed(0)
    net.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(shape=(1, 3, 128, 128))
    with autograd.train_mode():
        old_cls, old_box, _ = net(x)
    net.hybridize()  # the fused graph: float noise against the imperative outputs (atol)
    net.reset_class(["kitty", "car"], reuse_weights={"kitty": "cat"})
    with autograd.train_mode():
        new_cls, new_box, _ = net(x)
    assert new_cls.shape[2] == 3 and net.classes == ("kitty", "car")
    cat = 1 + zoo.dataset_classes("voc").index("cat")
    for new, old in ((new_cls[0, :, 0], old_cls[0, :, 0]), (new_cls[0, :, 1], old_cls[0, :, cat]),
                     (new_box, old_box)):
        np.testing.assert_allclose(new.asnumpy(), old.asnumpy(), rtol=1e-5, atol=1e-6)
    assert net(x)[0].shape[2] == 1  # inference after reset: the new decoder, hybridized
    with pytest.raises(ValueError, match="reuse_weights"):
        net.reset_class(["a"], reuse_weights={"a": "dog"})

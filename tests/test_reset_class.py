"""SSD.reset_class: class-predictor rows chosen by role (background, reused classes), every other
part and every decoder setting kept, as GluonCV's reset_class does for its regular heads."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from gluon_ssd import zoo

X = mx.nd.random.uniform(-1, 1, shape=(1, 3, 128, 128))


def _net(name="ssd_300_mobilenet0.25_voc", **kwargs):
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
    net = _net()
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
    net = _net()
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
    net = _net("ssdlite_320_mobilenetv2_0.25_voc", norm_layer=gluon.contrib.nn.SyncBatchNorm,
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
    net = _net()
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
    assert valid.size == 0 or valid.min() > 0.2
    assert ids.asnumpy().max() <= 1

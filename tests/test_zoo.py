"""Tests for gluon_ssd.zoo: every registered model builds, trains, hybridizes and infers; GluonCV's
SSD scripts run with gluon_ssd.zoo.get_model in place of GluonCV's."""
import matplotlib.image
import mxnet as mx
import numpy as np
import pytest
import gluoncv as gcv
from gluoncv.data.transforms import presets
from gluoncv.utils.metrics.voc_detection import VOC07MApMetric
from mxnet import autograd, gluon

from tests.helpers.detections import assert_same_detections
from tests.helpers.gluoncv_scripts import (BATCH_SIZE, CTX, DATA_SHAPE, NET_NAME, dataset,
                                           get_dataloader, train_one_epoch, validate)
from tests.helpers.layer_outputs import assert_layer_specs_match
from tests.helpers.scores import spread_class_scores

from gluon_ssd import deploy, zoo
from gluon_ssd.zoo import get_model  # the one line changed in GluonCV's scripts

ALL_MODELS = zoo.list_models()


def test_zoo_has_the_named_models():
    assert len(ALL_MODELS) >= 60
    for name in ("ssd_300_vgg16_atrous_voc", "ssd_512_vgg16_atrous_coco", "ssd_512_resnet50_v1_voc",
                 "ssd_300_mobilenet0.25_voc", "ssd_512_mobilenet1.0_voc", "ssd_300_resnet101_voc",
                 "ssdlite_320_mobilenetv2_0.25_coco"):
        assert name in ALL_MODELS
    assert zoo.list_models("ssdlite_*_voc") == [
        f"ssdlite_320_mobilenetv2_{w}_voc" for w in ("0.25", "0.5", "0.75", "1.0")]
    # ssd_300_resnet101_voc is model_zoo's resnet101_v1 (see presets.ALIASES)
    assert zoo.get_config("ssd_300_resnet101_voc") == zoo.get_config("ssd_300_resnet101_v1_voc")


def _input_shape(name):
    """A small non-square ``(H, W)``, ``W - H = 32``: the taps' strides 8, 16 and 32 divide it.

    VGG's valid 3x3 / 4x4 extras need the base size as the smaller side; every other backbone
    reaches 1x1 maps from 96 px.
    """
    config, _ = zoo.get_config(name)
    height = config.base_size if config.backbone == "vgg16_atrous" else 96
    return height, height + 32


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_MODELS)
def test_every_model_builds_trains_hybridizes_and_infers(name):
    net = zoo.get_model(name, pretrained_base=False)
    mx.random.seed(0)
    net.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(-1, 1, shape=(2, 3) + _input_shape(name))
    num_classes = net.num_classes

    # Each layer's declared channels, anchors per location and stride (its LayerSpec) against
    # its real map and head outputs; the anchors of every map, from the maps themselves (real
    # sizes: Inception-v3's valid convolutions give 4x6 and 1x2 taps at 96x128 px, not 6x8
    # and 3x4).
    real = assert_layer_specs_match(net, x[:1])
    expected = sum(h * w * spec.num_anchors for ((_, h, w), _, _), spec in zip(real, net.layers))
    with autograd.record():
        cls_preds, box_preds, anchors = net(x)
        n = anchors.shape[1]
        assert n == expected
        assert cls_preds.shape == (2, n, num_classes + 1)
        assert box_preds.shape == (2, n, 4) and anchors.shape == (1, n, 4)
        weights = mx.nd.random.uniform(shape=cls_preds.shape)
        loss = (cls_preds * weights).sum() + (box_preds * box_preds).sum()
    loss.backward()
    # The unregistered-layer bug: a layer outside the parameter tree gets no gradient.
    dead = [p.name for p in net.collect_params().values()
            if p.grad_req != "null" and not np.any(p.grad().asnumpy())]
    assert not dead, f"parameters with zero gradient: {dead}"

    # Distinct scores to compare (tests/helpers/scores.py), set after the training pass, whose
    # backward moved the BatchNorm running statistics that inference uses. The class logits
    # scale with the class convolution: the raw reference scales with them.
    cls_preds = cls_preds * spread_class_scores(net, x[:1], std=0.5)
    ids, scores, bboxes = net(x)
    k = ids.shape[1]
    assert ids.shape == (2, k, 1) and scores.shape == (2, k, 1) and bboxes.shape == (2, k, 4)
    net.hybridize()
    hybrid = net(x)
    # The hybridized graph may fuse differently: float noise (1e-4 on 0-300 px boxes), rows in
    # any order of near-ties.
    assert_same_detections((ids, scores, bboxes), hybrid, score_atol=1e-4, box_atol=1e-2)
    with autograd.train_mode():  # a train-mode pass on the hybridized net...
        raw = net(x)
    # Train mode normalises by the statistics of this batch of 2 (on the 1x1 maps, two values:
    # each normalises to about +-1, however close they are), so rounding differences of the
    # fused graph grow through 100+ layers: seen 2e-3 on values of 3 (ResNet-101 v2) and one
    # element of 16380 off by 1.5e-2 on a scale of 15 (ResNet-152 v2). 1e-2 of the outputs'
    # scale stays far below what a wrong graph gives (differences of the outputs' own order).
    for a, b in zip((cls_preds, box_preds, anchors), raw):
        a = a.asnumpy()
        np.testing.assert_allclose(b.asnumpy(), a, rtol=1e-2, atol=1e-2 * np.abs(a).max())
    again = net(x)               # ...must not leave inference with the training graph
    assert again[0].shape == (2, k, 1)
    assert_same_detections((ids, scores, bboxes), again, score_atol=1e-4, box_atol=1e-2)


def test_a_size_the_backbone_refuses_is_a_value_error_naming_it():
    net = zoo.get_model("ssd_300_inceptionv3_voc", pretrained_base=False)
    # Inception-v3's stride-32 block is 1x1 from 75 px (tests/test_feature_extractor.py).
    with pytest.raises(ValueError, match=r"inceptionv3 cannot take a 60x60 input.*75x75"):
        net.describe(60)


def test_unknown_model_names_close_matches():
    with pytest.raises(ValueError, match="ssd_300_vgg16_atrous_voc"):
        zoo.get_model("ssd_300_vgg16_atrus_voc")


def test_custom_classes():
    net = zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained_base=False,
                        classes=["circle", "square"])
    net.initialize()
    with autograd.train_mode():
        cls_preds, _, _ = net(mx.nd.zeros((1, 3, 128, 128)))
    assert cls_preds.shape[2] == 3  # background + 2
    with pytest.raises(ValueError, match="duplicate"):
        zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained_base=False, classes=["a", "a"])
    with pytest.raises(TypeError, match="sequence"):
        zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained_base=False, classes="ab")


@pytest.mark.parametrize("name, side, anchors, params", [
    # GluonCV 0.10's own models (counted there) and the MobileNetV2 paper (Sandler et al. 2018,
    # Table 6: SSDLite 4.3M parameters): anchors and trainable parameters.
    ("ssd_300_vgg16_atrous_voc", 300, 8732, 26.3e6),
    ("ssd_512_resnet50_v1_voc", 512, 6132, 36.5e6),
    ("ssd_300_mobilenet0.25_voc", 300, 2268, 3.25e6),
    ("ssdlite_320_mobilenetv2_1.0_coco", 320, None, 4.3e6),  # SSDLite: 4.3M parameters on COCO
])


def test_describe_counts_anchors_and_parameters(name, side, anchors, params):
    text = zoo.get_model(name, pretrained_base=False).describe(side)
    summary = text.splitlines()[-1]
    if anchors is not None:
        assert summary.startswith(f"  {anchors} anchors")
    total = float(summary.rsplit("total ", 1)[1].rstrip("M")) * 1e6
    assert abs(total - params) / params < 0.02, summary


@pytest.mark.parametrize("name", ["ssd_300_inceptionv3_voc", "ssd_512_densenet121_coco"])
def test_new_families_export_and_reload_in_plain_mxnet(name, tmp_path):
    # One preset per new family (the all-models test above builds, trains and hybridizes all of
    # them); export folds BatchNorm and the plain SymbolBlock must give the same detections.
    net = zoo.get_model(name, pretrained_base=False)
    mx.random.seed(0)
    net.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(-1, 1, shape=(1, 3, 96, 160))  # non-square, above both minimums
    net(x)
    # Xavier weights score every class about alike, and tied scores leave which candidates fill
    # the top-k list to float noise: larger class-predictor weights spread the scores apart.
    predictors = [p for k, p in net._collect_params_with_prefix().items()
                  if ".cls_pred." in k and k.endswith("weight")]
    assert predictors
    for param in predictors:
        param.set_data(param.data() * 20)
    expected = net(x)
    assert (expected[0].asnumpy() >= 0).all()  # 100 real detections to compare, no -1 padding
    deploy.export(net, str(tmp_path), data_shape=(96, 160))
    reloaded = mx.gluon.SymbolBlock.imports(str(tmp_path / f"{name}-symbol.json"), ["data"],
                                            str(tmp_path / f"{name}-0000.params"))
    assert_same_detections(expected, reloaded(x), score_atol=1e-4, box_atol=1e-2)


# --- GluonCV's SSD scripts with gluoncv.model_zoo.get_model swapped for gluon_ssd.zoo.get_model
# (the driver making their calls: tests/helpers/gluoncv_scripts.py).


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """train_ssd.py __main__ (lines 370-420) without --syncbn, on two contexts, then two steps."""
    mx.random.seed(0)
    np.random.seed(0)
    net = get_model(NET_NAME, pretrained_base=False, norm_layer=gluon.nn.BatchNorm)
    async_net = net
    net.initialize()
    async_net.initialize()
    net.collect_params().reset_ctx(CTX[0])
    train_data, val_data = get_dataloader(async_net, dataset(8, 0), dataset(4, 1),
                                           DATA_SHAPE, BATCH_SIZE, CTX[0])
    before = {n: p.data(CTX[0]).asnumpy() for n, p in net.collect_params(".*_weight").items()}
    losses = train_one_epoch(net, train_data, CTX, steps=2)
    eval_metric = VOC07MApMetric(iou_thresh=0.5, class_names=net.classes)
    names, values = validate(net, val_data, CTX, eval_metric)
    prefix = str(tmp_path_factory.mktemp("train_ssd") / NET_NAME)
    net.save_params(f"{prefix}_best.params")  # train_ssd.py save_params (line 217)
    return dict(net=net, losses=losses, names=names, values=values, before=before,
                params=f"{prefix}_best.params")


def test_train_ssd_trains_on_two_contexts_and_validates(trained):
    net = trained["net"]
    assert len(trained["losses"]) == 2 and all(np.isfinite(trained["losses"]))
    # Gradients were summed over both contexts: the copies of every weight are equal, and moved.
    moved = 0
    for name, p in net.collect_params(".*_weight").items():
        np.testing.assert_array_equal(p.data(CTX[0]).asnumpy(), p.data(CTX[1]).asnumpy())
        moved += not np.array_equal(p.data(CTX[0]).asnumpy(), trained["before"][name])
    assert moved == len(trained["before"])
    # VOC07MApMetric: one AP per VOC class, then mAP.
    assert trained["names"][-1] == "mAP" and len(trained["names"]) == 21
    # The mAP is the mean of the per-class APs over the classes with ground truth (NaN otherwise).
    per_class = np.array(trained["values"][:-1], dtype=np.float64)
    assert np.isfinite(per_class).sum() >= 1
    assert float(trained["values"][-1]) == pytest.approx(np.nanmean(per_class))


def test_eval_and_demo_load_the_saved_params(trained, tmp_path):
    # eval_ssd.py lines 165-168 / demo_ssd.py lines 42-44: a fresh net loads the saved file.
    net = get_model(NET_NAME, pretrained=False, pretrained_base=False)
    net.load_parameters(trained["params"])
    net.set_nms(nms_thresh=0.45, nms_topk=400)
    net.hybridize()
    trained_net = trained["net"]
    trained_net.collect_params().reset_ctx(mx.cpu())
    img = np.random.RandomState(3).randint(0, 255, (150, 200, 3)).astype("uint8")
    path = str(tmp_path / "street.png")
    matplotlib.image.imsave(path, img)  # PNG: lossless
    # demo_ssd.py lines 49-53: load_test, forward, plot_bbox.
    x, orig = presets.ssd.load_test(path, short=DATA_SHAPE)
    ids, scores, bboxes = [xx[0].asnumpy() for xx in net(x)]
    expected = [xx[0].asnumpy() for xx in trained_net(x)]
    assert_same_detections([a[None] for a in expected], [a[None] for a in (ids, scores, bboxes)],
                           score_atol=1e-5, box_atol=1e-3)
    # train_ssd.py --syncbn --resume (lines 385-393): a SyncBatchNorm net loads the same file;
    # at inference it normalises with the running statistics, so it detects the same.
    sync = get_model(NET_NAME, pretrained_base=False, norm_layer=gluon.contrib.nn.SyncBatchNorm,
                     norm_kwargs={"num_devices": len(CTX)})
    sync.load_parameters(trained["params"])
    assert_same_detections([a[None] for a in expected], [xx.asnumpy() for xx in sync(x)],
                           score_atol=1e-5, box_atol=1e-3)
    thresh = float(np.sort(scores[:, 0])[-5])  # five boxes at or above it
    ax = gcv.utils.viz.plot_bbox(orig, bboxes, scores, ids, thresh=thresh, class_names=net.classes)
    drawn = int(((scores[:, 0] >= thresh) & (ids[:, 0] >= 0)).sum())
    assert drawn >= 5 and len(ax.patches) == drawn


def test_export_block_reimports_with_the_same_detections(trained, tmp_path):
    # export_pretrained.py line 16: export_block(name, net, preprocess=True, layout='HWC').
    net = get_model(NET_NAME, pretrained_base=False)
    net.load_parameters(trained["params"])
    prefix = str(tmp_path / NET_NAME)
    gcv.utils.export_block(prefix, net, data_shape=(DATA_SHAPE, DATA_SHAPE, 3), preprocess=True,
                           layout="HWC")
    deployed = gluon.SymbolBlock.imports(f"{prefix}-symbol.json", ["data"],
                                         f"{prefix}-0000.params")
    img = mx.nd.array(np.random.RandomState(4).randint(0, 255, (1, DATA_SHAPE, DATA_SHAPE, 3)))
    # export_block's preprocess: HWC 0-255 -> CHW, /255, ImageNet mean / std (GluonCV's).
    mean = mx.nd.array([0.485, 0.456, 0.406]).reshape((1, 3, 1, 1))
    std = mx.nd.array([0.229, 0.224, 0.225]).reshape((1, 3, 1, 1))
    x = (img.transpose((0, 3, 1, 2)) / 255 - mean) / std
    assert_same_detections(net(x), deployed(img), score_atol=1e-4, box_atol=1e-2)

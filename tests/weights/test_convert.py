"""GluonCV checkpoint -> gluon_ssd: both nets must compute the same outputs on the same input.

Each GluonCV SSD is built without any download (pretrained=False, pretrained_base=False), every
parameter (BatchNorm statistics, gamma and beta, L2 scales, VGG's input scale included) is set to
random values of a sensible scale, so no default value can make the test pass, and the file written
by ``save_parameters`` is converted.

Raw outputs are compared in training mode (``autograd.train_mode``): there, BatchNorm uses the
batch statistics in both nets alike. Inference outputs (ids, scores, bboxes) are compared too; they
go through BatchNorm's running statistics, so the converted statistics are checked as well.
"""
from unittest import mock

import numpy as np
import pytest
import mxnet as mx
from mxnet import autograd

from tests.helpers.detections import assert_same_detections
from tests.helpers.gluoncv_nets import randomize

from gluon_ssd.zoo import from_gluoncv

import gluoncv  # noqa: E402  (a dependency: no skip)

pytestmark = [pytest.mark.gluoncv, pytest.mark.slow]

NAMES = ["ssd_300_vgg16_atrous_voc", "ssd_512_vgg16_atrous_voc", "ssd_512_resnet50_v1_voc",
         "ssd_512_mobilenet1.0_voc"]
RTOL = ATOL = 1e-4


def _unsaturate(net, x):
    """Scale the class predictors (weights and biases) so inference logits have a std of 2.

    Random ResNet-50 weights give logits in the thousands: every softmax score is 1.0, and among
    100 tied candidates which make the top-k cut is arbitrary, so no comparison of detections
    could mean anything. GluonCV's forward returns raw outputs when it believes it is training;
    faking that check keeps BatchNorm on its running statistics (inference).
    """
    with mock.patch.object(mx.autograd, "is_training", lambda: True):
        std = float(net(x)[0].asnumpy().std())
    for param in net.class_predictors.collect_params().values():
        param.set_data(param.data() * (2.0 / std))


@pytest.fixture(scope="module", params=NAMES)
def pair(request, tmp_path_factory):
    """(name, GluonCV net, its params file, converted net, input)."""
    name = request.param
    size = 300 if "_300_" in name else 512
    theirs = gluoncv.model_zoo.get_model(name, pretrained=False, pretrained_base=False)
    theirs.initialize()
    x = mx.nd.array(np.random.RandomState(1).uniform(-2, 2, (1, 3, size, size)))
    with autograd.train_mode():
        theirs(x)  # finishes deferred initialization
    randomize(theirs, seed=0)
    path = str(tmp_path_factory.mktemp("gluoncv") / f"{name}.params")
    theirs.save_parameters(path)
    return name, theirs, path, from_gluoncv(name, path), x


def _close(ours, theirs, what):
    ours, theirs = ours.asnumpy(), theirs.asnumpy()
    assert ours.shape == theirs.shape, what
    scale = max(1.0, float(np.abs(theirs).max()))
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL * scale, err_msg=what)


def test_train_mode_outputs_match(pair):
    name, theirs, _, ours, x = pair
    with autograd.train_mode():
        expected = theirs(x)
        got = ours(x)
    assert len(got) == 3
    for what, a, b in zip(("cls_preds", "box_preds"), got, expected):
        _close(a, b, f"{name} {what}")
    # Anchors come from the same sizes/ratios/steps (GluonCV's presets): equal to float32 rounding.
    np.testing.assert_allclose(got[2].asnumpy(), expected[2].asnumpy(), rtol=1e-6, atol=1e-3)
    assert float(expected[0].abs().max().asscalar()) > 1e-2  # a non-trivial comparison


def test_inference_outputs_match(pair, tmp_path):
    name, theirs, _, _, x = pair
    saved = {k: p.data().copy() for k, p in theirs.class_predictors.collect_params().items()}
    try:
        _unsaturate(theirs, x)
        path = str(tmp_path / f"{name}.params")
        theirs.save_parameters(path)
        expected = theirs(x)
        got = from_gluoncv(name, path)(x)
    finally:  # the module's other tests use the fixture's weights
        for k, p in theirs.class_predictors.collect_params().items():
            p.set_data(saved[k])
    # Order-insensitive: the two nets' float noise (~1e-5 relative, different kernels on AVX2 and
    # AVX-512) may swap rows whose scores tie. Boxes are compared to the tolerance of the raw
    # outputs above (ATOL relative to the largest coordinate), scores to ATOL.
    # Random ResNet weights overflow some boxes to +-inf (exp of a large offset) on both sides:
    # the scale is that of the finite coordinates; equal infinities match.
    boxes = expected[2].asnumpy()
    box_atol = ATOL * max(1.0, float(np.abs(boxes[np.isfinite(boxes)]).max()))
    assert_same_detections(expected, got, score_atol=ATOL, box_atol=box_atol, min_compared=20)


def test_other_architecture_is_refused(pair):
    name, _, path, _, _ = pair
    other = "ssd_512_mobilenet1.0_voc" if "resnet" not in name else "ssd_512_vgg16_atrous_voc"
    if other == name:
        other = "ssd_512_resnet50_v1_voc"
    with pytest.raises(ValueError, match=path.replace(".", r"\.")):
        from_gluoncv(other, path)


def test_truncated_file_is_refused(tmp_path):
    theirs = gluoncv.model_zoo.get_model("ssd_512_mobilenet1.0_voc", pretrained=False,
                                         pretrained_base=False)
    theirs.initialize()
    with autograd.train_mode():
        theirs(mx.nd.zeros((1, 3, 128, 128)))
    path = tmp_path / "full.params"
    theirs.save_parameters(str(path))
    cut = tmp_path / "cut.params"
    data = path.read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="cut.params"):
        from_gluoncv("ssd_512_mobilenet1.0_voc", str(cut))


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="no params file at /nonexistent/ssd.params"):
        from_gluoncv("ssd_512_mobilenet1.0_voc", "/nonexistent/ssd.params")

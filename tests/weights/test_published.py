"""get_model(name, pretrained=True) through GluonCV's own model store, and pretrained=<file>.

Nothing is downloaded: a GluonCV checkpoint is planted in a temporary store under GluonCV's file
name, with GluonCV's sha1 table patched to its sha1; "offline" is a repository URL nothing listens
on (MXNET_GLUON_REPO, which GluonCV's store reads).
"""
import hashlib
import os

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

import gluoncv
from gluoncv.model_zoo import model_store as gluoncv_store

from tests.helpers.gluoncv_nets import randomize

from gluon_ssd import zoo
from gluon_ssd.weights.published import GLUONCV_WEIGHTS

# A COCO model: the VOC ones are converted in tests/weights/test_convert.py; this also checks that a COCO
# preset (80 classes, COCO anchor sizes) matches GluonCV's.
NAME = "ssd_512_mobilenet1.0_coco"
SIDE = 512  # GluonCV's anchors equal ours at the base size


@pytest.fixture(scope="module")
def gluoncv_file(tmp_path_factory):
    """(GluonCV net, path of its save_parameters file under GluonCV's store name, sha1)."""
    theirs = gluoncv.model_zoo.get_model(NAME, pretrained=False, pretrained_base=False)
    theirs.initialize()
    x = mx.nd.zeros((1, 3, SIDE, SIDE))
    with autograd.train_mode():
        theirs(x)
    randomize(theirs, seed=0)
    root = tmp_path_factory.mktemp("store")
    tmp = root / "w.params"
    theirs.save_parameters(str(tmp))
    sha1 = hashlib.sha1(tmp.read_bytes()).hexdigest()
    path = root / f"{NAME}-{sha1[:8]}.params"  # gluoncv.model_zoo.model_store's file name
    tmp.rename(path)
    return theirs, path, sha1


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.delenv("MXNET_HOME", raising=False)  # it would override root in GluonCV's store
    monkeypatch.setenv("MXNET_GLUON_REPO", "http://127.0.0.1:9/")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


def _same_raw_outputs(ours, theirs):
    x = mx.nd.array(np.random.RandomState(1).uniform(-2, 2, (1, 3, SIDE, SIDE)))
    with autograd.train_mode():
        got, expected = ours(x), theirs(x)
    for a, b in zip(got, expected):
        b = b.asnumpy()
        np.testing.assert_allclose(a.asnumpy(), b, rtol=1e-4, atol=1e-4 * max(1, np.abs(b).max()))
    assert float(expected[0].abs().max().asscalar()) > 1e-2


def test_pretrained_true_loads_through_gluoncvs_store(gluoncv_file, offline, monkeypatch):
    theirs, path, sha1 = gluoncv_file
    monkeypatch.setitem(gluoncv_store._model_sha1, NAME, sha1)
    net = zoo.get_model(NAME, pretrained=True, root=str(path.parent), nms_topk=200)
    assert net.classes == zoo.dataset_classes("coco") and net.decoder.nms_topk == 200
    assert net.decoder.minimal_opset  # as GluonCV sets it for pretrained models
    assert net.model_name == NAME
    _same_raw_outputs(net, theirs)  # cls, box and anchors: GluonCV's COCO preset reproduced


def test_offline_error_says_where_to_put_the_file(gluoncv_file, offline, monkeypatch, tmp_path):
    _, path, sha1 = gluoncv_file
    monkeypatch.setitem(gluoncv_store._model_sha1, NAME, sha1)
    expected = os.path.join(str(tmp_path), f"{NAME}-{sha1[:8]}.params")
    with pytest.raises(ValueError, match="no file is there") as err:
        zoo.get_model(NAME, pretrained=True, root=str(tmp_path))
    assert expected in str(err.value) and sha1 in str(err.value)
    # An altered file: GluonCV's sha1 check refuses it (and would download it again).
    data = path.read_bytes()
    with open(expected, "wb") as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(ValueError, match="the file there has sha1"):
        zoo.get_model(NAME, pretrained=True, root=str(tmp_path))


def test_pretrained_path_converts_a_gluoncv_file_or_loads_our_own(gluoncv_file, tmp_path):
    theirs, path, _ = gluoncv_file
    net = zoo.get_model(NAME, pretrained=str(path))
    _same_raw_outputs(net, theirs)
    own = str(tmp_path / "own.params")
    net.save_parameters(own)
    again = zoo.get_model(NAME, pretrained=own)
    _same_raw_outputs(again, theirs)
    with pytest.raises(FileNotFoundError, match="no such file"):
        zoo.get_model(NAME, pretrained=str(tmp_path / "missing.params"))
    with pytest.raises(ValueError, match="does not fit"):  # our file, another architecture
        zoo.get_model("ssd_512_mobilenet1.0_voc", pretrained=own)


def test_names_without_weights_list_the_names_with_weights():
    with pytest.raises(ValueError, match="no published weights") as err:
        zoo.get_model("ssdlite_320_mobilenetv2_1.0_coco", pretrained=True)
    for name in GLUONCV_WEIGHTS:
        assert name in str(err.value)
    with pytest.raises(ValueError, match="reset_class"):
        zoo.get_model(NAME, pretrained=True, classes=["a"])


def test_every_listed_name_is_a_zoo_model_gluoncv_publishes():
    assert set(GLUONCV_WEIGHTS) <= set(zoo.list_models())
    assert set(GLUONCV_WEIGHTS) <= set(gluoncv_store._model_sha1)
    for size, family in ((300, "vgg16_atrous"), (512, "vgg16_atrous"), (512, "resnet50_v1"),
                         (512, "mobilenet1.0")):
        for dataset in ("voc", "coco"):
            assert f"ssd_{size}_{family}_{dataset}" in GLUONCV_WEIGHTS


@pytest.mark.parametrize("name", GLUONCV_WEIGHTS)
def test_anchors_are_gluoncvs_for_every_name_with_weights(name):
    """The published weights were trained with GluonCV's anchors: ours must be the same boxes."""
    side = 300 if "_300_" in name else 512
    theirs = gluoncv.model_zoo.get_model(name, pretrained=False, pretrained_base=False)
    theirs.initialize()
    ours = zoo.get_model(name, pretrained_base=False)
    ours.initialize()
    x = mx.nd.zeros((1, 3, side, side))
    with autograd.train_mode():
        expected, got = theirs(x)[2].asnumpy(), ours(x)[2].asnumpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)

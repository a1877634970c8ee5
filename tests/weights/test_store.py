"""Tests for gluon_ssd.weights.store: gluon_ssd's model store (registered sha1, verified files) and
the checked loading of a ``.params`` file into a built network."""
import hashlib

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from tests.helpers.detections import assert_same_detections
from tests.helpers.scores import spread_class_scores

from gluon_ssd import zoo
from gluon_ssd.weights import store

NAME = "ssd_300_mobilenet0.25_voc"


def _registered(monkeypatch, name, sha1):
    """``store.register(name, sha1)``, undone after the test (the table is process-wide)."""
    monkeypatch.setattr(store, "_MODEL_SHA1", dict(store._MODEL_SHA1))
    store.register(name, sha1)


def _dense(units=3, in_units=4, prefix="d_"):
    net = gluon.nn.Dense(units, in_units=in_units, prefix=prefix)
    net.initialize()
    return net


def test_pretrained_loads_verified_weights_from_the_store(tmp_path, monkeypatch):
    src = zoo.get_model(NAME, pretrained_base=False)
    src.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(shape=(1, 3, 128, 128))
    src(x)
    spread_class_scores(src, x)  # distinct scores: detections to compare (tests/helpers/scores.py)
    expected = src(x)
    tmp = tmp_path / "w.params"
    src.save_parameters(str(tmp))
    sha1 = hashlib.sha1(tmp.read_bytes()).hexdigest()
    path = tmp_path / f"{NAME}-{sha1[:8]}.params"
    tmp.rename(path)
    _registered(monkeypatch, NAME, sha1)
    assert store.published() == sorted(set(store.published()) | {NAME})
    assert store.get_model_file(NAME, root=str(tmp_path)) == str(path)
    loaded = zoo.get_model(NAME, pretrained=True, root=str(tmp_path))
    # The same weights and the same (imperative) graph: equal up to float noise.
    assert_same_detections(expected, loaded(x), score_atol=1e-5, box_atol=1e-3)
    with autograd.train_mode():
        for a, b in zip(src(x), loaded(x)):
            np.testing.assert_allclose(b.asnumpy(), a.asnumpy(), rtol=1e-5, atol=1e-5)
    # A truncated file is refused by its hash, never loaded.
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt or altered"):
        zoo.get_model(NAME, pretrained=True, root=str(tmp_path))


def test_pretrained_without_published_weights_is_an_error():
    with pytest.raises(ValueError, match="no published weights"):
        zoo.get_model(NAME, pretrained=True)


def test_get_model_file_names_what_is_missing(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"no published weights for 'nothing_here'"):
        store.get_model_file("nothing_here", root=str(tmp_path))
    sha1 = "0123456789abcdef0123456789abcdef01234567"
    _registered(monkeypatch, "m", sha1.upper())  # stored lower case
    expected = tmp_path / "m-01234567.params"  # {name}-{sha1[:8]}.params
    with pytest.raises(ValueError, match=f"weights for 'm' not found: expected {expected}"):
        store.get_model_file("m", root=str(tmp_path))
    expected.write_bytes(b"other bytes")
    with pytest.raises(ValueError, match=rf"sha1 {hashlib.sha1(b'other bytes').hexdigest()}, "
                                         rf"expected {sha1}"):
        store.get_model_file("m", root=str(tmp_path))


@pytest.mark.parametrize("sha1", ["abc", "g" * 40, "0" * 39])
def test_register_takes_40_hex_digits(sha1):
    with pytest.raises(ValueError, match=f"sha1 must be 40 hex digits, got '{sha1}'"):
        store.register("m", sha1)


def test_sha1_of_is_hashlibs(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc" * 1000)
    assert store.sha1_of(str(path)) == hashlib.sha1(b"abc" * 1000).hexdigest()


def test_load_weights_loads_a_file_that_fits(tmp_path):
    src = _dense(prefix="a_")
    path = str(tmp_path / "w.params")
    src.save_parameters(path)
    other = _dense(prefix="b_")  # another prefix: save_parameters names are structural
    assert store.load_weights(other, path, "a test file") is other
    np.testing.assert_array_equal(other.weight.data().asnumpy(), src.weight.data().asnumpy())
    np.testing.assert_array_equal(other.bias.data().asnumpy(), src.bias.data().asnumpy())
    # A deferred shape (0) matches any size: in_units unknown until the first forward.
    deferred = gluon.nn.Dense(3, prefix="c_")
    store.load_weights(deferred, path, "a test file")
    assert deferred.weight.shape == (3, 4)


def test_load_weights_refuses_files_that_do_not_fit_before_loading(tmp_path):
    path = str(tmp_path / "w.params")
    _dense().save_parameters(path)
    wider = _dense(units=5)
    before = wider.weight.data().asnumpy().copy()
    with pytest.raises(ValueError, match=r"w\.params does not fit this model \(a test file\): "
                                         r"parameter 'weight' is \(5, 4\) in the model, \(3, 4\) "
                                         r"in the file"):
        store.load_weights(wider, path, "a test file")
    np.testing.assert_array_equal(wider.weight.data().asnumpy(), before)  # nothing loaded
    no_bias = gluon.nn.Dense(3, in_units=4, use_bias=False)
    no_bias.initialize()
    with pytest.raises(ValueError, match=r"the file holds 1 parameters the model lacks, e\.g\. "
                                         r"'bias'"):
        store.load_weights(no_bias, path, "a test file")
    mx.nd.save(str(tmp_path / "only_weight.params"), {"weight": mx.nd.zeros((3, 4))})
    with pytest.raises(ValueError, match=r"parameter 'bias' \(3,\) is missing from the file"):
        store.load_weights(_dense(), str(tmp_path / "only_weight.params"), "a test file")


def test_load_params_file_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no params file at .*none\.params \(expected x\)"):
        store.load_params_file(str(tmp_path / "none.params"), "x")
    (tmp_path / "junk.params").write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match=r"cannot read .*junk\.params as MXNet parameters"):
        store.load_params_file(str(tmp_path / "junk.params"), "x")
    mx.nd.save(str(tmp_path / "list.params"), [mx.nd.zeros(2)])  # unnamed arrays
    with pytest.raises(ValueError, match=r"list\.params holds no named parameters; expected x"):
        store.load_params_file(str(tmp_path / "list.params"), "x")

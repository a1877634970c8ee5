"""Tests for gluon_ssd.deploy.options: the export options, validated once, as a dataclass."""
import dataclasses

import mxnet as mx
import pytest

from gluon_ssd import deploy, zoo
from gluon_ssd.deploy import ExportOptions


def test_defaults_and_keywords_are_the_same_options():
    options = ExportOptions(data_shape=[128, 96], onnx=True)
    assert options.data_shape == (128, 96)  # checked and normalized to a tuple of ints
    assert options == ExportOptions(data_shape=(128, 96), onnx=True)
    assert options.int8_tolerance == deploy.DEFAULT_INT8_TOLERANCE
    assert options.bf16_tolerance == deploy.DEFAULT_BF16_TOLERANCE
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.onnx = False  # validated once: it cannot change afterwards


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(calib_mode="kl"), ValueError, "calib_mode must be one of"),
    (dict(dtype="int4"), ValueError, "dtype must be one of"),
    (dict(name="a/b"), ValueError, "name must be a plain file name prefix"),
    (dict(int8_tolerance=1.5), ValueError,
     r"int8_tolerance is a minimum agreement mAP in \[0, 1\]"),
    (dict(max_calib_images=0), ValueError, "max_calib_images must be >= 1, got 0"),
    (dict(max_calib_images=8.0), TypeError, "max_calib_images must be an int, got float"),
    (dict(data_shape=(300,)), TypeError, r"data_shape must be a \(height, width\) pair"),
    (dict(int8=True), ValueError, "int8=True needs calib_images"),
    (dict(int8=True, calib_images=[], dtype="float16"), ValueError, "starts from float32"),
    (dict(static_shape=True), ValueError, "static_shape=True .* needs onnx=True"),
    (dict(bf16=True, calib_images=[]), ValueError, "bf16=True .* needs onnx=True"),
    (dict(colour=True), TypeError, "unexpected keyword argument 'colour'"),
])
def test_bad_options_are_refused_on_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        ExportOptions(**kwargs)


def test_for_net_fills_in_the_net_defaults():
    net = zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained_base=False, classes=["a"])
    net.initialize(ctx=mx.cpu())
    resolved = ExportOptions().for_net(net)
    assert resolved.data_shape == (300, 300) and resolved.name == "ssd_300_mobilenet0.25_voc"
    assert resolved.ctx == mx.cpu()
    kept = ExportOptions(data_shape=(96, 128), name="m").for_net(net)
    assert (kept.data_shape, kept.name) == ((96, 128), "m")
    with pytest.raises(TypeError, match="net must be a gluon_ssd SSD"):
        ExportOptions().for_net(mx.gluon.nn.Dense(2))


def test_export_takes_options_or_keywords_not_both(tmp_path):
    net = zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained_base=False, classes=["a"])
    with pytest.raises(TypeError, match=r"not both: got options and \['onnx'\]"):
        deploy.export(net, str(tmp_path), options=ExportOptions(), onnx=True)
    assert not list(tmp_path.iterdir())  # refused before anything is written

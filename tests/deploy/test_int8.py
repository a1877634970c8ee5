"""Tests for gluon_ssd.deploy.int8: the oneDNN int8 graph of a bundle, calibrated, gated by its
agreement with fp32 (naive and entropy calibration), refused below its tolerance."""
import os

import pytest

from tests.helpers.deploy_fixtures import SIZE, noise_images, normalized

from gluon_ssd import deploy
from gluon_ssd.deploy import int8 as int8_module


def test_int8_export_agrees_with_fp32(net, tmp_path):
    calib = list(noise_images(10, 16))
    manifest = deploy.export(net, str(tmp_path), SIZE, int8=True, calib_images=calib,
                             calib_mode="naive")
    entry = manifest["variants"]["int8"]
    assert {entry["symbol"], entry["params"]} <= set(manifest["files"])
    assert entry["num_calib_images"] == 16 and entry["calib_mode"] == "naive"
    # Measured 0.91 here (0.97 on the held-out images below); seeds 1 and 2 give 0.87 / 0.83: a
    # random net's 100 detections per image, many near-tied, are more fragile than a trained one's.
    assert entry["agreement"]["map"] >= 0.85
    assert entry["agreement"]["num_reference_detections"] > 100
    fp32 = deploy.load(str(tmp_path), precision="fp32")
    int8 = deploy.load(str(tmp_path), runtime="mxnet", precision="int8")
    assert (fp32.runtime, fp32.precision, int8.precision) == ("mxnet", "fp32", "int8")
    # The int8 record passed its tolerance: auto picks it over MXNet fp32 (no ONNX graph here).
    assert deploy.load(str(tmp_path)).precision == "int8"
    with open(tmp_path / entry["symbol"]) as f:
        assert "quantize" in f.read()
    x = normalized(noise_images(11, 4), net)  # not calibration images
    assert deploy.detection_agreement(fp32(x), int8(x)) >= 0.85


def test_int8_entropy_mode_and_refusal(net, tmp_path, monkeypatch):
    calib = list(noise_images(12, 4, size=(160, 160)))
    manifest = deploy.export(net, str(tmp_path / "e"), (160, 160), int8=True,
                             calib_images=calib, calib_mode="entropy", int8_tolerance=None)
    entry = manifest["variants"]["int8"]
    assert entry["calib_mode"] == "entropy" and entry["agreement"]["min_required"] is None
    # Measured 0.90 (88 reference detections); entropy calibration takes ~25 s on 2 cores
    # whatever the image count or size (a threshold search per layer), so one small run.
    assert entry["agreement"]["map"] >= 0.8
    monkeypatch.setattr(int8_module.postprocess, "detection_agreement",
                        lambda *args, **kwargs: 0.5)
    with pytest.raises(ValueError, match="agree with fp32 at mAP 0.500 < int8_tolerance 0.8"):
        deploy.export(net, str(tmp_path / "r"), (160, 160), int8=True, calib_images=calib)
    assert os.listdir(tmp_path / "r") == []  # refused: nothing written

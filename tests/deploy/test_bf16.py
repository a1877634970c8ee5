"""Tests for gluon_ssd.deploy.bf16: OpenVINO bf16 gated by its agreement with f32, and the export
arguments it needs.

These pass on every CPU kind: on a CPU without bf16 units the export must refuse it, naming the
CPU's ISA; on one with them it is measured, recorded and picked by auto. Never skipped for the CPU.
"""
import numpy as np
import pytest

from tests.helpers.deploy_fixtures import SIZE, noise_images, normalized
from tests.helpers.runtimes import require

from gluon_ssd import deploy
from gluon_ssd.deploy import postprocess as postprocess_module
from gluon_ssd.deploy import cpu


def test_bf16_is_gated_by_agreement(net, tmp_path, monkeypatch):
    require("openvino")
    calib = list(noise_images(30, 8))
    out = str(tmp_path / "bf16")
    if not cpu.has_bf16():
        with pytest.raises(ValueError, match=r"needs a CPU with bf16 units .* this one has x86_64"):
            deploy.export(net, out, SIZE, onnx=True, bf16=True, calib_images=calib)
        return
    # Measured here (AVX-512 BF16, no AMX) on seeds 0 / 1 / 2 of the random net: 0.94 / 0.93 /
    # 0.83 (its 100 detections per image are mostly near-ties); 0.8 leaves room for AMX kernels.
    manifest = deploy.export(net, out, SIZE, onnx=True, bf16=True, calib_images=calib,
                             bf16_tolerance=0.8)
    record = manifest["variants"]["onnx"]["precisions"]["bf16"]
    assert record["verified"] and record["min_required"] == 0.8
    assert record["agreement"] >= 0.8
    assert record["num_reference_detections"] > 100
    detector = deploy.load(out)
    assert (detector.runtime, detector.precision) == ("openvino", "bf16")
    fp32 = deploy.load(out, runtime="openvino", precision="fp32")
    x = normalized(noise_images(31, 4), net).asnumpy()  # not calibration images
    ref, got = fp32(x), detector(x)
    assert deploy.detection_agreement(ref, got) >= 0.8
    # bf16 really runs: its scores are not the fp32 ones (8 mantissa bits).
    assert np.abs(ref[1] - got[1]).max() > 1e-4
    # Below the tolerance: refused, and the previous bundle stays.
    monkeypatch.setattr(postprocess_module, "detection_agreement", lambda *a, **k: 0.5)
    with pytest.raises(ValueError, match="OpenVINO bf16 detections agree with OpenVINO f32 at "
                                         "mAP 0.500 < bf16_tolerance 0.9: refusing"):
        deploy.export(net, out, SIZE, onnx=True, bf16=True, calib_images=calib)
    assert deploy.load(out).manifest == manifest  # the default tolerance refused, nothing moved
    # Recorded unchecked (tolerance None): auto does not pick it, asking for it warns.
    unchecked = str(tmp_path / "unchecked")
    deploy.export(net, unchecked, SIZE, onnx=True, bf16=True, calib_images=calib[:2],
                  bf16_tolerance=None)
    assert deploy.load(unchecked).precision == "fp32"
    with pytest.warns(UserWarning, match="openvino bf16 has no passed agreement record"):
        assert deploy.load(unchecked, precision="bf16").precision == "bf16"


def test_bf16_export_arguments(net, tmp_path):
    with pytest.raises(ValueError, match="bf16=True measures the ONNX graph .* onnx=True"):
        deploy.export(net, str(tmp_path), SIZE, bf16=True, calib_images=[])
    with pytest.raises(ValueError, match="bf16=True needs calib_images"):
        deploy.export(net, str(tmp_path), SIZE, onnx=True, bf16=True)
    with pytest.raises(ValueError, match=r"bf16_tolerance is a minimum agreement mAP in \[0, 1\]"):
        deploy.export(net, str(tmp_path), SIZE, onnx=True, bf16=True, calib_images=[],
                      bf16_tolerance=2)

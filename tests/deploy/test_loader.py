"""Tests for gluon_ssd.deploy.loader: deploy.load behind one interface (runtimes, precisions,
what auto picks and in which order on which CPU), input checks, old spellings.

These pass on every CPU kind: the order of auto's choices is checked on given ISAs.
"""
import json
import logging
import shutil

import mxnet as mx
import numpy as np
import pytest

from tests.helpers.deploy_fixtures import CLASSES, SIZE, noise_images, normalized
from tests.helpers.detections import assert_same_detections
from tests.helpers.runtimes import require

from gluon_ssd import deploy
from gluon_ssd.deploy import loader


@pytest.fixture(scope="module")
def bundle(net, tmp_path_factory):
    require("onnx")
    out = str(tmp_path_factory.mktemp("rt"))
    return out, deploy.export(net, out, SIZE, onnx=True)


@pytest.mark.parametrize("runtime", ["mxnet", "onnxruntime", "openvino"])
def test_every_runtime_has_the_same_call_and_detections(net, bundle, runtime):
    if runtime != "mxnet":
        require(runtime)
    out, manifest = bundle
    detector = deploy.load(out, runtime=runtime, precision="fp32")
    assert (detector.runtime, detector.precision, detector.choice) == (runtime, "fp32", "as asked")
    assert detector.classes == tuple(manifest["classes"])
    for images in (noise_images(20, 2), noise_images(21, 1, size=(224, 288))):
        x = normalized(images, net)
        expected = net(x)
        got_nd = detector(x)  # NDArray in, NDArray out
        assert all(isinstance(o, mx.nd.NDArray) for o in got_nd)
        assert_same_detections(expected, got_nd)
        got_np = detector(x.asnumpy())  # numpy in, numpy out
        assert all(isinstance(o, np.ndarray) for o in got_np)
        assert_same_detections(expected, got_np)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        detector(np.zeros((1, 300, 300, 3), np.float32))


def test_auto_picks_the_fastest_verified_option_and_says_so(bundle, caplog):
    require("onnxruntime")
    require("openvino")
    out, _ = bundle
    with caplog.at_level(logging.INFO, logger="gluon_ssd.deploy"):
        detector = deploy.load(out)
    # No bf16 record in this bundle: auto must not pick bf16 even on a bf16 CPU.
    assert (detector.runtime, detector.precision) == ("onnxruntime", "fp32")
    assert "picked by auto" in detector.choice
    assert "runtime=onnxruntime precision=fp32" in caplog.text and "CPU x86_64" in caplog.text
    assert deploy.load(out, runtime="openvino").precision == "fp32"  # auto precision: verified
    assert deploy.load(out, precision="fp32", runtime="mxnet").net is not None


def test_unavailable_choices_are_errors_naming_what_exists(net, bundle, tmp_path, monkeypatch):
    require("onnxruntime")
    require("openvino")
    out, _ = bundle
    with pytest.raises(ValueError, match=r"runtime must be one of .*'tensorrt'"):
        deploy.load(out, runtime="tensorrt")
    with pytest.raises(ValueError, match=r"precision must be one of .*'fp8'"):
        deploy.load(out, precision="fp8")
    with pytest.raises(ValueError, match=r"precision='int8' here; available: mxnet/fp32, "
                                         r"onnxruntime/fp32, openvino/"):
        deploy.load(out, precision="int8")
    plain = str(tmp_path / "plain")
    deploy.export(net, plain, SIZE)
    with pytest.raises(ValueError, match=r"available: mxnet/fp32; export with onnx=True"):
        deploy.load(plain, runtime="openvino")
    # A runtime that is not installed: named, with how to install it.
    real = loader.installed
    monkeypatch.setattr(loader, "installed", lambda r: r != "onnxruntime" and real(r))
    with pytest.raises(ValueError, match=r"onnxruntime/fp32: onnxruntime is not installed \(pip "
                                         r"install 'gluon_ssd\[runtimes\]'\)"):
        deploy.load(out, runtime="onnxruntime")
    assert deploy.load(out).runtime == "openvino"  # auto: the next fastest
    # bf16 on a CPU without bf16 units: refused, with the CPU's ISA.
    monkeypatch.setattr(loader, "has_bf16", lambda: False)
    monkeypatch.setattr(loader, "installed", real)
    with pytest.raises(ValueError, match=r"openvino/bf16: this CPU has no bf16 units \(x86_64"):
        deploy.load(out, precision="bf16")
    # A GPU context: MXNet only (no GPU needed to decide that).
    with pytest.raises(ValueError, match=r"openvino runs on CPU here, ctx=gpu\(0\)"):
        deploy.load(out, runtime="openvino", ctx=mx.gpu(0))


def test_old_spellings_keep_working(net, bundle):
    out, _ = bundle
    x = normalized(noise_images(22, 1), net)
    old = deploy.load(out, variant="fp32")
    assert (old.runtime, old.precision, old.variant) == ("mxnet", "fp32", "fp32")
    with pytest.warns(DeprecationWarning, match="mxnet_backend"):
        unfused = deploy.load(out, variant="fp32", backend=None)
    assert_same_detections(old(x), unfused(x))
    with pytest.raises(ValueError, match="variant='fp32' means runtime='mxnet'"):
        deploy.load(out, variant="fp32", runtime="openvino")


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_onnx_with_preprocessing_takes_uint8_pixels(net, tmp_path, runtime):
    require("onnx")
    require(runtime)
    out = str(tmp_path)
    manifest = deploy.export(net, out, SIZE, onnx=True, preprocess=True)
    assert manifest["variants"]["onnx"]["input"] == {"name": "data", "shape": ["B", "H", "W", 3],
                                                     "dtype": "uint8"}
    detector = deploy.load(out, runtime=runtime)
    for images in (noise_images(23, 2), noise_images(24, 1, size=(240, 320))):
        assert_same_detections(net(normalized(images, net)), detector(images))
    with pytest.raises(ValueError, match=r"\(B, H, W, 3\) uint8"):
        detector(np.zeros((1, 3, 300, 300), np.uint8))


@pytest.mark.parametrize("amx, expected, second", [
    # AMX: OpenVINO bf16, then OpenVINO's int8 (AMX int8 tiles).
    (True, ("openvino", "bf16"), ("openvino", "int8")),
    # AVX-512 BF16 / AVX2: ONNX Runtime int8, then OpenVINO int8 (docs/benchmarks.md).
    (False, ("onnxruntime", "int8"), ("openvino", "int8")),
])


def test_auto_order_depends_on_the_cpu(amx, expected, second):
    isa = {"avx2": True, "avx512": True, "avx512_bf16": not amx, "amx": amx, "bf16": True}
    order = loader.auto_order(isa)
    assert order[:2] == (expected, second)
    # Every reduced precision comes before every fp32 option.
    assert {p for _, p in order[:4]} == {"bf16", "int8"}
    assert order[4:6] == (("onnxruntime", "fp32"), ("openvino", "fp32"))


@pytest.mark.parametrize("agreement, picked", [(0.5, ("onnxruntime", "fp32")),
                                               (0.95, ("openvino", "bf16"))])


def test_auto_skips_an_unverified_first_choice(bundle, tmp_path, monkeypatch, agreement, picked):
    # On an AMX CPU auto's first choice is OpenVINO bf16 (above); a bf16 record whose agreement
    # is under its minimum (0.5 < 0.9) is not picked, the next available option is: no int8 graph
    # in this bundle, so ONNX Runtime fp32. Passed (0.95 >= 0.9), it is the one picked.
    require("onnxruntime")
    require("openvino")
    src, _ = bundle
    out = tmp_path / "b"
    shutil.copytree(src, out)
    manifest = json.loads((out / deploy.MANIFEST).read_text())
    manifest["variants"]["onnx"]["precisions"]["bf16"] = {
        "agreement": agreement, "min_required": 0.9, "verified": agreement >= 0.9}
    (out / deploy.MANIFEST).write_text(json.dumps(manifest))  # the manifest is in no sha256 list
    isa = {"avx2": True, "avx512": True, "avx512_bf16": False, "amx": True, "bf16": True}
    monkeypatch.setattr(loader, "cpu_isa", lambda: isa)
    monkeypatch.setattr(loader, "has_bf16", lambda: True)
    if picked[1] == "bf16":
        # This CPU may have no bf16 units: record what would be opened instead of opening it.
        def refuse(runtime, path, precision, spin=True):
            raise RuntimeError(f"would open {runtime} {precision}")

        monkeypatch.setattr(loader, "open_session", refuse)
        with pytest.raises(RuntimeError, match=r"^would open openvino bf16$"):
            deploy.load(str(out))
        return
    detector = deploy.load(str(out))
    assert (detector.runtime, detector.precision) == picked
    assert "picked by auto" in detector.choice


@pytest.fixture(scope="module")
def plain_bundle(net, tmp_path_factory):
    """An MXNet-only bundle (no ONNX graph): (folder, manifest)."""
    out = str(tmp_path_factory.mktemp("plain"))
    return out, deploy.export(net, out, SIZE)


def test_load_checks_and_detects_like_the_source(net, plain_bundle):
    out, manifest = plain_bundle
    detector = deploy.load(out)
    assert detector.classes == CLASSES and detector.manifest == manifest
    for images in (noise_images(3, 2), noise_images(4, 1, size=(200, 260))):
        x = normalized(images, net)
        assert_same_detections(net(x), detector(x))
        assert_same_detections(net(x), detector(x.asnumpy()))  # numpy input
    unfused = deploy.load(out, mxnet_backend=None)
    x = normalized(noise_images(3, 2), net)
    assert_same_detections(net(x), unfused(x))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        detector(mx.nd.zeros((1, 300, 300, 3)))
    with pytest.raises(ValueError, match=r"precision='int8' here; available: mxnet/fp32$"):
        deploy.load(out, variant="int8")

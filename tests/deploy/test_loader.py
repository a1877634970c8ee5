"""deploy.load behind one interface: runtimes, precisions, what auto picks, bf16 gated by agreement,
and the CPU's ISA read from /proc/cpuinfo.

These pass on every CPU kind: where a test depends on bf16 units it asserts what this CPU must do
(bf16 measured and picked, or refused with the CPU's ISA in the message), never skips.
"""
import logging
import warnings

import mxnet as mx
import numpy as np
import pytest

from tests.helpers.deploy_fixtures import SIZE, make_net, noise_images, normalized
from tests.helpers.detections import assert_same_detections
from tests.test_onnx import require

from gluon_ssd import deploy
from gluon_ssd.deploy import postprocess as postprocess_module
from gluon_ssd.deploy import cpu, loader


@pytest.fixture(scope="module")
def net():
    return make_net()


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


@pytest.mark.parametrize("flags, isa, bf16", [
    # AMD EPYC (Zen 2/3): AVX2 only.
    ("fpu sse2 avx avx2 fma", {"avx2": True, "avx512": False, "avx512_bf16": False, "amx": False},
     False),
    # AMD EPYC (Zen 4): AVX-512 with BF16 dot products, no AMX.
    ("avx2 avx512f avx512bw avx512_bf16", {"avx2": True, "avx512": True, "avx512_bf16": True,
                                           "amx": False}, True),
    # Intel Xeon (Sapphire Rapids): AVX-512 and AMX tiles.
    ("avx2 avx512f amx_bf16 amx_tile amx_int8", {"avx2": True, "avx512": True,
                                                 "avx512_bf16": False, "amx": True}, True),
])
def test_cpu_isa_from_cpuinfo(tmp_path, flags, isa, bf16):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: {flags}\n\nprocessor\t: 1\n"
                    f"flags\t\t: {flags}\n")
    read = cpu.cpu_flags(str(path))
    assert read == frozenset(flags.split())
    assert cpu.cpu_isa(read) == dict(isa, bf16=bf16) and cpu.has_bf16(read) == bf16
    assert cpu.isa_summary(read).split()[1:] == [k for k in ("avx2", "avx512", "avx512_bf16",
                                                             "amx") if isa[k]]
    assert cpu.cpu_flags(str(tmp_path / "missing")) == frozenset()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cpu.cpu_isa()["avx2"] in (True, False)  # this machine's own flags parse


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


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_static_shape_onnx_folds_the_anchors_and_detects_like_mxnet(net, tmp_path, runtime):
    onnx = require("onnx")
    require(runtime)
    size = (256, 320)
    manifest = deploy.export(net, str(tmp_path), size, onnx=True, static_shape=True)
    entry = manifest["variants"]["onnx"]
    assert entry["file"].endswith("-static.onnx") and not entry["any_size"]
    assert entry["input"]["shape"] == ["B", 3, 256, 320]
    model = onnx.load(str(tmp_path / entry["file"]))
    anchors = [i for i in model.graph.initializer if i.name.endswith("static_anchors")]
    # The constant holds the anchors the MXNet net builds at that size (its dynamic graph's).
    n_expected = net.predictions(mx.nd, mx.nd.zeros((1, 3) + size))[2].shape[1]
    assert anchors and list(anchors[0].dims) == [1, n_expected, 4]
    detector = deploy.load(str(tmp_path), runtime=runtime)
    images = noise_images(25, 2, size=size)
    assert_same_detections(net(normalized(images, net)), detector(normalized(images, net)))
    with pytest.raises(ValueError, match=r"static_shape=True for \(H, W\) = \(256, 320\), got "
                                         r"images of \(300, 300\)"):
        detector(normalized(noise_images(26, 1), net))
    with pytest.raises(ValueError, match="static_shape=True .* needs onnx=True"):
        deploy.export(net, str(tmp_path / "x"), size, static_shape=True)


@pytest.mark.parametrize("amx, expected, second", [
    # AMX: OpenVINO bf16 (issue 10: 0.075x GluonCV), then OpenVINO's int8 (AMX int8 tiles).
    (True, ("openvino", "bf16"), ("openvino", "int8")),
    # AVX-512 BF16 / AVX2: ONNX Runtime int8, then OpenVINO int8 (measured on static graphs:
    # 0.14x / 0.13x on VGG300, 0.18x / 0.23x on mobilenet0.25; oneDNN int8 0.25x / 0.28x).
    (False, ("onnxruntime", "int8"), ("openvino", "int8")),
])
def test_auto_order_depends_on_the_cpu_and_skips_unverified(amx, expected, second, monkeypatch):
    isa = {"avx2": True, "avx512": True, "avx512_bf16": not amx, "amx": amx, "bf16": True}
    order = loader.auto_order(isa)
    assert order[:2] == (expected, second)
    # Every reduced precision comes before every fp32 option.
    assert {p for _, p in order[:4]} == {"bf16", "int8"}
    assert order[4:6] == (("onnxruntime", "fp32"), ("openvino", "fp32"))
    # usable, verified, why: all verified -> the CPU's first.
    options = {key: (True, True, "") for key in order}
    monkeypatch.setattr(loader, "cpu_isa", lambda: isa)
    assert loader._choose(options, "auto", "auto", "b", True)[0] == expected
    # The CPU's first choice not verified: auto takes the next one.
    options[expected] = (True, False, "")
    assert loader._choose(options, "auto", "auto", "b", True)[0] == second
    # ... and not usable (e.g. not installed): the same.
    options[expected] = (False, True, "not installed")
    assert loader._choose(options, "auto", "auto", "b", True)[0] == second

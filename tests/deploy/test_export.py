"""Tests for gluon_ssd.deploy and scripts/export.py: export, integrity, plain reload, int8.

The ONNX graph and its runtimes are tested in tests/test_onnx.py, hostile bundle files in
tests/test_bundle_files.py. The model (tests/deploy_fixtures.py) is a seeded random
``ssd_300_mobilenet0.25_voc`` with 3 classes that gives 100 distinct detections per image, most
above 0.5.
"""
import json
import os
import subprocess
import sys
import textwrap

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from tests.helpers.deploy_fixtures import CLASSES, MODEL, SIZE, make_net, noise_images, normalized, random_heads
from tests.helpers.detections import as_numpy, assert_same_detections

from gluon_ssd import deploy
from gluon_ssd.blocks.decoder import SSDDecoder
from gluon_ssd.deploy import int8 as int8_module

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def net():
    return make_net()


@pytest.fixture(scope="module")
def bundle(net, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("bundle"))
    return out, deploy.export(net, out, SIZE)


def test_random_model_has_confident_detections(net):
    # The premise of the comparisons below: real detections, not -1 rows or all-equal scores,
    # that depend on the image and on its normalization.
    images = noise_images(0, 2)
    dets = net(normalized(images, net))
    ids, scores, _ = as_numpy(dets)
    assert (scores >= 0.5).sum() >= 20
    assert len(np.unique(np.round(scores[ids >= 0], 4))) >= 20
    with pytest.raises(AssertionError):
        assert_same_detections(dets, net(normalized(images[::-1], net)))
    with pytest.raises(AssertionError):  # forgetting the mean / std shows
        assert_same_detections(dets, net(mx.nd.array(images.transpose(0, 3, 1, 2) / 255.0)))


def test_manifest_describes_the_bundle(net, bundle):
    out, manifest = bundle
    files = {f"{MODEL}-symbol.json", f"{MODEL}-0000.params"}
    assert set(os.listdir(out)) == files | {deploy.MANIFEST}  # no temporary file left
    assert set(manifest["files"]) == files
    with open(os.path.join(out, deploy.MANIFEST)) as f:
        assert json.load(f) == manifest
    assert manifest["model_name"] == MODEL and manifest["classes"] == list(CLASSES)
    assert manifest["input"]["layout"] == "NCHW" and manifest["input"]["shape"] == [1, 3, 300, 300]
    assert manifest["input"]["mean"] == list(net.config.mean)
    assert manifest["nms"] == {"nms_thresh": 0.45, "nms_topk": 400, "post_nms": 100,
                               "score_thresh": 0.01, "per_class": True}
    for fname, info in manifest["files"].items():
        assert info["size"] == os.path.getsize(os.path.join(out, fname))
        assert len(info["sha256"]) == 64
    # Every BatchNorm of the net follows a convolution: all are folded, none is left.
    num_bn = sum(1 for name in net.collect_params() if name.endswith("running_mean"))
    assert manifest["optimizations"]["batchnorm_folded"] == num_bn > 0
    with open(os.path.join(out, f"{MODEL}-symbol.json")) as f:
        assert '"BatchNorm"' not in f.read()


def test_plain_mxnet_reload_without_gluon_ssd_at_two_sizes(net, bundle, tmp_path):
    out, _ = bundle
    inputs = {"square": noise_images(1, 2), "other": noise_images(2, 1, size=(256, 320))}
    np.savez(tmp_path / "inputs.npz", **{k: deploy.normalize_images(v, net.config.mean,
                                                                      net.config.std)
                                         for k, v in inputs.items()})
    script = textwrap.dedent(f"""
        import sys, warnings
        import mxnet as mx, numpy as np
        warnings.simplefilter("ignore")
        net = mx.gluon.SymbolBlock.imports({out!r} + "/{MODEL}-symbol.json", ["data"],
                                           {out!r} + "/{MODEL}-0000.params")
        inputs = np.load({str(tmp_path / "inputs.npz")!r})
        result = {{}}
        for key in inputs.files:
            for i, o in enumerate(net(mx.nd.array(inputs[key]))):
                result[f"{{key}}{{i}}"] = o.asnumpy()
        np.savez({str(tmp_path / "outputs.npz")!r}, **result)
        assert "gluon_ssd" not in sys.modules, "the reload must not need gluon_ssd"
    """)
    subprocess.run([sys.executable, "-c", script], check=True, cwd=str(tmp_path), timeout=120)
    outputs = np.load(tmp_path / "outputs.npz")
    for key, images in inputs.items():
        expected = net(normalized(images, net))
        assert expected[0].shape == (len(images), 100, 1)
        assert_same_detections(expected, [outputs[f"{key}{i}"] for i in range(3)])


def test_load_checks_and_detects_like_the_source(net, bundle):
    out, manifest = bundle
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


def test_export_after_a_train_mode_pass_is_the_inference_graph(tmp_path):
    net = make_net(seed=1)
    net.hybridize()
    x = normalized(noise_images(5, 2), net)
    with autograd.train_mode():
        train_out = net(x)
    assert train_out[0].shape[-1] == len(CLASSES) + 1  # the cached graph is the training one
    deploy.export(net, str(tmp_path), SIZE)
    with open(tmp_path / f"{MODEL}-symbol.json") as f:
        assert "box_nms" in f.read()
    detector = deploy.load(str(tmp_path))
    ids, scores, bboxes = detector(x)
    assert ids.shape == (2, 100, 1) and bboxes.shape == (2, 100, 4)
    assert_same_detections(net(x), (ids, scores, bboxes))


def test_truncated_or_altered_files_are_refused(net, tmp_path):
    out = str(tmp_path)
    deploy.export(net, out, SIZE, name="m")
    params, symbol = os.path.join(out, "m-0000.params"), os.path.join(out, "m-symbol.json")
    with open(params, "rb") as f:
        original = f.read()
    with open(params, "wb") as f:
        f.write(original[:-100])
    with pytest.raises(ValueError, match=r"m-0000\.params has \d+ bytes.*truncated"):
        deploy.load(out)
    with open(params, "wb") as f:  # same size, one byte changed
        f.write(original[:1000] + bytes([original[1000] ^ 1]) + original[1001:])
    with pytest.raises(ValueError, match=r"m-0000\.params sha256 .* altered"):
        deploy.load(out)
    assert deploy.load(out, verify=False).manifest["name"] == "m"  # the check can be skipped
    with open(params, "wb") as f:
        f.write(original)
    assert deploy.load(out).classes == CLASSES
    with open(symbol) as f:
        text = f.read()
    with open(symbol, "w") as f:
        f.write(text.replace('"0.45"', '"0.95"', 1) if '"0.45"' in text else text + " ")
    with pytest.raises(ValueError, match=r"m-symbol\.json"):
        deploy.load(out)
    os.remove(symbol)
    with pytest.raises(FileNotFoundError, match=r"m-symbol\.json is listed .* missing"):
        deploy.load(out)


def test_missing_or_damaged_manifest(net, tmp_path):
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        deploy.load(str(tmp_path))
    out = str(tmp_path / "b")
    deploy.export(net, out, SIZE)
    path = os.path.join(out, deploy.MANIFEST)
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text[: len(text) // 2])
    with pytest.raises(ValueError, match="not valid JSON"):
        deploy.load(out)
    os.remove(path)
    with pytest.raises(FileNotFoundError, match="did not finish"):
        deploy.load(out)


def test_failed_export_keeps_the_previous_bundle_and_no_temporary_file(net, tmp_path,
                                                                       monkeypatch):
    out = str(tmp_path)
    before = deploy.export(net, out, SIZE, name="m")
    export_module = sys.modules["gluon_ssd.deploy.export"]

    def broken(*args, **kwargs):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(export_module, "export_onnx", broken)
    with pytest.raises(RuntimeError, match="interrupted"):
        deploy.export(net, out, SIZE, name="m", onnx=True)
    # Nothing half-written is left, and the previous bundle still loads, as it was.
    assert sorted(os.listdir(out)) == ["m-0000.params", "m-symbol.json", deploy.MANIFEST]
    assert deploy.load(out).manifest == before


def test_preprocessing_in_the_graph_matches_normalized_input(net, tmp_path):
    manifest = deploy.export(net, str(tmp_path), SIZE, preprocess=True)
    assert manifest["input"]["layout"] == "NHWC" and manifest["input"]["dtype"] == "uint8"
    assert manifest["input"]["shape"] == [1, 300, 300, 3]
    detector = deploy.load(str(tmp_path))
    for images in (noise_images(6, 2), noise_images(7, 1, size=(240, 320))):
        assert_same_detections(net(normalized(images, net)), detector(images))
    with pytest.raises(ValueError, match=r"\(B, H, W, 3\) uint8"):
        detector(np.zeros((1, 3, 300, 300), np.uint8))


def test_fold_batchnorm_keeps_the_maths():
    net = make_net(seed=2)
    x = normalized(noise_images(8, 2), net)
    with autograd.predict_mode():
        sym = net.features(mx.sym.var("data"))[-1]
    params = {p.name: p.data() for p in net.collect_params().values()}
    args = {n: params[n] for n in sym.list_arguments() if n != "data"}
    aux = {n: params[n] for n in sym.list_auxiliary_states()}
    folded, f_args, f_aux, count = deploy.fold_batchnorm(sym, args, aux)
    assert count == 27 and not f_aux  # mobilenet0.25: 27 conv + BN pairs up to stride 32
    run = lambda s, a, u: s.bind(mx.cpu(), {"data": x, **a}, aux_states=u).forward()[0]  # noqa
    expected, actual = run(sym, args, aux).asnumpy(), run(folded, f_args, f_aux).asnumpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize("settings", [
    dict(nms_thresh=0.45, nms_topk=400, post_nms=100, score_thresh=0.01),
    dict(nms_thresh=0.3, nms_topk=50, post_nms=100, score_thresh=0.01),  # post_nms > topk: padded
    dict(nms_thresh=0.5, nms_topk=-1, post_nms=-1, score_thresh=0.2),  # GluonCV's full path
    dict(nms_thresh=1.0, nms_topk=100, post_nms=30, score_thresh=0.01),  # no suppression
])
def test_postprocess_numpy_is_the_decoder(settings):
    classes = 3
    cls, box, anchors = random_heads(classes=classes)  # overlapping anchors: NMS suppresses
    decoder = SSDDecoder(classes, **settings)
    decoder.initialize()
    expected = as_numpy(decoder(cls, box, anchors))
    boxes, scores = decoder.bbox_decoder(box, anchors).asnumpy(), mx.nd.softmax(cls).asnumpy()
    actual = deploy.postprocess_numpy(boxes, scores[..., 1:], **settings)
    assert (expected[0] >= 0).sum() > 20
    if settings["nms_thresh"] < 1:  # NMS really suppresses here
        unsuppressed = deploy.postprocess_numpy(boxes, scores[..., 1:], **dict(settings,
                                                                               nms_thresh=1.0))
        assert not np.array_equal(unsuppressed[2], actual[2])
    for e, a in zip(expected, actual):
        assert e.shape == a.shape
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-5)


def test_detection_agreement():
    ids = np.array([[[0], [1], [-1]]], np.float32)
    scores = np.array([[[0.9], [0.6], [-1]]], np.float32)
    boxes = np.array([[[0, 0, 10, 10], [20, 20, 40, 40], [-1, -1, -1, -1]]], np.float32)
    assert deploy.detection_agreement((ids, scores, boxes), (ids, scores, boxes)) == 1.0
    moved = boxes + np.array([0, 0, 0, 0], np.float32)
    moved[0, 1] += 15  # IoU of the class-1 box with its reference < 0.5: class 1 AP is 0
    assert deploy.detection_agreement((ids, scores, boxes), (ids, scores, moved)) == \
        pytest.approx(0.5)
    low = scores * 0.5  # no reference box reaches 0.5: agreement undefined
    assert np.isnan(deploy.detection_agreement((ids, low, boxes), (ids, scores, boxes)))


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


def test_calibration_images_from_a_folder(tmp_path):
    import matplotlib.image
    images = noise_images(13, 3, size=(50, 70))
    for k, im in enumerate(images):
        matplotlib.image.imsave(tmp_path / f"{k}.png", im)
    (tmp_path / "notes.txt").write_text("not an image")
    loaded = deploy.load_images(str(tmp_path), (40, 60))
    assert loaded.shape == (3, 40, 60, 3) and loaded.dtype == np.uint8
    same_size = deploy.load_images(str(tmp_path), (50, 70))
    np.testing.assert_array_equal(same_size, images)  # PNG is lossless, RGB order kept
    with pytest.raises(ValueError, match="is not a folder"):
        deploy.load_images(str(tmp_path / "missing"), (40, 60))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .jpg"):
        deploy.load_images(str(tmp_path / "empty"), (40, 60))


def test_bad_arguments(net, tmp_path):
    with pytest.raises(ValueError, match="data_shape"):
        deploy.export(net, str(tmp_path), (300,))
    with pytest.raises(ValueError, match="calib_mode"):
        deploy.export(net, str(tmp_path), SIZE, int8=True, calib_images=[], calib_mode="kl")
    with pytest.raises(ValueError, match="needs calib_images"):
        deploy.export(net, str(tmp_path), SIZE, int8=True)
    with pytest.raises(ValueError, match="dtype"):
        deploy.export(net, str(tmp_path), SIZE, dtype="int4")
    with pytest.raises(TypeError, match="gluon_ssd SSD"):
        deploy.export(mx.gluon.nn.Dense(2), str(tmp_path), SIZE)
    with pytest.raises(ValueError, match=r"expected \(H, W, 3\) uint8"):
        deploy.load_images([np.zeros((3, 8, 8), np.float32)], SIZE)


def test_float16_export_is_type_consistent(net, tmp_path):
    # MXNet's CPU has no float16 convolution ("FP16 gemm on cpu not implemented"): running it
    # needs a GPU. Here: the saved graph type-checks with float16 layers and float32 outputs.
    manifest = deploy.export(net, str(tmp_path), SIZE, dtype="float16")
    assert set(manifest["variants"]) == {"float16"} and manifest["input"]["dtype"] == "float16"
    entry = manifest["variants"]["float16"]
    sym = mx.sym.load(str(tmp_path / entry["symbol"]))
    params = {k.split(":", 1)[1]: v.dtype for k, v in
              mx.nd.load(str(tmp_path / entry["params"])).items()}
    conv_weights = [k for k in params if k.endswith("conv0_weight")]
    assert conv_weights and all(params[k] == np.float16 for k in conv_weights)
    anchor_params = net.anchor_generators.collect_params().values()
    assert all(params[p.name] == np.float32 for p in anchor_params)
    _, out_types, _ = sym.infer_type(data="float16", **{k: v for k, v in params.items()
                                                        if k in sym.list_arguments()})
    assert out_types == [np.float32] * 3


def test_export_script_end_to_end(tmp_path):
    import matplotlib.image
    calib = tmp_path / "calib"
    calib.mkdir()
    for k, im in enumerate(noise_images(16, 4, size=(96, 128))):
        matplotlib.image.imsave(calib / f"{k}.jpg", im)
    out = tmp_path / "bundle"
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "scripts", "export.py"), "--model", MODEL,
         "--classes", "a,b", "--data-shape", "128", "160", "--out", str(out), "--int8",
         "--calib-images", str(calib), "--int8-tolerance", "-1", "--preprocess"],
        capture_output=True, text=True, timeout=180, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "RANDOM" in result.stderr
    manifest = json.loads((out / deploy.MANIFEST).read_text())
    assert manifest["classes"] == ["a", "b"] and manifest["input"]["shape"] == [1, 128, 160, 3]
    assert manifest["variants"]["int8"]["num_calib_images"] == 4
    for fname, info in manifest["files"].items():
        assert f"{fname}" in result.stdout and info["sha256"][:16] in result.stdout
    with pytest.warns(UserWarning, match="mxnet int8 has no passed agreement record"):
        detector = deploy.load(str(out), variant="int8")  # --int8-tolerance -1: unchecked
    ids, _, _ = detector(noise_images(17, 1, size=(128, 160)))
    assert ids.shape == (1, 100, 1)

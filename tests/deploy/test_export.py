"""Tests for gluon_ssd.deploy.export: the bundle's files and manifest, a reload in plain MXNet,
the inference graph whatever mode the net ran in, preprocessing in the graph, float16, failures.

The ONNX graph is tested in tests/deploy/test_onnx_export.py, the manifest's checks in
tests/deploy/test_bundle.py, int8 in tests/deploy/test_int8.py. The model
(tests/helpers/deploy_fixtures.py, the ``net`` fixture of tests/deploy/conftest.py) is a seeded
random ``ssd_300_mobilenet0.25_voc`` with 3 classes that gives 100 distinct detections per image,
most above 0.5.
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

from tests.helpers.deploy_fixtures import CLASSES, MODEL, SIZE, make_net, noise_images, normalized
from tests.helpers.detections import as_numpy, assert_same_detections

from gluon_ssd import deploy


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
    with pytest.raises(AssertionError, match=r"^image \d: "):
        assert_same_detections(dets, net(normalized(images[::-1], net)))
    with pytest.raises(AssertionError, match=r"^image \d: "):  # forgetting the mean / std shows
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


def test_bad_arguments(net, tmp_path):
    with pytest.raises(TypeError, match=r"data_shape must be a \(height, width\) pair"):
        deploy.export(net, str(tmp_path), (300,))
    with pytest.raises(ValueError, match="data_shape width must be >= 1, got 0"):
        deploy.export(net, str(tmp_path), (300, 0))
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

"""Tests for gluon_ssd.cli.export (``scripts/export.py``): end to end as a user runs it, and from a
training run (``--run``)."""
import json

import matplotlib.image
import mxnet as mx
import numpy as np
import pytest

from tests.helpers.cli import run_script
from tests.helpers.deploy_fixtures import noise_images
from tests.helpers.trained_run import CLASSES, MODEL, SHAPE

from gluon_ssd import deploy
from gluon_ssd.training import load_trained


def test_export_script_end_to_end(tmp_path):
    calib = tmp_path / "calib"
    calib.mkdir()
    for k, im in enumerate(noise_images(16, 4, size=(96, 128))):
        matplotlib.image.imsave(calib / f"{k}.jpg", im)
    out = tmp_path / "bundle"
    result = run_script("export.py", "--model", MODEL, "--classes", "a,b", "--data-shape", 128,
                        160, "--out", out, "--int8", "--calib-images", calib,
                        "--int8-tolerance", -1, "--preprocess", timeout=180)
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


def test_export_script_takes_a_training_run(run, tmp_path):
    """export.py --run: the run's own architecture, classes and weights go into the bundle."""
    _, run_dir = run
    done = run_script("export.py", "--run", run_dir, "--data-shape", *SHAPE,
                      "--out", tmp_path / "b")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert tuple(manifest["classes"]) == CLASSES
    bundle = deploy.load(str(tmp_path / "b"))
    net, _ = load_trained(str(run_dir))
    x = mx.nd.random.uniform(-1, 1, shape=(1, 3) + SHAPE)
    expected, got = net(x)[1].asnumpy(), bundle(x)[1].asnumpy()
    np.testing.assert_allclose(np.sort(got.ravel()), np.sort(expected.ravel()), atol=1e-4)
    refused = run_script("export.py", "--run", run_dir, "--classes", "a", "--data-shape", *SHAPE,
                         "--out", tmp_path / "c")
    assert refused.returncode == 2 and "--run brings its own" in refused.stderr

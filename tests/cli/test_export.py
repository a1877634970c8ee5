"""Tests for gluon_ssd.cli.export (``scripts/export.py``): end to end as a user runs it, and from a
training run (``--run``)."""
import json
import subprocess
import sys

import pytest

from tests.helpers.deploy_fixtures import MODEL, noise_images
from tests.helpers.paths import REPO, script

from gluon_ssd import deploy


def test_export_script_end_to_end(tmp_path):
    import matplotlib.image
    calib = tmp_path / "calib"
    calib.mkdir()
    for k, im in enumerate(noise_images(16, 4, size=(96, 128))):
        matplotlib.image.imsave(calib / f"{k}.jpg", im)
    out = tmp_path / "bundle"
    result = subprocess.run(
        [sys.executable, script("export.py"), "--model", MODEL,
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

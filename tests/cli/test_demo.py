"""The main job end to end in its quick form: data, training, evaluation, export, plain reload."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = [pytest.mark.slow]


def test_demo_quick_runs_the_whole_pipeline(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "demo.py"), "--quick",
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["quick"] is True
    assert 0 <= metrics["voc07_map"] <= 1 and 0 <= metrics["voc_map"] <= 1
    assert set(metrics["per_class"]) == {"circle", "square", "triangle"}
    assert metrics["dataset"]["num_images"] == {"train": 64, "val": 16}
    # The bundle reloaded by plain MXNet gives the trained network's confident detections (after
    # one epoch there may be none: tests/test_deploy.py checks reload equality in depth).
    export = metrics["export"]
    assert export["max_box_difference_px"] < 1e-2 and export["compared_detections"] >= 0
    assert export["agreement_voc07_map"] is None or export["agreement_voc07_map"] > 0.99
    assert 0 <= export["int8_voc07_map"] <= 1  # the int8 graph of the bundle ran over val
    for name in ("pr.png", "detections.png", "train/training.png", "train/log.csv",
                 "train/latest.json", "export/manifest.json"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "detections.png").read_bytes()[:4] == b"\x89PNG"
    assert metrics["timings"]["total_s"] > 0

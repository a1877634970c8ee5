"""scripts/bench.py: a --quick run end to end (its parts: tests/test_benchmark_*.py)."""
import json
import os
import subprocess
import sys

import pytest

from gluon_ssd import deploy

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "scripts", "bench.py")
PNG = b"\x89PNG\r\n\x1a\n"

pytestmark = [pytest.mark.gluoncv, pytest.mark.slow]


def test_quick_run_reports_every_variant_and_training(tmp_path):
    out, png = tmp_path / "bench.json", tmp_path / "bench.png"
    done = subprocess.run([sys.executable, SCRIPT, "--quick", "--repeats", "2", "--out", str(out),
                           "--plot", str(png)], capture_output=True, text=True, timeout=300,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["matmul_ceiling_gflops"] > 0
    (row,) = result["inference"]
    assert row["model"] == "ssd_300_mobilenet0.25_voc" and row["batch"] == 1
    assert row["repeats"] == 2 and row["flops"] == result["models"][0]["flops_per_image"]
    assert result["models"][0]["gluoncv_flops_per_image"] == row["flops"]  # same architecture
    expected = ["gluoncv", "ours", "exported", "int8", "onnx", "onnx_static", "openvino",
                "openvino_bf16", "openvino_static", "onnx_int8", "onnx_static_int8",
                "openvino_int8"]
    if not deploy.has_bf16():  # left out, and said so
        expected.remove("openvino_bf16")
        assert "OpenVINO bf16 not measured: CPU has no bf16 units" in done.stdout
    assert list(row["variants"]) == expected
    for entry in row["variants"].values():
        assert len(entry["runs_ms"]) == 2 and entry["ms"] > 0
        assert abs(entry["x_floor"] - entry["ms"] / row["floor_ms"]) < 1e-9
    assert row["variants"]["gluoncv"]["x_gluoncv"] == 1.0
    assert result["cpu_isa_summary"] == deploy.isa_summary() and "CPU ISA: " in done.stdout
    (train,) = result["training"]
    assert train["batch"] == 2 and train["ours_images_per_s"] > 0
    assert abs(train["ratio"] - train["ours_images_per_s"] / train["gluoncv_images_per_s"]) < 1e-9
    assert train["pipeline_images_per_s"] > 0
    assert "ours/GluonCV" in done.stdout
    assert png.read_bytes()[:8] == PNG

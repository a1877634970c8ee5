"""Tests for gluon_ssd.cli.bench (``scripts/bench.py``): a --quick run end to end (its parts:
tests/benchmark/)."""
import json
import statistics

import pytest

from tests.helpers.cli import run_script

from gluon_ssd import deploy

PNG = b"\x89PNG\r\n\x1a\n"

pytestmark = [pytest.mark.gluoncv, pytest.mark.slow]


def test_quick_run_reports_every_variant_and_training(tmp_path):
    out, png = tmp_path / "bench.json", tmp_path / "bench.png"
    done = run_script("bench.py", "--quick", "--repeats", 2, "--out", out, "--plot", png)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    (row,) = result["inference"]
    # The floor: the batch's FLOPs at the measured matrix-multiply ceiling.
    assert row["floor_ms"] == pytest.approx(1e3 * row["flops"] /
                                            (1e9 * result["matmul_ceiling_gflops"]))
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
        assert len(entry["runs_ms"]) == 2
        assert entry["ms"] == pytest.approx(statistics.median(entry["runs_ms"]))  # the median
        assert entry["gflops"] == pytest.approx(row["flops"] / entry["ms"] / 1e6)
        assert abs(entry["x_floor"] - entry["ms"] / row["floor_ms"]) < 1e-9
    assert row["variants"]["gluoncv"]["x_gluoncv"] == 1.0
    assert result["cpu_isa_summary"] == deploy.isa_summary() and "CPU ISA: " in done.stdout
    (train,) = result["training"]
    assert train["batch"] == 2
    # Images per second of the median step, each side.
    for side in ("ours", "gluoncv"):
        steps_ms = train[f"{side}_steps_ms"]
        assert train[f"{side}_images_per_s"] == pytest.approx(
            2 / (statistics.median(steps_ms) / 1e3))
    assert abs(train["ratio"] - train["ours_images_per_s"] / train["gluoncv_images_per_s"]) < 1e-9
    assert train["pipeline_images"] == 8  # --quick: 8 pipeline images
    assert "ours/GluonCV" in done.stdout
    assert png.read_bytes()[:8] == PNG

"""gluon_ssd.benchmark.report: the machine line, the tables, the targets and the JSON record."""
import json

import mxnet as mx

from tests.helpers.benchmark_rows import INFO, ROW, TRAIN

from gluon_ssd import deploy
from gluon_ssd.benchmark import report


def test_machine_line_names_the_cpu_isa_runtimes_and_load():
    line = report.machine_line(mx.cpu(), (2.5, 0, 0), (3.25, 0, 0), 7.4)
    assert line.startswith(f"mxnet {mx.__version__}, ")
    assert f"ctx cpu(0); CPU ISA: {deploy.isa_summary()}; onnxruntime " in line
    assert line.endswith("load average (1 min) 2.50 at the start, 3.25 at the end; wall time 7 s")


def test_inference_table(capsys):
    report.print_inference([INFO], [ROW], 92.1, 10)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("Matrix-multiply ceiling (numpy float32 2048x2048, best of 5): "
                      "92.1 GFLOP/s")
    assert "ssd_300_mobilenet0.25_voc: 0.39 GFLOP per image (GluonCV's graph: same)" in out
    assert "  trainable parameters: GluonCV 3,254,077, ours 3,254,078 (DIFFERENT)" in out
    assert ("  export 1.1 s, 35 BatchNorm folded; int8 agreement with fp32 (mAP): n/a (no fp32 "
            "detection >= 0.5)") in out
    assert "  OpenVINO bf16 not measured: CPU has no bf16 units (x86_64 avx2)" in out
    header = out.index(next(line for line in out if line.startswith("model ")))
    assert out[header + 1] == "-" * len(out[header])
    # Columns as wide as their widest cell ("ssd_300_mobilenet0.25_voc", "x GluonCV", ...), one
    # space apart, numbers right-aligned (gluon_ssd.utils.tables.format_table).
    assert out[header + 2] == ("ssd_300_mobilenet0.25_voc     1 GluonCV fp32      32.1     1.000 "
                               "   12.1   13.1      4.2    7.64")
    assert out[header + 3].split()[2:6] == ["ours", "int8", "4.9", "-"]
    assert out[-1].startswith("Median of 10 timed runs per variant at batch 1, 3 at larger")


def test_training_table(capsys):
    report.print_training([TRAIN])
    out = capsys.readouterr().out.splitlines()
    assert out[2] == ("ssd_300_mobilenet0.25_voc     2  300         21.21      23.57        1.111"
                      "      171.6")
    assert "median of 3 steps" in out[-1] and "batchify of 8 images" in out[-1]
    report.print_training([])
    assert len(capsys.readouterr().out.splitlines()) == 2  # header and rule only


def test_json_record(tmp_path):
    path = tmp_path / "r.json"
    results = {"load_average": {"start": (1.0, 2.0, 3.0), "end": (1.5, 2.0, 3.0)},
               "wall_s": 7.0, "ceiling": 92.1, "models": [INFO], "inference": [ROW],
               "training": [TRAIN]}
    report.write_json(str(path), results, mx.cpu(), {"mode": "all", "quick": True})
    record = json.loads(path.read_text())
    assert list(record) == ["mxnet", "cpus", "ctx", "cpu_isa", "cpu_isa_summary", "runtimes",
                            "load_average", "wall_s", "matmul_ceiling_gflops", "flops_method",
                            "nms", "sgd", "args", "models", "inference", "training",
                            "target_assignment"]
    assert record["target_assignment"] == []  # no target-assignment rows were measured
    assert record["cpu_isa_summary"] == deploy.isa_summary() and record["ctx"] == "cpu(0)"
    assert record["matmul_ceiling_gflops"] == 92.1 and record["args"]["quick"] is True
    assert record["load_average"]["start"] == [1.0, 2.0, 3.0]

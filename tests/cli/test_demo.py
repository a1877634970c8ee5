"""Tests for gluon_ssd.cli.demo (``scripts/demo.py``): the main job end to end in its quick form
(data, training, evaluation, export, plain reload), its numbers recomputed here from its files."""
import json

import mxnet as mx
import numpy as np
import pytest
from gluoncv.utils.metrics.voc_detection import VOC07MApMetric

from tests.helpers.cli import run_script
from tests.helpers.detections import assert_same_detections

from gluon_ssd import deploy
from gluon_ssd.data import VOCDataset
from gluon_ssd.cli.demo import INT8_MIN_AGREEMENT, _int8_check, _int8_summary
from gluon_ssd.data.synthetic import CLASSES
from gluon_ssd.training import load_trained

pytestmark = [pytest.mark.slow]


def _voc07_map(detect, images, labels):
    """GluonCV's VOC07 mAP of ``detect`` (a callable on a normalised batch) over the images."""
    metric = VOC07MApMetric(iou_thresh=0.5, class_names=list(CLASSES))
    ids, scores, boxes = (o.asnumpy() if isinstance(o, mx.nd.NDArray) else np.asarray(o)
                          for o in detect(images))
    for k, label in enumerate(labels):
        metric.update(boxes[k:k + 1], ids[k:k + 1, :, 0], scores[k:k + 1, :, 0],
                      label[None, :, :4], label[None, :, 4], label[None, :, 5])
    return metric.get()[1][-1]


def test_demo_quick_runs_the_whole_pipeline(tmp_path):
    out = tmp_path / "demo"
    proc = run_script("demo.py", "--quick", "--out", out, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["quick"] is True
    assert set(metrics["per_class"]) == {"circle", "square", "triangle"}
    assert metrics["dataset"]["num_images"] == {"train": 64, "val": 16}
    for name in ("pr.png", "detections.png", "train/training.png", "train/log.csv",
                 "train/latest.json", "export/manifest.json", "report.html",
                 "worst_false_positives.png", "worst_missed.png", "confusion_matrix.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "detections.png").read_bytes()[:4] == b"\x89PNG"
    # The report of the same evaluation: its confusion matrix counts the 16 images' boxes.
    report = json.loads((out / "report.json").read_text())
    assert report["num_images"] == 16 and report["metrics"]["voc07_map"] == metrics["voc07_map"]
    boxes = sum(entry["num_gt"] for entry in report["per_class"].values())
    assert sum(map(sum, report["confusion"]["counts"][:3])) == boxes > 0
    stages = ("generate_data_s", "train_s", "evaluate_s", "export_reload_s")
    # Each timing is rounded to 0.1 s: the total is at least the stages' sum, up to rounding.
    assert metrics["timings"]["total_s"] >= sum(metrics["timings"][k] for k in stages) - 0.25

    # Recomputed from the files: the validation images, the run's network, the bundle's graphs.
    val = VOCDataset(str(out / "data"), CLASSES, "val")
    items = [val[k] for k in range(len(val))]
    manifest = deploy.read_manifest(str(out / "export"))
    images = deploy.normalize_images([image.asnumpy() for image, _ in items],
                                     manifest["input"]["mean"], manifest["input"]["std"])
    labels = [label for _, label in items]
    x = mx.nd.array(images)
    # The bundle's fp32 graph in plain MXNet (no gluon_ssd code), scored by GluonCV's metric,
    # gives the demo's VOC07 mAP (folded BatchNorm: float noise in the scores).
    plain = mx.gluon.SymbolBlock.imports(str(out / "export" / "demo_ssd-symbol.json"), ["data"],
                                         str(out / "export" / "demo_ssd-0000.params"))
    assert metrics["voc07_map"] == pytest.approx(_voc07_map(plain, x, labels), abs=1e-3)
    # The int8 graph of the bundle, scored the same way.
    int8 = deploy.load(str(out / "export"), variant="int8")
    assert metrics["export"]["int8_voc07_map"] == pytest.approx(
        _voc07_map(int8, images, labels), abs=1e-6)
    # The plain reload detects like the trained network on the 12 images the demo compares;
    # compared_detections is the network's count of detections scoring >= 0.5 there.
    net, _ = load_trained(str(out / "train"))
    expected, got = net(x[:12]), plain(x[:12])
    assert_same_detections(expected, got, score_atol=1e-4, box_atol=1e-2)
    ids, scores = expected[0].asnumpy(), expected[1].asnumpy()
    export = metrics["export"]
    assert export["compared_detections"] == int(((ids >= 0) & (scores >= 0.5)).sum())
    assert export["max_box_difference_px"] < 1e-2
    assert export["agreement_voc07_map"] is None or export["agreement_voc07_map"] > 0.99


def test_an_unmeasurable_int8_agreement_is_recorded_as_such():
    check = _int8_check(None)
    assert check["passed"] is None and "no detection scoring >= 0.5" in check["unmeasured"]
    assert _int8_summary(check).startswith("agreement with fp32 unmeasured")


def test_measured_agreements_pass_or_fail_against_the_minimum():
    assert INT8_MIN_AGREEMENT == 0.8
    assert _int8_check(0.9)["passed"] is True and _int8_check(0.7)["passed"] is False
    assert "BELOW 0.8" in _int8_summary(_int8_check(0.7))

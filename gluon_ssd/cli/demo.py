"""The main job (`make demo`): generate data, train an SSD from scratch, evaluate, export, reload.

On the embedded default (no downloads):

1. writes a synthetic VOC-layout dataset of shapes (``gluon_ssd.data.synthetic``);
2. trains a MobileNet-0.25 SSD at 256x256 from scratch on the 2 CPU cores (a custom
   :class:`gluon_ssd.SSDConfig`: the zoo's mobilenet0.25 design with sizes for 256 px and steps
   from the real strides), with progress bars, a CSV log and a loss/mAP plot;
3. evaluates VOC07 11-point and VOC area mAP on the validation split, per class, with a
   precision-recall plot, and writes the evaluation report from the same pass (confusion matrix,
   TIDE error breakdown, size bands, worst cases: ``report.html``, docs/evaluation.md);
4. exports the inference graph with :func:`gluon_ssd.deploy.export`, reloads it with plain
   ``mx.gluon.SymbolBlock.imports`` and checks its detections against the trained network; the
   bundle also holds an int8 graph calibrated on 32 training images, evaluated on the validation
   split like the fp32 one;
5. draws the reloaded model's detections on validation images (``detections.png``).

Writes ``OUT/metrics.json`` (``voc07_map``, ``voc_map``, per-class AP, timings, export check), and
``OUT/train/log.csv``, ``training.png``, ``pr.png``, ``detections.png``, ``export/``, and
``OUT/report.html``, ``report.json`` with their pictures.
"""
import argparse
import sys
import json
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402

from .. import SSDConfig, deploy, viz, zoo  # noqa: E402
from .runner import HelpFormatter, interactive, run  # noqa: E402
from ..data import VOCDataset  # noqa: E402
from ..data.synthetic import CLASSES, generate_voc  # noqa: E402
from ..evaluation import evaluate, write_report  # noqa: E402
from ..utils.fileio import atomic_write_json  # noqa: E402
from ..training import TrainConfig, fit  # noqa: E402

SIDE = 256
INT8_MIN_AGREEMENT = 0.8   # int8 vs fp32 detections (VOC07 mAP) a trained demo model reaches
# The zoo's ssd_300_mobilenet0.25 design (taps at strides 16 and 32, half-width extras with BN) at
# 256 px: maps 16, 8, 4, 2, 1, so five layers, steps = the real strides. Sizes: the generator's
# objects are 15%-60% of the side (38-154 px); s_k from 0.12 to 0.72 of 256 in equal steps.
DEMO_CONFIG = SSDConfig(
    backbone="mobilenet0.25", base_size=SIDE, from_layers=(16, 32, "", "", ""),
    num_filters=(-1, -1, 256, 256, 128), strides=(-1, -1, 2, 2, 2), pads=(-1, -1, 1, 1, 1),
    sizes=(31, 61, 92, 123, 154, 184), ratios=((1, 2, 0.5),) * 5,
    notes="make demo: synthetic shapes at 256 px")


def _stage(timings, name, start):
    timings[name] = round(time.perf_counter() - start, 1)
    print(f"[demo] {name}: {timings[name]} s", flush=True)


def _detection_difference(ref, got, min_score=0.5):
    """Largest box difference (px) between matching confident detections of two detectors.

    The export folds BatchNorm into convolutions, which moves scores by float noise (~1e-7), so two
    same-class detections with nearly equal scores may swap places or suppress each other the other
    way. Each reference detection scoring at least ``min_score`` is matched to the exported one of
    the same class and score (within 1e-4) whose box is closest. Returns (difference, count);
    the difference is inf when one has no match.
    """
    worst, count = 0.0, 0
    for b in range(ref[0].shape[0]):
        for k in np.flatnonzero((ref[0][b, :, 0] >= 0) & (ref[1][b, :, 0] >= min_score)):
            match = (got[0][b, :, 0] == ref[0][b, k, 0]) & (abs(got[1][b, :, 0] - ref[1][b, k, 0])
                                                              < 1e-4)
            count += 1
            if not match.any():
                return float("inf"), count
            worst = max(worst, float(np.abs(got[2][b, match] - ref[2][b, k]).max(axis=1).min()))
    return worst, count


def _arguments(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--num-train", type=int, default=2400)
    p.add_argument("--num-val", type=int, default=300)
    # The recipe: batch 16 shares each step's fixed costs (targets, loss, optimizer) among more
    # images, and Adam at a high learning rate (6e-3) reaches in 12 epochs what lower rates need
    # more epochs for; its timings and the learning-rate sweep: docs/benchmarks.md.
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=6e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true",
                   help="a tiny run (checks the pipeline, not the accuracy): 64 images, 1 epoch")
    args = p.parse_args(argv)
    if args.quick:
        args.num_train, args.num_val, args.epochs = 64, 16, 1
    for flag in ("num_train", "num_val", "epochs", "batch_size"):
        if getattr(args, flag) < 1:
            raise ValueError(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    if args.num_train < args.batch_size:
        raise ValueError(f"--num-train ({args.num_train}) must be at least --batch-size "
                         f"({args.batch_size})")
    return args


def _train(args, out, train, val):
    net = zoo.build_ssd(DEMO_CONFIG, CLASSES)
    print(net.describe(SIDE, SIDE))
    # The demo's own recipe, every field explicit (scripts/train.py defaults to the SSD paper's,
    # which suits ImageNet-initialised training on real photos, not shapes from scratch).
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         optimizer="adam", lr_schedule="cosine", lr_steps=(), warmup_epochs=0.5,
                         momentum=0.9, wd=5e-4, data_shape=(SIDE, SIDE), augment="flip",
                         seed=args.seed, val_every=max(1, args.epochs // 3), keep_checkpoints=2,
                         num_workers=1, thread_pool=True, val_metric="voc07")
    return net, fit(net, train, config, os.path.join(out, "train"), val_dataset=val,
                    progress=interactive())


def _evaluate(net, val, out):
    result = evaluate(net, val, (SIDE, SIDE), batch_size=16, keep_images=True)
    report = write_report(out, result, val, CLASSES,
                          meta={"source": "make demo (trained network)",
                                "data": "synthetic shapes, val split",
                                "data_shape": f"{SIDE}x{SIDE}"})
    result.pop("images")
    print(f"[demo] report: AP50 {report['AP50']:.4f}, largest dAP "
          + max(report["errors"].items(), key=lambda kv: kv[1]["dAP"])[0]
          + f"; wrote {os.path.join(out, 'report.html')}", flush=True)
    ax = viz.plot_pr_curves([result["pr"][c]["precision"] for c in CLASSES],
                            [result["pr"][c]["recall"] for c in CLASSES], CLASSES,
                            aps=[result["per_class"][c]["voc07_ap"] for c in CLASSES])
    viz.save_figure(ax.figure, os.path.join(out, "pr.png"))
    plt.close(ax.figure)
    return result


def _export_and_reload(args, net, train, val, bundle):
    """Export, reload with plain MXNet, compare; the int8 graph's mAP. Returns a record."""
    calib = [train[i][0].asnumpy() for i in range(min(32, len(train)))]
    # Exported unchecked, then the agreement recorded against INT8_MIN_AGREEMENT: a small budget
    # (or --quick) may leave no confident detection to measure it on, or a low one; the run's
    # results are kept either way. bf16 (OpenVINO) only where the CPU has bf16 units.
    bf16 = deploy.has_bf16() and "openvino" in deploy.installed_runtimes()
    manifest = deploy.export(net, bundle, data_shape=(SIDE, SIDE), name="demo_ssd", int8=True,
                             calib_images=calib, int8_tolerance=None,
                             onnx="onnx" in deploy.installed_runtimes(), bf16=bf16,
                             bf16_tolerance=None)
    # Plain MXNet: the bundle's symbol and params, no gluon_ssd code involved.
    plain = mx.gluon.SymbolBlock.imports(os.path.join(bundle, "demo_ssd-symbol.json"), ["data"],
                                         os.path.join(bundle, "demo_ssd-0000.params"))
    images = [val[i][0].asnumpy() for i in range(min(12, len(val)))]
    batch = mx.nd.array(deploy.normalize_images(images, DEMO_CONFIG.mean, DEMO_CONFIG.std))
    dets = [o.asnumpy() for o in plain(batch)]
    ref = [o.asnumpy() for o in net(batch)]
    export_diff, compared = _detection_difference(ref, dets)
    agreement = deploy.detection_agreement(ref, dets)
    int8 = evaluate(deploy.load(bundle, variant="int8"), val, (SIDE, SIDE), batch_size=16,
                    mean=DEMO_CONFIG.mean, std=DEMO_CONFIG.std)
    return {"bundle": bundle, "compared_detections": compared,
            "int8_check": _int8_check(manifest["variants"]["int8"]["agreement"]["map"]),
            "max_box_difference_px": export_diff,
            "agreement_voc07_map": None if np.isnan(agreement) else agreement,
            "int8_agreement_on_calibration": manifest["variants"]["int8"]["agreement"],
            "bf16_agreement_on_calibration": manifest["variants"].get("onnx", {}).get(
                "precisions", {}).get("bf16"),
            "onnx_int8_agreement_on_calibration": manifest["variants"].get("onnx", {}).get(
                "precisions", {}).get("int8"), "cpu_isa": deploy.isa_summary(),
            "int8_voc07_map": int8["voc07_map"], "int8_voc_map": int8["voc_map"]}, images, dets


def _int8_check(agreement):
    """The int8 agreement against :data:`INT8_MIN_AGREEMENT`: passed, failed or unmeasured."""
    if agreement is None:
        return {"min_required": INT8_MIN_AGREEMENT, "agreement": None, "passed": None,
                "unmeasured": f"the trained model has no detection scoring >= "
                              f"{deploy.AGREEMENT_SCORE} on the calibration images (train longer)"}
    return {"min_required": INT8_MIN_AGREEMENT, "agreement": agreement,
            "passed": agreement >= INT8_MIN_AGREEMENT}


def _int8_summary(check):
    if check["passed"] is None:
        return f"agreement with fp32 unmeasured: {check['unmeasured']}"
    return (f"agreement with fp32 {check['agreement']:.3f} "
            f"({'>=' if check['passed'] else 'BELOW'} {check['min_required']})")


def _picture(images, dets, result, path):
    ids, scores, bboxes = dets
    fig, axes = plt.subplots(3, 4, figsize=(14, 10.5))
    for k, axis in enumerate(axes.ravel()):
        if k < len(images):
            viz.plot_detections(images[k], bboxes[k], scores[k], ids[k], class_names=CLASSES,
                                thresh=0.5, ax=axis)
        axis.axis("off")
    fig.suptitle(f"exported model reloaded with plain MXNet, validation images "
                 f"(VOC07 mAP {result['voc07_map']:.3f})")
    fig.tight_layout()
    viz.save_figure(fig, path)
    plt.close(fig)


def main(argv=None):
    args = _arguments(argv)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    timings, total = {}, time.perf_counter()

    start = time.perf_counter()
    data_root = os.path.join(out, "data")
    summary = generate_voc(data_root, args.num_train, args.num_val, image_size=(SIDE, SIDE),
                           seed=args.seed)
    train = VOCDataset(data_root, classes=CLASSES, split="train")
    val = VOCDataset(data_root, classes=CLASSES, split="val")
    _stage(timings, "generate_data_s", start)
    start = time.perf_counter()
    net, history = _train(args, out, train, val)
    _stage(timings, "train_s", start)
    start = time.perf_counter()
    result = _evaluate(net, val, out)
    _stage(timings, "evaluate_s", start)
    start = time.perf_counter()
    export, images, dets = _export_and_reload(args, net, train, val, os.path.join(out, "export"))
    _stage(timings, "export_reload_s", start)
    _picture(images, dets, result, os.path.join(out, "detections.png"))

    timings["total_s"] = round(time.perf_counter() - total, 1)
    metrics = {
        "voc07_map": result["voc07_map"], "voc_map": result["voc_map"],
        "per_class": result["per_class"], "num_val_images": result["num_images"],
        "dataset": {k: v for k, v in summary.items() if k != "split_files"},
        "train": {"epochs": args.epochs, "final_loss": history[-1]["loss"],
                  "train_images_per_s": history[-1]["train_images_per_s"],
                  "data_images_per_s": history[-1]["data_images_per_s"]},
        "export": export, "timings": timings, "quick": bool(args.quick),
    }
    atomic_write_json(json.loads(json.dumps(metrics, default=str)),
                      os.path.join(out, "metrics.json"))
    agreement = export["agreement_voc07_map"]
    agreement = float("nan") if agreement is None else agreement
    print(f"[demo] VOC07 mAP {result['voc07_map']:.4f} (VOC area mAP {result['voc_map']:.4f}) on "
          f"{result['num_images']} validation images; exported bundle reloaded with plain MXNet: "
          f"{export['compared_detections']} confident detections compared, max box difference "
          f"{export['max_box_difference_px']:.2e} px, agreement mAP "
          f"{agreement:.4f}; int8 graph: VOC07 mAP "
          f"{export['int8_voc07_map']:.4f}, {_int8_summary(export['int8_check'])}")
    print(f"[demo] total {timings['total_s']} s; wrote {out}/metrics.json")


if __name__ == "__main__":
    sys.exit(run(main))

"""What a run prints and saves: the machine line (CPU ISA, runtimes, load), the tables, the
targets, and the JSON record."""
import importlib
import json
import os
import platform

import mxnet as mx

from .. import deploy
from .flops import FLOPS_METHOD
from .nets import NMS, SGD
from .timing import inference_plan
from .variants import LABELS

__all__ = ["runtime_versions", "machine_line", "print_inference", "print_training",
           "write_json"]


def _fmt(value, spec, missing="-"):
    return missing if value is None else format(value, spec)


def runtime_versions():
    """'onnxruntime X, openvino Y' for the runtimes installed."""
    found = []
    for name in ("onnxruntime", "openvino"):
        try:
            found.append(f"{name} {importlib.import_module(name).__version__}")
        except ImportError:
            found.append(f"{name} not installed")
    return ", ".join(found)


def machine_line(ctx, load_start, load_end, wall):
    """MXNet, CPU and its ISA, runtimes, load average at the start and end, wall time."""
    return (f"mxnet {mx.__version__}, {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} CPUs, ctx {ctx}; CPU ISA: {deploy.isa_summary()}; "
            f"{runtime_versions()}; load average (1 min) {load_start[0]:.2f} at the start, "
            f"{load_end[0]:.2f} at the end; wall time {wall:.0f} s")


def _print_model(info):
    check = ""
    if "gluoncv_flops_per_image" in info:
        same = info["gluoncv_flops_per_image"] == info["flops_per_image"]
        check = (" (GluonCV's graph: same)" if same else
                 f" (GluonCV's graph: {info['gluoncv_flops_per_image'] / 1e9:.2f} GFLOP, "
                 f"DIFFERENT)")
    print(f"{info['model']}: {info['flops_per_image'] / 1e9:.2f} GFLOP per image{check}")
    if "gluoncv_params" in info:
        same = "same" if info["gluoncv_params"] == info["ours_params"] else "DIFFERENT"
        print(f"  trainable parameters: GluonCV {info['gluoncv_params']:,}, ours "
              f"{info['ours_params']:,} ({same})")
    if "export_s" in info:
        agreement = info.get("int8_agreement", "not exported")
        agreement = "n/a (no fp32 detection >= 0.5)" if agreement is None else (
            agreement if isinstance(agreement, str) else f"{agreement:.3f}")
        print(f"  export {info['export_s']:.1f} s, {info['batchnorm_folded']} BatchNorm "
              f"folded; int8 agreement with fp32 (mAP): {agreement}")
    for variant, why in info.get("skipped", {}).items():
        print(f"  {LABELS[variant]} not measured: {why}")


def print_inference(infos, rows, ceiling, repeats):
    """The ceiling, each model's FLOPs / parameters / export, and one line per variant and row."""
    print(f"Matrix-multiply ceiling (numpy float32 2048x2048, best of 5): {ceiling:.1f} GFLOP/s")
    print("FLOPs per image: 2 x multiply-adds of Convolution/FullyConnected nodes, by symbolic "
          "shape inference\n")
    for info in infos:
        _print_model(info)
    print()
    header = (f"{'model':<28} {'batch':>5} {'variant':<14} {'median ms':>10} {'x GluonCV':>9} "
              f"{'GFLOP/s':>8} {'% ceil':>7} {'floor ms':>9} {'x floor':>8}")
    print(header)
    print("-" * len(header))
    for row in rows:
        for v, e in row["variants"].items():
            print(f"{row['model']:<28} {row['batch']:>5} {LABELS[v]:<14} {e['ms']:>10.1f} "
                  f"{_fmt(e['x_gluoncv'], '.3f'):>9} {e['gflops']:>8.1f} "
                  f"{100 * e['fraction_of_ceiling']:>7.1f} {row['floor_ms']:>9.1f} "
                  f"{e['x_floor']:>8.2f}")
    print(f"\nMedian of {repeats} timed runs per variant at batch 1, "
          f"{inference_plan(2, repeats, 0)[0]} at larger batches; x floor = latency / "
          f"(FLOPs x batch / ceiling).")


def print_training(rows):
    """One line per model: images/s of both steps, their ratio, the data pipeline's."""
    header = (f"{'model':<28} {'batch':>5} {'size':>5} {'GluonCV img/s':>14} "
              f"{'ours img/s':>11} {'ours/GluonCV':>13} {'data img/s':>11}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['model']:<28} {r['batch']:>5} {r['input'][2]:>5} "
              f"{r['gluoncv_images_per_s']:>14.2f} {r['ours_images_per_s']:>11.2f} "
              f"{r['ratio']:>13.3f} {r['pipeline_images_per_s']:>11.1f}")
    if rows:
        print(f"\nTraining step: forward + targets + loss + backward + SGD update, median of "
              f"{rows[0]['repeats']} steps; data: loading + transform + batchify of "
              f"{rows[0]['pipeline_images']} images, num_workers=0.")


def write_json(path, results, ctx, options):
    """Save ``results`` (the run's measurements) with the machine, the settings and ``options``."""
    record = {"mxnet": mx.__version__, "cpus": os.cpu_count(), "ctx": str(ctx),
              "cpu_isa": deploy.cpu_isa(), "cpu_isa_summary": deploy.isa_summary(),
              "runtimes": runtime_versions(), "load_average": results["load_average"],
              "wall_s": results["wall_s"], "matmul_ceiling_gflops": results["ceiling"],
              "flops_method": FLOPS_METHOD, "nms": NMS, "sgd": SGD, "args": dict(options),
              "models": results["models"], "inference": results["inference"],
              "training": results["training"],
              "target_assignment": results.get("target_assignment", [])}
    with open(path, "w") as f:
        json.dump(record, f, indent=2)

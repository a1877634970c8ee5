"""A whole run: every model's inference rows and training row, then the report.

:func:`run` takes the options of ``scripts/bench.py`` (all filled in: :data:`DEFAULTS`, or
:data:`QUICK` for a smoke run), measures, prints, and writes the JSON and the plot it is asked
for. The machine is shared: the load average at the start and the end is printed and saved.
"""
import os
import sys
import tempfile
import time

import mxnet as mx
from tqdm import tqdm

from .flops import matmul_ceiling
from .inference import add_ratios, bench_inference
from .nets import base_size
from .plot import plot
from .report import machine_line, print_inference, print_training, write_json
from .targets import CONFIGS as TARGET_CONFIGS
from .targets import bench_targets, print_targets
from .timing import inference_plan, training_plan
from .training import bench_training, make_pipeline_data
from .variants import VARIANTS, prepare_model

__all__ = ["DEFAULT_MODELS", "DEFAULTS", "QUICK", "run"]

DEFAULT_MODELS = ["ssd_300_vgg16_atrous_voc", "ssd_512_resnet50_v1_voc",
                  "ssd_300_mobilenet0.25_voc"]
# Option defaults of a full run and of --quick (options given on the command line win).
DEFAULTS = dict(models=DEFAULT_MODELS, batch_sizes=[1, 8], repeats=10, warmup=2, train_batch=8,
                pipeline_images=64, calib_images=4, target_configs=list(TARGET_CONFIGS),
                objects=30)
# --quick leaves out the per-part table of the anchor-dense configurations (GluonCV's target
# generator alone takes seconds per step at 34,100 anchors).
QUICK = dict(models=["ssd_300_mobilenet0.25_voc"], batch_sizes=[1], repeats=3, warmup=1,
             train_batch=2, pipeline_images=8, calib_images=2, target_configs=[], objects=30)
# What run() assumes for an option left out (besides DEFAULTS).
_UNSET = dict(mode="all", variants=list(VARIANTS), train_size=None, out=None, plot=None)


def _modes(options):
    return options["mode"] in ("inference", "all"), options["mode"] in ("training", "all")


def _total_runs(options):
    """Runs and steps the progress bar counts."""
    inference, training = _modes(options)
    o = options
    total = 0
    if inference:
        total += len(o["models"]) * len(o["variants"]) * sum(
            sum(inference_plan(b, o["repeats"], o["warmup"])) for b in o["batch_sizes"])
    if training:
        total += (len(o["models"]) + len(o["target_configs"])) * 2 * sum(
            training_plan(o["repeats"], o["warmup"]))
    return total


def _measure(options, ceiling, ctx, tmp, progress):
    """(model infos, inference rows, training rows, target-assignment rows)."""
    o = options
    inference, training = _modes(options)
    infos, inference_rows, training_rows, target_rows = [], [], [], []
    if inference:
        for name in o["models"]:
            info, makers = prepare_model(name, o["variants"], o["calib_images"], tmp, ctx,
                                         progress)
            infos.append(info)
            for batch in o["batch_sizes"]:
                row = bench_inference(info, makers, batch, o["repeats"], o["warmup"], ctx,
                                      progress)
                add_ratios(row, ceiling)
                inference_rows.append(row)
            del makers
    if training:
        progress.set_postfix_str("synthetic data")
        dataset = make_pipeline_data(os.path.join(tmp, "voc"), o["pipeline_images"])
        for name in o["models"]:
            size = o["train_size"] or base_size(name)
            training_rows.append(bench_training(name, dataset, size, o["train_batch"],
                                                o["repeats"], o["warmup"], ctx, progress))
        target_rows = bench_targets(o["target_configs"], o["train_batch"], o["objects"],
                                    *training_plan(o["repeats"], o["warmup"]), ctx, progress)
    return infos, inference_rows, training_rows, target_rows


def run(options, ctx=None):
    """Measure, print the report, write ``options['out']`` (JSON) and ``options['plot']`` (PNG).

    ``options``: a mapping of ``scripts/bench.py``'s options (``vars(args)``), saved as the
    JSON's ``args``; one left out takes its value in :data:`DEFAULTS` (``mode='all'``, every
    variant, ``train_size=None``: the base size). Variants run in :data:`~.variants.TABLE` order.
    Returns ``{'inference': rows, 'training': rows, 'target_assignment': rows}`` (the per-part
    table of :mod:`.targets`, in training mode).
    """
    ctx = ctx or mx.cpu()
    options = dict(options)
    for key, value in {**DEFAULTS, **_UNSET}.items():
        options.setdefault(key, value)
    options["variants"] = [v for v in VARIANTS if v in options["variants"]]
    inference, training = _modes(options)
    wall, load_start = time.perf_counter(), os.getloadavg()
    ceiling = matmul_ceiling()
    with tempfile.TemporaryDirectory(prefix="gluon_ssd-bench-") as tmp, \
            tqdm(total=_total_runs(options), desc="bench", unit="run", file=sys.stderr) as bar:
        infos, inference_rows, training_rows, target_rows = _measure(options, ceiling, ctx, tmp,
                                                                     bar)
    wall, load_end = time.perf_counter() - wall, os.getloadavg()

    print(f"\n{machine_line(ctx, load_start, load_end, wall)}\n")
    if inference:
        print_inference(infos, inference_rows, ceiling, options["repeats"])
        print()
    if training:
        print_training(training_rows)
        print()
    if target_rows:
        print_targets(target_rows)
        print()
    if options.get("out"):
        write_json(options["out"], {"load_average": {"start": load_start, "end": load_end},
                                    "wall_s": wall, "ceiling": ceiling, "models": infos,
                                    "inference": inference_rows, "training": training_rows,
                                    "target_assignment": target_rows}, ctx, options)
        print(f"wrote {options['out']}")
    if options.get("plot"):
        plot(inference_rows, training_rows, options["plot"])
        print(f"wrote {options['plot']}")
    return {"inference": inference_rows, "training": training_rows,
            "target_assignment": target_rows}

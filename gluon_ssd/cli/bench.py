"""Speed of gluon_ssd's detectors against GluonCV's identical architectures: inference and training.

One script, two modes (``--mode inference|training|all``, default all; ``--mode serving
--bundle DIR`` measures ``gluon-ssd serve`` instead, see :mod:`gluon_ssd.benchmark.serving`), on random weights (no
downloads). Inference: per model and batch size, the median latency of up to nine variants
(``--variants``: GluonCV fp32 hybridized, ours fp32, ours exported, int8, ONNX Runtime dynamic and
static shape, OpenVINO f32, bf16 where the CPU has bf16 units, and static shape), their ratio to
GluonCV fp32 in the same run, GFLOP/s against a numpy matrix-multiply ceiling measured first.
Training: images/s of our training step and GluonCV's on the same batch, next to the data
pipeline's, and on three anchor-dense configurations the step split into forward / targets /
loss / backward + update with our target assignment and GluonCV's (``--target-configs``). The CPU's ISA, the runtimes and the load average are printed and saved. It reports;
it never asserts a target. What is measured and how: :mod:`gluon_ssd.benchmark`.

Usage::

    python scripts/bench.py --quick
    python scripts/bench.py --mode inference --models ssd_300_vgg16_atrous_voc --batch-sizes 1
    python scripts/bench.py --out bench.json --plot bench.png
"""
import argparse
import sys

from .. import benchmark, zoo
from .runner import HelpFormatter, run

QUICK = benchmark.QUICK


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=HelpFormatter)
    parser.add_argument("--mode", choices=("inference", "training", "all", "serving"),
                        default="all", help="serving (not part of all): gluon-ssd serve on "
                                            "loopback, with --bundle")
    parser.add_argument("--bundle", help="--mode serving: the bundle to serve")
    parser.add_argument("--runtime", default="auto", help="--mode serving: the served runtime")
    parser.add_argument("--requests", type=int, default=160,
                        help="--mode serving: requests per throughput phase")
    parser.add_argument("--load-requests", type=int, default=2000,
                        help="--mode serving: requests of the good/bad load test")
    parser.add_argument("--models", nargs="+",
                        help=f"model names present in both zoos (default "
                             f"{benchmark.DEFAULT_MODELS}; --quick: {QUICK['models']})")
    parser.add_argument("--batch-sizes", nargs="+", type=int,
                        help="inference batch sizes (default 1 8)")
    parser.add_argument("--variants", nargs="+", choices=benchmark.VARIANTS,
                        default=list(benchmark.VARIANTS),
                        help="inference variants (ratios need gluoncv)")
    parser.add_argument("--repeats", type=int,
                        help="timed runs per variant at batch 1, default 10 (larger batches and "
                             "training: max(3, repeats // 3))")
    parser.add_argument("--warmup", type=int,
                        help="untimed runs per variant at batch 1, default 2 (larger batches and "
                             "training: min(warmup, 1))")
    parser.add_argument("--train-batch", type=int, help="training batch size (default 8)")
    parser.add_argument("--train-size", type=int,
                        help="training input side (default the model's base size; GluonCV's VGG "
                             "extras need at least the base size)")
    parser.add_argument("--target-configs", nargs="*", choices=list(benchmark.TARGET_CONFIGS),
                        help="training mode: the anchor-dense mobilenet0.25 configurations whose "
                             "step is timed by part with our and GluonCV's target assignment "
                             "(default all; --quick: none)")
    parser.add_argument("--objects", type=int,
                        help="objects per image in the --target-configs batch (default 30)")
    parser.add_argument("--pipeline-images", type=int,
                        help="synthetic images for the data-pipeline measurement (default 64)")
    parser.add_argument("--calib-images", type=int,
                        help="synthetic images calibrating the int8 graph (default 4)")
    parser.add_argument("--quick", action="store_true",
                        help="defaults for a smoke run: mobilenet0.25 only, batch 1, 3 repeats, "
                             "1 warm-up, training batch 2 on 8 images, 2 calibration images "
                             "(options given explicitly win)")
    parser.add_argument("--out", help="write the results to this JSON file")
    parser.add_argument("--plot", help="save bar charts of the results to this PNG")
    return parser


def parse_options(argv=None):
    """The parsed options, defaults of a full run or of ``--quick`` filled in, checked."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else benchmark.DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.variants = [v for v in benchmark.VARIANTS if v in args.variants]
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be >= 1 and --warmup >= 0")
    if min(args.batch_sizes) < 1 or args.train_batch < 1 or args.calib_images < 1:
        parser.error("batch sizes and --calib-images must be >= 1")
    if args.objects < 1:
        parser.error(f"--objects must be >= 1, got {args.objects}")
    if args.pipeline_images < args.train_batch:
        parser.error(f"--pipeline-images ({args.pipeline_images}) must be >= --train-batch "
                     f"({args.train_batch}): the training batch comes from the pipeline")
    if args.train_size is not None and args.train_size < 32:
        parser.error("--train-size must be >= 32")
    for name in args.models:
        zoo.get_config(name)  # fail early on unknown names, with close matches
    return args


def main(argv=None):
    args = parse_options(argv)
    if args.mode == "serving":
        if not args.bundle:
            raise ValueError("--mode serving needs --bundle DIR (gluon-ssd export --onnx ...)")
        from ..benchmark.serving import run_serving
        run_serving(args.bundle, runtime=args.runtime, requests=args.requests,
                    load_requests=args.load_requests, out=args.out)
        return 0
    return benchmark.run(vars(args))


if __name__ == "__main__":
    sys.exit(run(main))

"""Export a gluon_ssd detector as a deployable bundle (see gluon_ssd.deploy).

Builds the model without downloading anything (``pretrained_base=False``), loads ``--params`` (or
initialises RANDOM weights, for trying the pipeline), exports and lists the files written::

    python scripts/export.py --model ssd_300_mobilenet0.25_voc --params model.params \\
        --data-shape 300 300 --out bundle/ [--int8 --calib-images imgs/] [--onnx [--bf16]] \\
        [--preprocess] [--triton-repo triton/]

The bundle reloads in plain MXNet, and its ONNX graph (``--onnx``: the whole detector, NMS
inside) in ONNX Runtime, OpenVINO or TensorRT::

    mx.gluon.SymbolBlock.imports('bundle/NAME-symbol.json', ['data'], 'bundle/NAME-0000.params')
    onnxruntime.InferenceSession('bundle/NAME.onnx').run(None, {'data': x})  # ids, scores, bboxes

or through ``gluon_ssd.deploy.load('bundle/', runtime='auto')``, whichever is fastest here.
"""
import argparse
import os
import sys

import mxnet as mx

from .. import deploy, zoo
from .context import parse_ctx
from .runner import HelpFormatter, run
from ..weights.store import load_weights
from ..training import load_trained


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=HelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="zoo name, see gluon_ssd.zoo.list_models()")
    source.add_argument("--run", help="a training run folder (scripts/train.py --out, or "
                                      "make demo's runs/demo/train): its latest checkpoint, any "
                                      "architecture")
    parser.add_argument("--params", help="weights saved with net.save_parameters(); default: "
                                         "RANDOM Xavier weights (pipeline tests only)")
    parser.add_argument("--classes", help="comma-separated class names (default: the dataset's)")
    parser.add_argument("--data-shape", nargs=2, type=int, required=True, metavar=("H", "W"),
                        help="input size for tracing and checks (the graph accepts any size)")
    parser.add_argument("--out", required=True, help="bundle folder")
    parser.add_argument("--name", help="file name prefix (default: the model name)")
    parser.add_argument("--int8", action="store_true",
                        help="also write int8 graphs (CPU): oneDNN for MXNet and, with --onnx, "
                             "NAME-int8.onnx (QDQ) for ONNX Runtime (and OpenVINO with "
                             "--static-shape)")
    parser.add_argument("--calib-images", help="folder of calibration images (.jpg/.png/...)")
    parser.add_argument("--calib-mode", choices=deploy.CALIB_MODES, default="naive")
    parser.add_argument("--int8-tolerance", type=float, default=deploy.DEFAULT_INT8_TOLERANCE,
                        help="minimum int8/fp32 detection agreement (mAP); a negative value "
                             "disables the check")
    parser.add_argument("--onnx", action="store_true",
                        help="also write NAME.onnx: the whole detector (per-class NMS inside), "
                             "for ONNX Runtime, OpenVINO, TensorRT")
    parser.add_argument("--bf16", action="store_true",
                        help="with --onnx: measure OpenVINO bf16 against fp32 on --calib-images "
                             "and record it (CPU with avx512_bf16 or amx_bf16 only)")
    parser.add_argument("--static-shape", action="store_true",
                        help="with --onnx: fix the ONNX graph to --data-shape (any batch), anchors "
                             "folded to a constant: faster for small models")
    parser.add_argument("--bf16-tolerance", type=float, default=deploy.DEFAULT_BF16_TOLERANCE,
                        help="minimum bf16/fp32 detection agreement (mAP); a negative value "
                             "records it unchecked")
    parser.add_argument("--preprocess", action="store_true",
                        help="graph input uint8 (B, H, W, 3) RGB, normalized in the graph")
    parser.add_argument("--no-optimize", action="store_true",
                        help="do not fold BatchNorm / use the oneDNN backend")
    parser.add_argument("--triton-repo", metavar="DIR",
                        help="with --onnx: also write a Triton Inference Server model repository "
                             "(DIR/NAME/config.pbtxt, DIR/NAME/1/model.onnx, DIR/README.md)")
    parser.add_argument("--triton-backends", nargs="+", choices=deploy.TRITON_BACKENDS,
                        default=["onnxruntime"], help="Triton backends to write models for")
    parser.add_argument("--triton-max-batch", type=int, default=8,
                        help="max_batch_size of the Triton models")
    parser.add_argument("--ctx", default="cpu", help="cpu or gpuN")
    parser.add_argument("--dtype", choices=deploy.DTYPES, default="float32")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    args.ctx = parse_ctx(args.ctx, single=True)
    if args.int8 and not args.calib_images:
        raise ValueError("--int8 needs --calib-images DIR (images like the ones it will see)")
    if args.static_shape and not args.onnx:
        raise ValueError("--static-shape is an option of the ONNX graph: add --onnx")
    if args.bf16 and not (args.onnx and args.calib_images):
        raise ValueError("--bf16 needs --onnx and --calib-images DIR")
    if args.triton_repo and not args.onnx:
        raise ValueError("--triton-repo serves the ONNX graph: add --onnx")
    net = _load_net(args)
    tolerance = None if args.int8_tolerance < 0 else args.int8_tolerance
    manifest = deploy.export(
        net, args.out, tuple(args.data_shape), name=args.name, preprocess=args.preprocess,
        optimize=not args.no_optimize, int8=args.int8, calib_images=args.calib_images,
        calib_mode=args.calib_mode, int8_tolerance=tolerance, onnx=args.onnx, ctx=args.ctx,
        dtype=args.dtype, bf16=args.bf16,
        bf16_tolerance=None if args.bf16_tolerance < 0 else args.bf16_tolerance,
        static_shape=args.static_shape)
    _print_summary(args, manifest)
    if args.triton_repo:
        for folder in deploy.write_model_repository(args.out, args.triton_repo,
                                                    name=args.name,
                                                    backends=args.triton_backends,
                                                    max_batch_size=args.triton_max_batch):
            print(f"  Triton model: {folder} (config.pbtxt, 1/model.onnx)")


def _load_net(args):
    """The network to export: a run's, or a zoo model with --params (random weights without)."""
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    if args.run:
        if args.params or classes:
            raise ValueError("--run brings its own weights and classes: no --params / --classes")
        net, _ = load_trained(args.run, ctx=args.ctx)
    else:
        net = zoo.get_model(args.model, pretrained_base=False, classes=classes, ctx=args.ctx)
    if args.params:
        load_weights(net, args.params, f"--params for {args.model}", ctx=args.ctx)
    elif not args.run:
        mx.random.seed(0)
        net.initialize(mx.init.Xavier(), ctx=args.ctx)
        print("NOTE: no --params given: the weights are RANDOM (Xavier init). The bundle is only "
              "good for testing the deployment pipeline, not for detecting anything.",
              file=sys.stderr)
    return net


def _print_summary(args, manifest):
    """What was written: input, optimizations, agreement records, files with sizes and sha256."""
    print(f"exported {args.model or args.run} ({len(manifest['classes'])} classes) to {args.out}")
    inp = manifest["input"]
    print(f"  input: {inp['layout']} {inp['dtype']}, traced at {inp['shape']}, any size; "
          f"{inp['normalization']}")
    print(f"  optimizations: {manifest['optimizations']['batchnorm_folded']} BatchNorm folded, "
          f"CPU backend {manifest['optimizations']['cpu_backend']} (at load time)")
    if "int8" in manifest["variants"]:
        agreement = manifest["variants"]["int8"]["agreement"]
        print(f"  int8 agreement with fp32: mAP {agreement['map']} over "
              f"{agreement['num_reference_detections']} reference detections")
    if "onnx" in manifest["variants"]:
        entry = manifest["variants"]["onnx"]
        print(f"  ONNX: {entry['file']} (opset {entry['opset']}, NMS inside, input "
              f"{entry['input']['shape']}, outputs {', '.join(entry['outputs'])})")
        bf16 = entry["precisions"].get("bf16")
        if bf16:
            print(f"  bf16 (OpenVINO) agreement with fp32: mAP {bf16['agreement']} over "
                  f"{bf16['num_reference_detections']} reference detections, verified "
                  f"{bf16['verified']}")
        int8 = entry["precisions"].get("int8")
        if int8:
            for runtime in ("onnxruntime", "openvino"):
                if runtime in int8:
                    record = int8[runtime]
                    print(f"  int8 ONNX ({int8['file']}) in {runtime}: agreement with fp32 mAP "
                          f"{record['agreement']} over {record['num_reference_detections']} "
                          f"reference detections, verified {record['verified']}")
    width = max(len(f) for f in manifest["files"])
    for fname, info in manifest["files"].items():
        print(f"  {fname:<{width}}  {info['size']:>12,} bytes  sha256 {info['sha256'][:16]}")
    manifest_path = os.path.join(args.out, deploy.MANIFEST)
    print(f"  {deploy.MANIFEST:<{width}}  {os.path.getsize(manifest_path):>12,} bytes  "
          f"(lists the files above)")
    return 0


# The library's argument names, as this script's flags, in the messages it prints.
FLAGS = {"int8_tolerance=None": "--int8-tolerance -1", "int8_tolerance": "--int8-tolerance",
         "bf16_tolerance=None": "--bf16-tolerance -1", "bf16_tolerance": "--bf16-tolerance",
         "static_shape": "--static-shape", "max_batch_size": "--triton-max-batch",
         "calib_images": "--calib-images", "calib_mode": "--calib-mode", "data_shape": "--data-shape"}

if __name__ == "__main__":
    sys.exit(run(main, flags=FLAGS))

"""Evaluate a trained SSD: VOC07 / VOC area mAP on a VOC split, or COCO AP on a COCO file.

Examples::

    python scripts/eval.py --run runs/train --data-root runs/demo/data --out runs/eval
    python scripts/eval.py --bundle runs/bundle --data-root runs/demo/data --out runs/eval-bundle

    python scripts/eval.py --model ssd_300_mobilenet0.25_voc --params w.params \\
        --classes circle,square,triangle --data-root data --split val --data-shape 256 256 --out e

    # a YOLO-layout dataset's val split (ultralytics' data.yaml)
    gluon-ssd eval --run runs/yolo --yolo-data data.yaml --split val --out runs/eval-yolo

    # large images window by window (sliced inference, docs/large_images.md)
    gluon-ssd eval --run runs/trees --data-root trees --split val --tile 320 320 --out e

    # COCO AP (pycocotools COCOeval) on a COCO instances file and its image folder
    python scripts/eval.py --run runs/train --coco-annotations ann/instances_val2017.json \
        --coco-images val2017 --out runs/eval-coco

Every evaluation prints and records AP per object size band (COCO's small < 32^2, medium <
96^2, large, in original pixels; ``size_bands: {small: {ap, ap50, num_boxes}, ...}`` in
``eval.json``). ``--tile H W`` evaluates large images window by window.

VOC (and ``--yolo-data``): prints a per-class AP table and writes ``OUT/eval.json`` (``voc07_map``, ``voc_map``,
``per_class``, ``pr``, ``num_images`` and what was evaluated) and ``OUT/pr.png`` (one
precision-recall curve per class, VOC area AP in the legend).

COCO: prints COCOeval's summary and a per-class AP table and writes ``OUT/eval.json`` (``coco``:
the 12 stats ``AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl``; ``per_class``:
class -> {AP, AP50}) and ``OUT/coco_results.json`` (the detections in the COCO results format:
the file's image and category ids, ``bbox`` ``[x, y, w, h]`` in original image pixels).

``--report`` (VOC or COCO) also writes ``OUT/report.json`` and ``OUT/report.html`` with its
pictures: the confusion matrix, TIDE's error breakdown, AP per class and per COCO size band,
precision-recall curves and the images with the most false positives / missed objects
(``worst_false_positives.png``, ``worst_missed.png``), from the same pass over the data
(docs/evaluation.md).
"""
import argparse
import functools
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .. import viz  # noqa: E402
from .runner import HelpFormatter, interactive, run  # noqa: E402
from ..data import COCODataset, VOCDataset, YOLODataset  # noqa: E402
from .args import (add_detector_arguments, add_tile_arguments,  # noqa: E402
                   detector_from_arguments, tiling_from_arguments)
from ..inference import predict_tiled  # noqa: E402
from ..evaluation.size_bands import bands_table  # noqa: E402
from ..evaluation import evaluate, write_report  # noqa: E402
from ..evaluation.confusion import DEFAULT_IOU_THRESH, DEFAULT_SCORE_THRESH  # noqa: E402
from ..utils.fileio import atomic_write_json  # noqa: E402


def _ap_table(header, rows):
    """Aligned text table: ``header`` names, then ``rows`` of (name, AP or None, ...)."""
    def fmt(ap):
        return "   n/a" if ap is None else f"{ap:6.4f}"

    width = max(len(name) for name, *_ in rows + [header])
    lines = [f"{header[0]:<{width}}  " + "  ".join(header[1:])]
    lines += [f"{name:<{width}}  " + "  ".join(fmt(ap) for ap in aps) for name, *aps in rows]
    return "\n".join(lines)


def _table(result):
    rows = [(name, ap["voc07_ap"], ap["voc_ap"]) for name, ap in result["per_class"].items()]
    return _ap_table(("class", "VOC07 ", "VOC(area)"),
                     rows + [("mAP", result["voc07_map"], result["voc_map"])])


def _nan(ap):
    """None (a class without ground truth) as NaN, for plotting."""
    return float("nan") if ap is None else ap


def _coco_table(result):
    rows = [(name, ap["AP"], ap["AP50"]) for name, ap in result["per_class"].items()]
    return _ap_table(("class", "AP    ", "AP50"),
                     rows + [("mean", result["coco"]["AP"], result["coco"]["AP50"])])


def _parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=HelpFormatter)
    add_detector_arguments(p)
    p.add_argument("--data-root", help="VOC-layout folder (VOC07 / VOC area mAP)")
    p.add_argument("--split", default="val", help="VOC split (ImageSets/Main/<split>.txt), or "
                   "the data.yaml key with --yolo-data")
    p.add_argument("--yolo-data", metavar="YAML", help="YOLO-layout dataset (ultralytics' "
                   "data.yaml; VOC07 / VOC area mAP on --split)")
    p.add_argument("--coco-annotations", metavar="JSON",
                   help="COCO instances file (COCO AP with pycocotools), with --coco-images")
    p.add_argument("--coco-images", metavar="DIR", help="folder of the COCO file's images")
    p.add_argument("--batch-size", type=int, default=16, help="images per forward pass")
    p.add_argument("--out", required=True, help="folder for eval.json and the plots / results")
    p.add_argument("--report", action="store_true",
                   help="also write report.json / report.html: confusion matrix, error "
                        "breakdown, size bands, worst cases (docs/evaluation.md)")
    p.add_argument("--score-thresh", type=float, default=DEFAULT_SCORE_THRESH,
                   help="with --report: least score of a detection in the confusion matrix "
                        "and the galleries")
    p.add_argument("--iou-thresh", type=float, default=DEFAULT_IOU_THRESH,
                   help="with --report: IoU of a match in the confusion matrix")
    add_tile_arguments(p)
    return p


def _dataset(p, args, classes):
    coco = args.coco_annotations or args.coco_images
    if sum(map(bool, (coco, args.data_root, args.yolo_data))) != 1:
        raise ValueError("give one of --data-root (VOC), --coco-annotations with --coco-images "
                         "(COCO), or --yolo-data (a YOLO data.yaml)")
    if coco and not (args.coco_annotations and args.coco_images):
        raise ValueError("--coco-annotations and --coco-images go together")
    if coco:
        # The network's classes, by name, in its order; other categories are left out.
        # Crowd regions come in for the report only: detections on them are ignored there.
        return COCODataset(args.coco_annotations, args.coco_images, classes=classes,
                           unknown_class="skip", use_crowd=args.report)
    if args.yolo_data:
        dataset = YOLODataset(args.yolo_data, args.split)
        if tuple(dataset.classes) != tuple(classes):
            raise ValueError(f"--yolo-data {args.yolo_data} names the classes "
                             f"{list(dataset.classes)}, the detector {list(classes)}: "
                             "they must be the same, in the same order")
        return dataset
    return VOCDataset(args.data_root, classes=classes, split=args.split)


def _write_coco(args, result, shape, source):
    print(result["summary"])
    print(_coco_table(result))
    print(bands_table(result["size_bands"]))
    results = result.pop("results")
    atomic_write_json(results, os.path.join(args.out, "coco_results.json"), indent=None)
    record = dict(result, coco_annotations=args.coco_annotations,
                  coco_images=args.coco_images, data_shape=list(shape), source=source)
    atomic_write_json(record, os.path.join(args.out, "eval.json"))
    print(f"wrote {os.path.join(args.out, 'eval.json')} and "
          f"{os.path.join(args.out, 'coco_results.json')}")


def _write_voc(args, result, shape, source):
    print(_table(result))
    print(bands_table(result["size_bands"]))
    record = dict(result, data_root=args.data_root, yolo_data=args.yolo_data, split=args.split,
                  data_shape=list(shape), source=source)
    atomic_write_json(record, os.path.join(args.out, "eval.json"))
    names = list(result["pr"])
    ax = viz.plot_pr_curves([result["pr"][n]["precision"] for n in names],
                            [result["pr"][n]["recall"] for n in names], names,
                            aps=[_nan(result["per_class"][n]["voc_ap"]) for n in names])
    ax.set_title(f"precision-recall, {args.split}: VOC07 mAP {_nan(result['voc07_map']):.4f}, "
                 f"VOC mAP {_nan(result['voc_map']):.4f}")
    viz.save_figure(ax.figure, os.path.join(args.out, "pr.png"))
    plt.close(ax.figure)
    print(f"wrote {os.path.join(args.out, 'eval.json')} and {os.path.join(args.out, 'pr.png')}")


def _check_thresholds(args):
    for flag, value in (("--score-thresh", args.score_thresh), ("--iou-thresh", args.iou_thresh)):
        if not 0 <= value <= 1:
            raise ValueError(f"{flag} must be between 0 and 1, got {value}")
    if args.iou_thresh == 0:
        raise ValueError("--iou-thresh must be above 0 (0 would match boxes that do not touch)")


def main(argv=None):
    p = _parser()
    args = p.parse_args(argv)
    _check_thresholds(args)
    tiling = tiling_from_arguments(args)
    net, shape, ctx = detector_from_arguments(p, args)
    dataset = _dataset(p, args, net.classes)
    metric = "coco" if args.coco_annotations else "voc"
    # With --tile: each image window by window, in original pixels.
    predict = functools.partial(predict_tiled, net, data_shape=shape, batch_size=args.batch_size,
                                ctx=ctx, **tiling) if tiling else None
    result = evaluate(net, dataset, shape, batch_size=args.batch_size, ctx=ctx, metric=metric,
                      keep_images=args.report, progress=interactive(), predict=predict)
    if tiling:
        result["tiling"] = dict(tiling, tile=list(tiling["tile"]))
    images = result.pop("images", None)
    where = (args.coco_annotations if metric == "coco"
             else f"{args.data_root or args.yolo_data} ({args.split})")
    print(f"{result['num_images']} images of {where}, input {shape[0]}x{shape[1]}")
    os.makedirs(args.out, exist_ok=True)
    source = args.run or args.bundle or f"{args.model}:{args.params}"
    (_write_coco if metric == "coco" else _write_voc)(args, result, shape, source)
    if args.report:
        report = write_report(args.out, dict(result, images=images), dataset, net.classes,
                              iou_thresh=args.iou_thresh, score_thresh=args.score_thresh,
                              meta={"source": source, "data": where,
                                    "data_shape": f"{shape[0]}x{shape[1]}"})
        errors = ", ".join(f"{k} {v['dAP']:.3f}" for k, v in report["errors"].items())
        print(f"AP50 {report['AP50']:.4f}; dAP if fixed: {errors}")
        print(f"wrote {os.path.join(args.out, 'report.html')} and report.json")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))

"""Train an SSD on VOC folders, a COCO file or a YOLO data.yaml, with the SSD paper's recipe.

Examples::

    # Pascal VOC 2007 + 2012 trainval, validated on VOC 2007 test (classes found in the XML)
    python scripts/train.py --model ssd_300_vgg16_atrous_voc \\
        --data-root VOCdevkit/VOC2007 VOCdevkit/VOC2012 --train-split trainval \\
        --val-root VOCdevkit/VOC2007 --val-split test --out runs/voc0712

    # a COCO file (classes: its categories), validated by COCO AP on another file
    python scripts/train.py --model ssdlite_320_mobilenetv2_1.0_coco \\
        --coco-annotations train.json --coco-images images/ \\
        --val-coco-annotations val.json --val-coco-images images/ --out runs/coco

    # fine-tune from weights (e.g. converted GluonCV ones) with settings from a file
    python scripts/train.py --config my.yaml --coco-annotations a.json --coco-images img \\
        --init-from ssd_300_vgg16_atrous_coco.params --out runs/finetune

    # a YOLO-layout dataset (ultralytics' data.yaml), flip-only augmentation
    gluon-ssd train --model ssd_300_mobilenet0.25_voc --yolo-data data.yaml --augment flip \\
        --out runs/yolo

    # continue where a stopped run ended (same schedule, data order, optimizer state)
    python scripts/train.py ... --out runs/voc0712 --resume

Defaults are the SSD paper's recipe (Liu et al. 2016, sec. 3): ImageNet backbone weights, the
paper's augmentation (photometric distortion, zoom-out, IoU-constrained crops, flips), SGD with
momentum 0.9 and weight decay 5e-4, lr 1e-3 divided by 10 at 2/3 and 5/6 of the run, batch 32,
plus one epoch of linear warm-up. ``make demo`` does not use this script: it passes its own
recipe (Adam, flips only, no ImageNet weights: synthetic shapes trained from scratch).

``--config FILE`` (JSON, or YAML with PyYAML installed) holds ``train:`` (fields of
:class:`gluon_ssd.training.TrainConfig`) and/or ``ssd:`` (fields of :class:`gluon_ssd.SSDConfig`,
used instead of ``--model``); flags given on the command line override the file.

Writes ``OUT/epoch-NNNN.params|states``, ``OUT/latest.json``, ``OUT/best.params`` and
``OUT/best.json`` (best validation score), ``OUT/log.csv``, ``OUT/training.png``.
"""
import argparse
import os
import sys

if os.environ.get("DMLC_ROLE") in ("server", "scheduler"):
    # MXNet's launcher starts every node of a dist_sync run with this command: a server or the
    # scheduler runs its role under gluon_ssd's watchdog (heartbeats in --out/.nodes); see
    # docs/training.md.
    from ..training.watchdog import run_node
    _out = argparse.ArgumentParser(add_help=False)
    _out.add_argument("--out")
    _out = _out.parse_known_args()[0].out
    run_node(os.path.join(_out, ".nodes") if _out else None)

import mxnet as mx  # noqa: E402

from .. import SSDConfig, zoo  # noqa: E402
from .runner import HelpFormatter, interactive, run  # noqa: E402
from ..data.tiles import TiledDataset  # noqa: E402
from ..weights.store import load_weights  # noqa: E402
from ..training import TrainConfig, fit  # noqa: E402
from ..training.anchor_check import check_anchors, coverage_table  # noqa: E402
from .context import parse_ctx  # noqa: E402
from .training_args import (add_dataset_arguments, check_dataset_arguments,  # noqa: E402
                            dataset_classes, read_config, training_datasets)



def _parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--config", metavar="FILE", help="JSON or YAML file with 'train' "
                   "(TrainConfig fields) and/or 'ssd' (SSDConfig fields); flags override it")
    p.add_argument("--model", help="zoo name, see gluon_ssd.zoo.list_models() (or 'ssd' in "
                                   "--config)")
    p.add_argument("--out", required=True, help="run folder: checkpoints, logs, best.params")
    add_dataset_arguments(p)
    _add_training_arguments(p.add_argument_group("training (defaults: the SSD paper's recipe)"))
    run = p.add_argument_group("model and devices")
    run.add_argument("--pretrained-base", action=argparse.BooleanOptionalAction, default=True,
                     help="ImageNet backbone weights from the model store (needs them present "
                          "or a download)")
    run.add_argument("--root", metavar="DIR", help="model store folder of the ImageNet weights "
                     "(default: $MXNET_HOME/models, i.e. ~/.mxnet/models)")
    run.add_argument("--init-from", metavar="PARAMS", help="weights to start from (same "
                     "architecture and classes, e.g. converted GluonCV weights)")
    run.add_argument("--ctx", default="cpu", help="cpu, gpu0, gpu0,gpu1, ...")
    run.add_argument("--kvstore", default="local", help="local, device or dist_sync")
    run.add_argument("--resume", action="store_true",
                     help="continue from OUT/latest.json (also one written by SIGTERM/Ctrl-C "
                          "mid-epoch); optimizer states are pickles: only your own are loaded")
    run.add_argument("--resume-weights-only", action="store_true",
                     help="continue from the weights and schedule with fresh optimizer moments "
                          "(loads no pickle: for a run folder someone else wrote)")
    return p


def _add_training_arguments(g):
    g.add_argument("--epochs", type=int, default=120, help="passes over the training data "
                   "(the paper's 60k iterations of 32 on VOC07+12 are ~116)")
    g.add_argument("--batch-size", type=int, default=32, help="global batch")
    g.add_argument("--lr", type=float, default=1e-3, help="base learning rate")
    g.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"], help="optimizer")
    g.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    g.add_argument("--wd", type=float, default=5e-4, help="weight decay")
    g.add_argument("--lr-schedule", default="step", choices=["constant", "step", "cosine"],
                   help="after warm-up: constant, x0.1 at --lr-steps, or cosine to 0")
    g.add_argument("--lr-steps", type=float, nargs="*", default=None,
                   help="epochs where lr is divided by 10 (default: 2/3 and 5/6 of --epochs)")
    g.add_argument("--warmup-epochs", type=float, default=None,
                   help="linear warm-up from 0 (default: 1 epoch, at most a tenth of the run)")
    g.add_argument("--data-shape", type=int, nargs=2, metavar=("H", "W"), default=None,
                   help="network input (default: the model's base size)")
    g.add_argument("--augment", default="ssd", choices=["ssd", "flip", "none"],
                   help="ssd: the paper's augmentation; flip: resize + flip; none: resize")
    g.add_argument("--val-every", type=int, default=1, help="validate every N epochs (and "
                   "after the last); best.params keeps the best score")
    g.add_argument("--val-metric", default=None, choices=["voc07", "coco"],
                   help="validation score (default: coco for a COCO file, voc07 otherwise)")
    g.add_argument("--keep-checkpoints", type=int, default=2, help="epoch checkpoints kept")
    g.add_argument("--seed", type=int, default=0, help="data order, augmentation, init")
    g.add_argument("--num-workers", type=int, default=0, help="data loading workers")
    g.add_argument("--thread-pool", action="store_true", help="workers are threads, not "
                   "processes")


def parse_arguments(argv=None):
    """The parsed arguments: defaults < ``--config`` file < command-line flags.

    Returns ``(parser, args, ssd)``: ``ssd`` is the config file's ``ssd`` dict or None.
    """
    p = _parser()
    args = p.parse_args(argv)
    ssd = None
    if args.config:
        train, ssd = read_config(args.config)
        p.set_defaults(**train)
        args = p.parse_args(argv)
    check_dataset_arguments(args)
    if args.val_coco_annotations and not args.coco_annotations:
        raise ValueError("--val-coco-annotations goes with --coco-annotations (VOC training validates on "
                "--val-root/--val-split)")
    if not args.model and ssd is None:
        raise ValueError("give --model, or an 'ssd' section in --config"
                         + (f" {args.config}" if args.config else ""))
    # An unknown model name and bad training values are refused before any data is read.
    model_config = zoo.get_config(args.model)[0] if args.model else None
    ssd_config = SSDConfig.from_dict(ssd) if ssd is not None else model_config
    try:
        _train_config(args, ssd_config, "coco" if args.val_coco_annotations else "voc07")
    except ValueError as err:
        raise ValueError(f"{err}" + (f" (from --config {args.config} or a flag)"
                                     if args.config else "")) from None
    return p, args, ssd


def _tiled(args, train, val):
    """With ``--tile``: the windows of the training images, and of the validation images (boxes
    mostly outside a window marked difficult there: neither a hit nor a false positive)."""
    if not args.tile:
        return train, val
    train = TiledDataset(train, args.tile, args.tile_overlap, args.min_visible)
    if val is not None:
        val = TiledDataset(val, args.tile, args.tile_overlap, args.min_visible, "difficult")
    return train, val


def _network(args, ssd, classes):
    if ssd is not None:
        net = zoo.build_ssd(SSDConfig.from_dict(ssd), classes,
                            pretrained_base=args.pretrained_base, root=args.root)
    else:
        net = zoo.get_model(args.model, pretrained_base=args.pretrained_base, classes=classes,
                            root=args.root)
    if args.init_from:
        if not os.path.isfile(args.init_from):
            raise ValueError(f"--init-from {args.init_from}: no such file")
        load_weights(net, args.init_from, f"--init-from: the same architecture and "
                                          f"{len(classes)} classes needed")
    return net


def _train_config(args, ssd_config, val_metric):
    data_shape = tuple(args.data_shape or args.tile or (ssd_config.base_size,) * 2)
    lr_steps = args.lr_steps
    if lr_steps is None:
        lr_steps = (round(args.epochs * 2 / 3, 2), round(args.epochs * 5 / 6, 2)) \
            if args.lr_schedule == "step" else ()
    return TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
        lr_schedule=args.lr_schedule, lr_steps=tuple(lr_steps), warmup_epochs=args.warmup_epochs,
        momentum=args.momentum, wd=args.wd, data_shape=data_shape, augment=args.augment,
        seed=args.seed, val_every=args.val_every, keep_checkpoints=args.keep_checkpoints,
        num_workers=args.num_workers, thread_pool=args.thread_pool,
        val_metric=args.val_metric or val_metric)


COVERAGE_IMAGES = 1000   # the coverage logged at start reads at most this many images' labels
COVERAGE_WARNING = 0.8


def _log_coverage(args, net, images, config):
    """Print the anchor coverage of the training boxes; warn, naming the command, when low."""
    coverage = check_anchors(net, images, config.data_shape, args.tile, args.tile_overlap,
                             args.min_visible, config.augment, COVERAGE_IMAGES)
    print(coverage_table(coverage, [spec.source for spec in net.layers]))
    if coverage["coverage"] is not None and coverage["coverage"] < COVERAGE_WARNING:
        print(f"warning: only {coverage['coverage']:.0%} of the training boxes reach an anchor at "
              f"IoU 0.5 (the matcher's threshold): the rest cannot become positives. Run "
              f"'gluon-ssd anchors' with the same model, data, --data-shape, --tile and --augment "
              f"to see which, and fit anchors to them (--write-config, then train --config); "
              f"for small objects see docs/large_images.md", file=sys.stderr)


def main(argv=None):
    p, args, ssd = parse_arguments(argv)
    classes = dataset_classes(args)
    train, val, val_metric = training_datasets(args, classes)
    print(f"{len(train)} training images, {len(val) if val is not None else 0} validation "
          f"images, classes {list(train.classes)}")
    images = train
    train, val = _tiled(args, train, val)
    if args.tile:
        if args.val_metric == "coco":
            raise ValueError("--val-metric coco scores whole images; with --tile validation is "
                             "VOC07 mAP over the windows (or evaluate with gluon-ssd eval --tile)")
        val_metric = "voc07"
        print(f"in tiles of {args.tile[0]}x{args.tile[1]}: {len(train)} training windows, "
              f"{len(val) if val is not None else 0} validation windows")
    net = _network(args, ssd, list(train.classes))
    train_config = _train_config(args, net.config, val_metric)
    print(net.describe(*train_config.data_shape))
    _log_coverage(args, net, images, train_config)
    fit(net, train, train_config, args.out, val_dataset=val, ctx=parse_ctx(args.ctx),
        kvstore=args.kvstore, resume="weights" if args.resume_weights_only else args.resume,
        progress=interactive())
    mx.nd.waitall()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))

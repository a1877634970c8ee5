"""Train an SSD from the zoo on a VOC-layout folder.

Examples::

    # the synthetic dataset of `make demo`
    python scripts/train.py --model ssd_300_mobilenet0.25_voc --data-root runs/demo/data \\
        --classes circle,square,triangle --data-shape 256 256 --epochs 10 --out runs/train

    # continue where a stopped run ended (same schedule, data order, optimizer state)
    python scripts/train.py ... --out runs/train --resume

    # two GPUs in one process; or several machines with MXNet's launcher (see README)
    python scripts/train.py ... --ctx gpu0,gpu1 --kvstore device

Writes ``OUT/epoch-NNNN.params|states``, ``OUT/latest.json``, ``OUT/log.csv``, ``OUT/training.png``.
"""
import argparse
import os
import sys

if os.environ.get("DMLC_ROLE") in ("server", "scheduler"):
    # MXNet's launcher starts every node of a dist_sync run with this command: a server or the
    # scheduler runs its role under gluon_ssd's watchdog (heartbeats in --out/.nodes), see README.
    from gluon_ssd.watchdog import run_node
    _out = argparse.ArgumentParser(add_help=False)
    _out.add_argument("--out")
    _out = _out.parse_known_args()[0].out
    run_node(os.path.join(_out, ".nodes") if _out else None)

import mxnet as mx  # noqa: E402

from gluon_ssd import zoo  # noqa: E402
from gluon_ssd.cli import run  # noqa: E402
from gluon_ssd.data import VOCDataset  # noqa: E402
from gluon_ssd.train import TrainConfig, fit, parse_ctx  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="zoo name, see gluon_ssd.zoo.list_models()")
    p.add_argument("--data-root", required=True, help="VOC-layout folder")
    p.add_argument("--classes", required=True, help="comma-separated class names")
    p.add_argument("--train-split", default="train")
    p.add_argument("--val-split", default="val", help="'' to skip validation")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=16, help="global batch")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    p.add_argument("--lr-schedule", default="cosine", choices=["constant", "step", "cosine"])
    p.add_argument("--lr-steps", type=float, nargs="*", default=(), help="epochs, for 'step'")
    p.add_argument("--warmup-epochs", type=float, default=0.0)
    p.add_argument("--wd", type=float, default=5e-4)
    p.add_argument("--data-shape", type=int, nargs=2, metavar=("H", "W"), default=None,
                   help="network input; default the model's base size")
    p.add_argument("--augment", default="flip", choices=["ssd", "flip", "none"])
    p.add_argument("--ctx", default="cpu", help="cpu, gpu0, gpu0,gpu1, ...")
    p.add_argument("--kvstore", default="local", help="local, device or dist_sync")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-workers", type=int, default=0, help="data loading processes")
    p.add_argument("--pretrained-base", action="store_true",
                   help="ImageNet backbone weights from the model store (needs them present)")
    p.add_argument("--resume", action="store_true",
                   help="continue --out's latest checkpoint (also one written by SIGTERM/Ctrl-C "
                        "mid-epoch); optimizer states are pickles: only your own are loaded")
    p.add_argument("--resume-weights-only", action="store_true",
                   help="continue from the weights and schedule with fresh optimizer moments "
                        "(loads no pickle: for a run folder someone else wrote)")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)

    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    ctx = parse_ctx(args.ctx)
    config, _ = zoo.get_config(args.model)
    data_shape = tuple(args.data_shape or (config.base_size, config.base_size))
    net = zoo.get_model(args.model, pretrained_base=args.pretrained_base, classes=classes)
    train = VOCDataset(args.data_root, classes=classes, split=args.train_split)
    val = VOCDataset(args.data_root, classes=classes, split=args.val_split) if args.val_split else None
    train_config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
        lr_schedule=args.lr_schedule, lr_steps=tuple(args.lr_steps),
        warmup_epochs=args.warmup_epochs, wd=args.wd, data_shape=data_shape,
        augment=args.augment, seed=args.seed, num_workers=args.num_workers)
    print(net.describe(*data_shape))
    fit(net, train, train_config, args.out, val_dataset=val, ctx=ctx, kvstore=args.kvstore,
        resume="weights" if args.resume_weights_only else args.resume)
    mx.nd.waitall()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))

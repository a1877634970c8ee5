"""Check and fit a detector's anchors to a dataset: the share of boxes the matcher can reach.

Examples::

    # how many tree crowns a preset reaches at native size in 320 px tiles; fit, write a config
    gluon-ssd anchors --model ssd_300_mobilenet0.25_voc --data-root trees --data-shape 320 320 \\
        --tile 320 320 --augment flip --write-config trees_ssd.yaml
    gluon-ssd train --config trees_ssd.yaml --data-root trees --tile 320 320 --augment flip ...

Prints the anchor coverage (boxes whose best anchor has IoU >= 0.5, the matcher's threshold) of
the boxes as training presents them (resized, or cut into --tile windows, shrunk by --augment
ssd's zoom-out), overall, per size band and per layer; then fits the anchor sizes and ratios
(adding a finer backbone tap where the boxes need one; gluon_ssd.training.anchor_fit) and prints
the coverage the fitted config reaches. --write-config writes it as ``ssd:`` (SSDConfig's fields),
which ``train --config`` takes. docs/large_images.md says more.
"""
import argparse
import dataclasses
import os
import sys

from .. import SSDConfig, zoo
from ..training.anchor_check import (anchor_coverage, coverage_table, network_layers,
                                     presented_boxes)
from ..training.anchor_fit import fit_anchors
from ..utils.fileio import atomic_write
from .runner import HelpFormatter, run
from .training_args import (add_dataset_arguments, check_dataset_arguments, dataset_classes,
                            read_config, training_datasets)


def _parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=HelpFormatter)
    p.add_argument("--model", help="zoo name (or 'ssd' in --config)")
    p.add_argument("--config", metavar="FILE", help="JSON or YAML file with 'ssd' (SSDConfig "
                                                    "fields), as train --config takes")
    add_dataset_arguments(p)
    p.add_argument("--data-shape", type=int, nargs=2, metavar=("H", "W"),
                   help="network input (default: the tile, else the model's base size)")
    p.add_argument("--augment", default="flip", choices=["ssd", "flip", "none"],
                   help="train's --augment: ssd counts its zoom-out (objects shrunk up to 4x)")
    p.add_argument("--max-images", type=int, help="check the first N images only")
    p.add_argument("--target", type=float, default=0.92,
                   help="coverage under which the fit tries a finer backbone tap")
    p.add_argument("--write-config", metavar="OUT.yaml", help="write the fitted SSDConfig")
    return p


def _network(args, classes):
    ssd = read_config(args.config)[1] if args.config else None
    if (ssd is None) == (args.model is None):
        raise ValueError("give --model NAME or --config FILE (with an 'ssd' section)")
    if ssd is not None:
        return zoo.build_ssd(SSDConfig.from_dict(ssd), classes)
    return zoo.get_model(args.model, pretrained_base=False, classes=classes)


def _write_config(config, path):
    import yaml
    record = json_ready(dataclasses.asdict(config))

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            yaml.safe_dump({"ssd": record}, f, sort_keys=False)
    atomic_write(path, write)


def json_ready(value):
    """Tuples as lists, recursively (YAML's safe dumper takes no tuples)."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def main(argv=None):
    args = _parser().parse_args(argv)
    check_dataset_arguments(args)
    train, _, _ = training_datasets(args, dataset_classes(args))
    net = _network(args, list(train.classes))
    shape = tuple(args.data_shape or args.tile or (net.base_size,) * 2)
    boxes = presented_boxes(train, shape, args.tile, args.tile_overlap, args.min_visible,
                            args.augment, args.max_images)
    where = f"in {args.tile[0]}x{args.tile[1]} tiles, " if args.tile else ""
    print(f"{len(boxes)} boxes ({where}input {shape[0]}x{shape[1]}, --augment {args.augment})")
    sources = [spec.source for spec in net.layers]
    print(coverage_table(anchor_coverage(boxes, network_layers(net, shape)), sources))
    config, report = fit_anchors(net, boxes, shape, target=args.target)
    added = (f", taps added at strides {report['added_taps']}" if report["added_taps"] else "")
    print(f"fitted: sizes {list(config.sizes)}, ratios per layer "
          f"{[list(r) for r in config.ratios]}{added}")
    print(coverage_table(report["after"], [str(s) or "extra" for s in config.from_layers]))
    if args.write_config:
        _write_config(config, args.write_config)
        print(f"wrote {os.path.abspath(args.write_config)} (train --config takes it)")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))

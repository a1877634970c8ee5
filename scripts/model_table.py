"""The zoo's model table in Markdown, from the built networks: ``python scripts/model_table.py``.

For every name of ``gluon_ssd.zoo.list_models()``, or those matching the given names or
shell-style patterns in their order (``python scripts/model_table.py 'ssd_512_*_voc'
ssd_300_vgg16_atrous_voc``): input size, backbone, anchors at the base size, trainable
parameters, whether ``get_model(name, pretrained=True)`` has published weights, and GluonCV's
published mAP for those weights. Anchors
come from ``net.layers`` (map size x anchors per location, at the base size); parameters from
symbolic shape inference over the inference graph (nothing is initialised or run), counting the
trainable parameters the graph uses (BatchNorm running statistics excluded).

docs/models.md (every model) and the README's table (the main presets, named in README.md) are
this script's output. Building all the nets
takes a few minutes on one core; ``--json FILE`` also writes the rows.
"""
import argparse
import json
import math
import os
import sys

import mxnet as mx

from gluon_ssd import zoo
from gluon_ssd.weights.published import names_with_weights

# GluonCV's published mAP for the weights get_model(pretrained=True) loads (GluonCV's model zoo
# docs, docs/model_zoo/csv_tables/Detections/{Pascal,MSCOCO}_SSD.csv): VOC2007 test mAP
# (trained on VOC07+12) and COCO val2017 box AP at IoU 0.5:0.95.
PUBLISHED_MAP = {
    "ssd_300_vgg16_atrous_voc": "VOC07 77.6", "ssd_512_vgg16_atrous_voc": "VOC07 79.2",
    "ssd_512_resnet50_v1_voc": "VOC07 80.1", "ssd_512_mobilenet1.0_voc": "VOC07 75.4",
    "ssd_300_vgg16_atrous_coco": "COCO 25.1", "ssd_512_vgg16_atrous_coco": "COCO 28.9",
    "ssd_512_resnet50_v1_coco": "COCO 30.6", "ssd_512_mobilenet1.0_coco": "COCO 21.7",
}

COLUMNS = ("model", "input", "backbone", "anchors", "params", "weights", "published mAP")


def describe_model(name, with_weights):
    """One table row (dict keyed by :data:`COLUMNS`) for the zoo model ``name``."""
    net = zoo.get_model(name, pretrained_base=False)
    size = net.base_size
    anchors = sum(h * w * spec.num_anchors for spec in net.layers for h, w in [spec.map_size])
    graph = net(mx.sym.var("data"))
    graph = mx.sym.Group(list(graph)) if isinstance(graph, (list, tuple)) else graph
    arg_shapes, _, _ = graph.infer_shape(data=(1, 3, size, size))
    params = net.collect_params()
    trainable = sum(math.prod(shape) for arg, shape in zip(graph.list_arguments(), arg_shapes)
                    if arg in params and params[arg].grad_req != "null")
    return {"model": name, "input": f"{size}x{size}", "backbone": net.config.backbone,
            "anchors": anchors, "params": f"{trainable / 1e6:.1f}M",
            "weights": "yes" if name in with_weights else "no",
            "published mAP": PUBLISHED_MAP.get(name, "")}


def markdown(rows):
    """The rows as a Markdown table, one line per model."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [f"`{row['model']}`"] + [str(row[c]) for c in COLUMNS[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("patterns", nargs="*", metavar="PATTERN",
                        help="zoo names or shell-style wildcards, rows in this order "
                             "(default: every model)")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    names = []
    for pattern in args.patterns or [None]:
        found = zoo.list_models(pattern)
        if not found:
            parser.error(f"{pattern!r} matches no model; see gluon_ssd.zoo.list_models()")
        names += [n for n in found if n not in names]
    with_weights = set(names_with_weights())
    rows = []
    for k, name in enumerate(names, 1):
        rows.append(describe_model(name, with_weights))
        print(f"[{k}/{len(names)}] {name}", file=sys.stderr, flush=True)
    if args.json:
        with open(args.json + ".tmp", "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)
        os.replace(args.json + ".tmp", args.json)
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

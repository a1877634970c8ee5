"""Options several commands share: the detector source (``--run | --model | --bundle``) and
sliced inference (``--tile``)."""
from ..data.tiles import DEFAULT_OVERLAP
from ..inference import MERGES, load_detector
from .context import parse_ctx

__all__ = ["add_detector_arguments", "detector_from_arguments", "add_tile_arguments",
           "tiling_from_arguments"]


def add_tile_arguments(parser):
    """``--tile H W [--tile-overlap F] [--whole-image] [--merge nms|none]`` (``detect``,
    ``eval``): sliced inference, :func:`gluon_ssd.inference.predict_tiled`."""
    g = parser.add_argument_group("large images (docs/large_images.md)")
    g.add_argument("--tile", type=int, nargs=2, metavar=("H", "W"),
                   help="detect in windows of H x W image pixels, batched, merged across "
                        "windows (default --data-shape: the tile)")
    g.add_argument("--tile-overlap", type=float, default=DEFAULT_OVERLAP,
                   help="share of a window shared with its neighbour")
    g.add_argument("--whole-image", action="store_true",
                   help="with --tile: add one pass over the whole image (objects larger than "
                        "a tile)")
    g.add_argument("--merge", default="nms", choices=MERGES,
                   help="with --tile: per-class NMS across windows, or none (all windows' "
                        "detections)")


def tiling_from_arguments(args):
    """``predict_tiled`` keywords of :func:`add_tile_arguments`' options (``{}`` without
    ``--tile``); a tiling option without ``--tile`` is a ValueError."""
    if not args.tile:
        if args.whole_image or args.merge != "nms" or args.tile_overlap != DEFAULT_OVERLAP:
            raise ValueError("--tile-overlap, --whole-image and --merge go with --tile H W")
        return {}
    return {"tile": tuple(args.tile), "overlap": args.tile_overlap,
            "whole_image": args.whole_image, "merge": args.merge}


def add_detector_arguments(parser):
    """Add the detector options shared by ``scripts/detect.py`` and ``scripts/eval.py``.

    ``--run DIR | --model NAME [--params FILE] [--classes a,b] | --bundle DIR`` (exactly one
    source), ``--data-shape H W`` and ``--ctx``; read back with :func:`detector_from_arguments`.
    """
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="training run folder (uses its latest checkpoint)")
    source.add_argument("--model", help="zoo name, see gluon_ssd.zoo.list_models()")
    source.add_argument("--bundle", help="folder written by scripts/export.py (gluon_ssd.deploy)")
    parser.add_argument("--params", help="weights file, with --model")
    parser.add_argument("--classes", help="comma-separated class names, with --model "
                                          "(default: the model's dataset classes)")
    parser.add_argument("--data-shape", type=int, nargs=2, metavar=("H", "W"), default=None,
                        help="network input; default the run's training shape, the bundle's "
                             "export shape or the model's base size")
    parser.add_argument("--ctx", default="cpu", help="cpu or gpuN")


def detector_from_arguments(parser, args):
    """``(net, data_shape, ctx)`` from :func:`add_detector_arguments`' options.

    Inconsistent options raise ``ValueError`` naming the flags; a source that cannot be loaded
    raises the loader's ``ValueError`` / ``FileNotFoundError`` naming the file (scripts report
    both in one line through :func:`gluon_ssd.cli.run`). ``parser`` is kept for callers' sake.
    """
    if (args.run or args.bundle) and (args.params or args.classes):
        raise ValueError("--params and --classes go with --model; a --run or --bundle has its own")
    classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
    ctx = parse_ctx(args.ctx, single=True)
    net, shape = load_detector(run=args.run, model=args.model, params=args.params,
                               classes=classes, bundle=args.bundle, ctx=ctx)
    tile = getattr(args, "tile", None)
    return net, tuple(args.data_shape or tile or shape), ctx

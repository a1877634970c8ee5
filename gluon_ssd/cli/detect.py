"""Detect objects in images with a trained SSD; write detections.json and one picture per image.

Examples::

    # a training run folder (architecture, classes, weights and input size from latest.json)
    python scripts/detect.py --run runs/train photos/ --out runs/detect

    # an exported bundle (scripts/export.py)
    python scripts/detect.py --bundle runs/bundle photos/ --out runs/detect

    # large images (aerial photographs): 320 px windows, batched, merged by per-class NMS
    gluon-ssd detect --run runs/train big.tif --tile 320 320 --out runs/detect-tiles

    # a zoo model with a weights file; inputs: files, folders, glob patterns
    python scripts/detect.py --model ssd_300_mobilenet0.25_voc --params w.params \\
        --classes circle,square,triangle 'shots/**/*.png' a.jpg --data-shape 256 256 --out out

Writes ``OUT/detections.json``: ``images`` (per image ``file``, ``width``, ``height``,
``detections``: ``class``, ``class_id``, ``score``, ``box`` [x1, y1, x2, y2] in ORIGINAL image
pixels, ``picture``) and ``errors`` (``file``, ``error``); and ``OUT/<name>.png`` per image.

Exit status: 0 when every image was processed; 1 when some file could not be read (each is named
on stderr and in ``errors``; all other images are still processed and written); 2 for bad
arguments (an input that matches nothing, a missing weights file, ...).
"""
import argparse
import os
import sys

from tqdm import tqdm

from .runner import HelpFormatter, interactive, run
from .args import (add_detector_arguments, add_tile_arguments, detector_from_arguments,
                   tiling_from_arguments)
from ..inference import detect_images, draw_detections, find_images, write_detections


def _picture_name(path, taken):
    """``<stem>.png``, with ``-2``, ``-3``... when another input has the same stem."""
    stem = os.path.splitext(os.path.basename(path))[0]
    name, k = f"{stem}.png", 1
    while name in taken:
        k += 1
        name = f"{stem}-{k}.png"
    taken.add(name)
    return name


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=HelpFormatter)
    add_detector_arguments(p)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image file, folder or glob")
    p.add_argument("--thresh", type=float, default=0.5, help="minimum score kept")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-side", type=int, default=1280, help="longest side of the pictures")
    p.add_argument("--no-pictures", action="store_true", help="write detections.json only")
    p.add_argument("--out", required=True)
    add_tile_arguments(p)
    args = p.parse_args(argv)
    tiling = tiling_from_arguments(args)
    net, shape, ctx = detector_from_arguments(p, args)
    paths = find_images(args.inputs)
    os.makedirs(args.out, exist_ok=True)

    results, taken = [], set()
    for result in detect_images(net, paths, shape, thresh=args.thresh, batch_size=args.batch_size,
                                ctx=ctx, max_side=args.max_side, progress=interactive(),
                                **tiling):
        if result.error is not None:
            tqdm.write(f"error: {result.error}", file=sys.stderr)
        elif not args.no_pictures:
            result.picture = _picture_name(result.file, taken)
            draw_detections(result, os.path.join(args.out, result.picture), net.classes)
        result.image = None  # the drawing copy is not needed any more
        results.append(result)
    write_detections(results, os.path.join(args.out, "detections.json"),
                     classes=list(net.classes), data_shape=list(shape), thresh=args.thresh,
                     **(dict(tiling, tile=list(tiling["tile"])) if tiling else {}))
    failed = sum(r.error is not None for r in results)
    found = sum(len(r.detections) for r in results)
    print(f"{len(results) - failed} images, {found} detections, {failed} unreadable; "
          f"wrote {os.path.join(args.out, 'detections.json')}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run(main))

"""Serve an exported bundle over HTTP: detections with dynamic batching, a page, OpenAPI docs.

Usage::

    pip install 'gluon_ssd[serve]'
    gluon-ssd serve runs/demo/bundle --port 8080 [--runtime auto] [--max-batch 8]
    curl -F file=@photo.jpg 'http://127.0.0.1:8080/v1/detect?score_threshold=0.3'
    curl --data-binary @photo.jpg -H 'Content-Type: image/jpeg' http://127.0.0.1:8080/v1/detect
    gluon-ssd serve runs/demo/bundle --tile 600 600     # large uploads in windows of 600 px

``http://HOST:PORT/`` shows a page to try images on, ``/docs`` the API, ``/health`` says when the
model is warmed up. SIGTERM or Ctrl-C: stops accepting, finishes the requests in flight, exits 0.
See docs/serving.md.
"""
import argparse
import importlib.util
import sys

from .. import deploy
from ..data.tiles import DEFAULT_OVERLAP
from .runner import run

_NEEDS = ("fastapi", "uvicorn", "multipart")


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("bundle", help="folder written by gluon-ssd export")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--runtime", default="auto", choices=("auto",) + deploy.RUNTIMES)
    p.add_argument("--precision", default="auto", choices=("auto",) + deploy.PRECISIONS)
    p.add_argument("--max-batch", type=int, default=8, help="most requests per forward pass")
    p.add_argument("--max-wait-ms", type=float, default=5.0,
                   help="how long a batch waits for requests still being read or decoded")
    p.add_argument("--queue-size", type=int, default=32,
                   help="most requests held at once; more get 503 with Retry-After")
    p.add_argument("--workers", type=int, default=2, help="threads decoding uploads")
    p.add_argument("--max-body-mb", type=float, default=16.0,
                   help="largest request body (413 above)")
    p.add_argument("--max-megapixels", type=float, default=40.0,
                   help="largest image, width x height (413 above, checked before decoding)")
    p.add_argument("--score-threshold", type=float, default=0.5,
                   help="default minimum score (a request's ?score_threshold= wins)")
    p.add_argument("--tile", type=int, nargs=2, metavar=("H", "W"),
                   help="detect uploads larger than H x W pixels in overlapping windows of that "
                        "size (each resized to the bundle's input, --max-batch per pass, merged "
                        "by per-class NMS); default: every upload resized whole")
    p.add_argument("--tile-overlap", type=float, default=DEFAULT_OVERLAP,
                   help="with --tile: share of a window shared with its neighbour, in [0, 1)")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    missing = [name for name in _NEEDS if importlib.util.find_spec(name) is None]
    if missing:
        raise ValueError(f"gluon-ssd serve needs FastAPI, uvicorn and python-multipart (missing "
                         f"{', '.join(missing)}): pip install 'gluon_ssd[serve]'")
    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be in 1..65535, got {args.port}")
    # gluon_ssd.serve imports FastAPI and uvicorn, optional (the serve extra): checked above.
    from ..serve import DetectionService, ServeConfig, create_app, run_server
    config = ServeConfig(max_batch=args.max_batch, max_wait_ms=args.max_wait_ms,
                         queue_size=args.queue_size, workers=args.workers,
                         max_body_bytes=max(1, int(args.max_body_mb * 2 ** 20)),
                         max_pixels=max(1, int(args.max_megapixels * 1e6)),
                         score_threshold=args.score_threshold)
    if args.tile is None and args.tile_overlap != DEFAULT_OVERLAP:
        raise ValueError("--tile-overlap goes with --tile H W")
    if args.tile is not None and (min(args.tile) < 1 or not 0 <= args.tile_overlap < 1):
        raise ValueError(f"--tile needs two sizes >= 1 and --tile-overlap a share in [0, 1), "
                         f"got --tile {args.tile[0]} {args.tile[1]} --tile-overlap "
                         f"{args.tile_overlap}")
    # Not spinning: between batches the cores decode and resize uploads and answer HTTP.
    detector = deploy.load(args.bundle, runtime=args.runtime, precision=args.precision,
                           spin=False)
    print(f"serving {args.bundle}: {detector.runtime} {detector.precision} ({detector.choice}) "
          f"on http://{args.host}:{args.port}/ (API docs at /docs)", file=sys.stderr, flush=True)
    service = DetectionService(detector, tile=args.tile, tile_overlap=args.tile_overlap,
                               tile_batch=args.max_batch)
    signum = run_server(create_app(service, config), args.host, args.port)
    if signum is not None:
        print(f"stopped by signal {signum} after finishing the requests in flight",
              file=sys.stderr)
    return 0


# The library's argument names, as this command's flags, in the messages it prints.
FLAGS = {"max_batch": "--max-batch", "max_wait_ms": "--max-wait-ms", "queue_size": "--queue-size",
         "max_body_bytes": "--max-body-mb", "max_pixels": "--max-megapixels",
         "score_threshold": "--score-threshold", "workers": "--workers"}

if __name__ == "__main__":
    sys.exit(run(main, flags=FLAGS))

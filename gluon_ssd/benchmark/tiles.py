"""Large images in tiles: what sliced inference costs, and what tiles buy on small objects.

``gluon-ssd bench --mode tiles`` (bounded: a few minutes on a loaded 2-core machine) generates a
small set of large scenes (:mod:`gluon_ssd.data.synthetic_scenes`: 1024 x 1024 images, 10-60 px
shapes of 3 classes; 8 training and 3 validation images by default), then:

1. **Accuracy.** Two mobilenet0.25 SSDs trained from scratch (no downloads) with the same
   recipe, input size (``tile``, 256 x 256), batch, number of steps and seed, each with anchors
   fitted to the boxes as its training presents them (:func:`~gluon_ssd.training.anchor_fit.fit_anchors`,
   the coverage before and after recorded):

   - *whole image*: every image resized to the input (objects shrink 4x);
   - *tiles*: :class:`~gluon_ssd.data.tiles.TiledDataset` windows of ``tile`` (overlap 0.2), and
     sliced inference (:func:`~gluon_ssd.inference.tiles.predict_tiled`) at evaluation.

   The whole-image set is repeated so an epoch has as many items as the tiled one (same steps).
   Both are evaluated on the validation images by :func:`gluon_ssd.evaluation.evaluate`: VOC07
   mAP and AP per COCO size band (small < 32^2, medium < 96^2, large; original pixels).
2. **Cost of slicing.** On one validation image, with the tiled model: the time of
   ``predict_tiled`` (cutting, preprocessing, the network, shifting back, merging) against the
   network time of the same windows' inputs run as one batch (ratio; the target is <= 1.1x), and
   megapixels per second of ``predict_tiled`` with the MXNet net and with the model exported and
   loaded by :func:`gluon_ssd.deploy.load` (``runtime='auto'``: the fastest runtime the bundle
   has), all windows in one batch. Medians of ``repeats`` runs, alternated.

Images are decoded once and kept in memory, so the training time is the network's, not the
PNG decoder's. Everything runs on the CPU; the CPU's ISA, versions and load are printed and
saved. It reports; it never asserts a target.
"""
import os
import statistics
import tempfile
import time

import mxnet as mx
import numpy as np
from mxnet import gluon

from .. import deploy, zoo
from ..data import VOCDataset
from ..data.synthetic import CLASSES
from ..data.synthetic_scenes import generate_scenes
from ..data.tiles import DEFAULT_OVERLAP, TiledDataset, tile_grid
from ..data.transforms import ValTransform
from ..evaluation import evaluate
from ..inference.detector import BundleNet
from ..inference.tiles import predict_tiled
from ..training import fit
from ..training.anchor_check import presented_boxes
from ..training.anchor_fit import fit_anchors
from ..training.config import TrainConfig
from .report import machine_line
from .timing import alternate

__all__ = ["TILES_DEFAULTS", "run_tiles", "slicing_cost", "train_and_evaluate",
           "InMemoryDataset"]

TILES_DEFAULTS = {"image_size": (1024, 1024), "num_train": 8, "num_val": 3, "tile": (256, 256),
                  "overlap": DEFAULT_OVERLAP, "model": "ssd_300_mobilenet0.25_voc", "epochs": 6,
                  "batch_size": 16, "lr": 2e-3, "seed": 0, "repeats": 5}


class InMemoryDataset(gluon.data.Dataset):
    """A dataset's items decoded once (``times`` passes over them per epoch)."""

    def __init__(self, dataset, times=1):
        self._items = [dataset[k] for k in range(len(dataset))]
        self._times, self.classes = times, dataset.classes

    def __len__(self):
        return len(self._items) * self._times

    def __getitem__(self, k):
        return self._items[k % len(self._items)]


def _fitted_net(model, dataset, data_shape, tile, overlap):
    """A net of ``model``'s architecture with anchors fitted to the presented boxes."""
    net = zoo.build_ssd(zoo.get_config(model)[0], CLASSES)
    boxes = presented_boxes(dataset, data_shape, tile=tile, overlap=overlap)
    config, report = fit_anchors(net, boxes, data_shape)
    coverage = {key: round(report[key]["coverage"], 4) for key in ("before", "after")}
    return zoo.build_ssd(config, CLASSES), dict(coverage, added_taps=report["added_taps"])


def _bands(result):
    return {band: {key: None if v[key] is None else round(float(v[key]), 4)
                   for key in ("ap", "ap50")} | {"num_boxes": int(v["num_boxes"])}
            for band, v in result["size_bands"].items()}


def train_and_evaluate(kind, train, val, settings, out_dir, log=print):
    """Train one model (``kind``: 'whole' or 'tiles') and evaluate it (module docstring).

    Returns
    -------
    net : SSD
        The trained net.
    record : dict
        ``anchors`` (coverage before / after fitting), ``train_s``, ``steps``, ``loss`` (last
        epoch), ``voc07_map``, ``size_bands`` ({band: {ap, ap50, num_boxes}}).
    """
    tile, overlap = settings["tile"], settings["overlap"]
    windows = TiledDataset(train, tile, overlap)
    items = windows if kind == "tiles" else InMemoryDataset(train, len(windows) // len(train))
    net, anchors = _fitted_net(settings["model"], train, tile,
                               tile if kind == "tiles" else None, overlap)
    log(f"{kind}: {len(items)} items an epoch, anchor coverage {anchors['before']:.3f} -> "
        f"{anchors['after']:.3f} after fitting (taps added at strides {anchors['added_taps']})")
    config = TrainConfig(epochs=settings["epochs"], batch_size=settings["batch_size"],
                         lr=settings["lr"], data_shape=tile, seed=settings["seed"])
    start = time.perf_counter()
    rows = fit(net, items, config, os.path.join(out_dir, kind), progress=False,
               log=lambda line: log(f"  {kind}: {line}"))
    train_s = time.perf_counter() - start
    if kind == "tiles":
        result = evaluate(net, val, tile, progress=False, predict=lambda image: predict_tiled(
            net, image, tile, overlap, batch_size=32))
    else:
        result = evaluate(net, val, tile, progress=False)
    steps = settings["epochs"] * -(-len(items) // settings["batch_size"])
    return net, {"anchors": anchors, "train_s": round(train_s, 1), "steps": steps,
                 "items_per_epoch": len(items), "loss": round(rows[-1]["loss"], 4),
                 "voc07_map": round(float(result["voc07_map"]), 4), "size_bands": _bands(result)}


def _timed(call):
    def run():
        start = time.perf_counter()
        out = call()
        mx.nd.waitall()
        return out, time.perf_counter() - start
    return run


def slicing_cost(net, bundle_net, image, tile, overlap, repeats):
    """Times of ``predict_tiled`` (MXNet net, bundle) and of the windows' batch alone.

    Returns
    -------
    dict
        ``windows``, ``megapixels``; medians in ms: ``net_batch_ms`` (the MXNet net on the
        windows' inputs stacked, outputs read back), ``tiled_ms``, ``bundle_tiled_ms``;
        ``ratio`` = ``tiled_ms / net_batch_ms``; ``mxnet_mp_per_s``, ``bundle_mp_per_s``.
    """
    height, width = image.shape[:2]
    windows = tile_grid(width, height, tile, overlap)
    transform = ValTransform(tile, net.mean, net.std)
    empty = np.zeros((0, 5), np.float32)
    batch = mx.nd.stack(*[transform(mx.nd.array(image[y1:y2, x1:x2], dtype="uint8"), empty)[0]
                          for x1, y1, x2, y2 in windows])
    calls = {
        "net_batch": lambda: [o.asnumpy() for o in net(batch)],
        "tiled": lambda: predict_tiled(net, image, tile, overlap, batch_size=len(windows)),
        "bundle_tiled": lambda: predict_tiled(bundle_net, image, tile, overlap,
                                              batch_size=len(windows)),
    }
    runners = {key: (lambda call=call: _timed(call)()[1]) for key, call in calls.items()}
    times = {k: statistics.median(v) for k, v in alternate(runners, repeats, 2).items()}
    megapixels = width * height / 1e6
    return {"windows": len(windows), "megapixels": round(megapixels, 3),
            **{f"{k}_ms": round(1000 * v, 1) for k, v in times.items()},
            "ratio": round(times["tiled"] / times["net_batch"], 3),
            "mxnet_mp_per_s": round(megapixels / times["tiled"], 2),
            "bundle_mp_per_s": round(megapixels / times["bundle_tiled"], 2)}


def _print_results(results, log):
    cost = results["slicing"]
    log(f"sliced inference on a {cost['megapixels']} MP image, {cost['windows']} windows of "
        f"{results['settings']['tile']}: predict_tiled {cost['tiled_ms']} ms vs the windows' "
        f"batch {cost['net_batch_ms']} ms = {cost['ratio']}x (target <= 1.1x); "
        f"{cost['mxnet_mp_per_s']} MP/s MXNet, {cost['bundle_mp_per_s']} MP/s bundle "
        f"({cost['bundle_runtime']})")
    log(f"{'':12}{'VOC07 mAP':>10}{'small':>13}{'medium':>13}{'large':>13}"
        f"{'train s':>9}{'coverage':>16}   (per band: AP 0.50:0.95 / AP50)")
    for kind in ("whole", "tiles"):
        r, bands = results[kind], results[kind]["size_bands"]
        cells = "".join(f"{bands[b]['ap']:.3f}/{bands[b]['ap50']:.3f}".rjust(w)
                        if bands[b]["ap"] is not None else "-".rjust(w)
                        for b, w in (("small", 13), ("medium", 13), ("large", 13)))
        log(f"{kind:12}{r['voc07_map']:>10.3f}{cells}{r['train_s']:>9.0f}"
            f"{r['anchors']['before']:>8.3f}->{r['anchors']['after']:.3f}")
    counts = {b: v["num_boxes"] for b, v in results["tiles"]["size_bands"].items()}
    log(f"validation boxes per band: {counts}; generated data (seed "
        f"{results['settings']['seed']}); {results['machine']}")


def run_tiles(settings=None, out=None, work_dir=None, log=print):
    """The whole benchmark (module docstring); ``settings`` override :data:`TILES_DEFAULTS`.

    Returns
    -------
    dict
        ``settings``, ``data`` (objects, megapixels), ``whole`` and ``tiles``
        (:func:`train_and_evaluate` records), ``slicing`` (:func:`slicing_cost`, plus
        ``bundle_runtime``), ``machine``; also written to ``out`` (JSON) when given.
    """
    settings = dict(TILES_DEFAULTS, **(settings or {}))
    load_start, wall = os.getloadavg(), time.perf_counter()
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        data = generate_scenes(os.path.join(tmp, "scenes"), settings["num_train"],
                               settings["num_val"], tuple(settings["image_size"]),
                               seed=settings["seed"], layouts="voc")
        root = data["root"]
        train = InMemoryDataset(VOCDataset(root, CLASSES, "train"))
        val = InMemoryDataset(VOCDataset(root, CLASSES, "val"))
        results = {"settings": settings, "data": {"objects": data["num_objects"],
                                                  "megapixels": data["megapixels"]}}
        for kind in ("whole", "tiles"):
            net, results[kind] = train_and_evaluate(kind, train, val, settings, tmp, log)
        deploy.export(net, os.path.join(tmp, "bundle"), tuple(settings["tile"]), onnx=True)
        detector = deploy.load(os.path.join(tmp, "bundle"))
        image = val[0][0].asnumpy()
        results["slicing"] = dict(slicing_cost(net, BundleNet(detector), image,
                                               tuple(settings["tile"]), settings["overlap"],
                                               settings["repeats"]),
                                  bundle_runtime=f"{detector.runtime} {detector.precision}")
    results["machine"] = machine_line(mx.cpu(), load_start, os.getloadavg(),
                                      time.perf_counter() - wall)
    _print_results(results, log)
    if out:
        from ..utils.fileio import atomic_write_json
        atomic_write_json(results, out)
    return results

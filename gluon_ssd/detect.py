"""Run a detector on image files: find and decode them, batch them, map boxes back, draw, save.

- :func:`find_images` expands inputs (files, folders, glob patterns) to a sorted list of files.
- :func:`load_image` decodes any file Pillow reads to uint8 RGB with the package's one decoder
  (:func:`gluon_ssd.data.image.read_image`, also behind training, evaluation and calibration):
  grey, palette, 16-bit (scaled, not clipped), float, CMYK; transparency is composited onto white;
  EXIF orientation is applied, so boxes are in the frame an image viewer shows.
- :func:`detect_images` yields one :class:`ImageDetections` per file, in input order, running the
  network on batches. Every image is resized to ``data_shape`` like
  :class:`~gluon_ssd.transforms.ValTransform` does for evaluation (the same transform: an image
  more than twice the input size is first shrunk with Pillow's antialiased filter, so a 6000x4000
  photo is not aliased); boxes come back in ORIGINAL image pixels (:func:`to_original_pixels`):
  ``x * width / input_width``, ``y * height / input_height``, clipped to the image. A file that
  cannot be read gives a result with ``error`` naming it and the others go on.
- :func:`draw_detections` saves a picture of one result; :func:`write_detections` the JSON file.
- :func:`load_detector` rebuilds a network from a training run, a zoo name + weights, or an
  exported bundle (:mod:`gluon_ssd.deploy`).
"""
import glob
import json
import math
import os
from dataclasses import dataclass, field
from typing import List, Optional

import mxnet as mx
import numpy as np
from tqdm import tqdm

from .data.image import IMAGE_EXTENSIONS, read_image
from .model_store import load_weights
from .transforms import ValTransform, antialiased_resize, check_data_shape

__all__ = ["IMAGE_EXTENSIONS", "ImageDetections", "find_images", "load_image", "detect_images",
           "draw_detections", "write_detections", "to_original_pixels", "load_detector",
           "add_detector_arguments", "detector_from_arguments"]



@dataclass
class ImageDetections:
    """The detections of one image file (or why it has none).

    Attributes
    ----------
    file : str
        The path as found by :func:`find_images`.
    width, height : int
        Size of the original image in pixels (after EXIF orientation); 0 when ``error`` is set.
    detections : list of dict
        ``{'class': name, 'class_id': int, 'score': float, 'box': [x1, y1, x2, y2]}`` with the
        box in original image pixels, highest score first.
    error : str or None
        Why the file could not be processed (the message names the file).
    image : numpy.ndarray or None
        uint8 ``(h, w, 3)`` RGB copy of the image for drawing, at most ``max_side`` pixels on a
        side (not written to JSON).
    picture : str or None
        Name of the picture drawn for it, when the caller drew one (written to JSON).
    """
    file: str
    width: int = 0
    height: int = 0
    detections: List[dict] = field(default_factory=list)
    error: Optional[str] = None
    image: Optional[np.ndarray] = field(default=None, repr=False)
    picture: Optional[str] = None

    def to_dict(self):
        """JSON-ready: ``file``, ``width``, ``height``, ``detections`` (``picture`` when set); or
        ``file``, ``error``."""
        if self.error is not None:
            return {"file": self.file, "error": self.error}
        record = {"file": self.file, "width": self.width, "height": self.height,
                  "detections": self.detections}
        if self.picture is not None:
            record["picture"] = self.picture
        return record


def find_images(inputs):
    """Expand files, folders and glob patterns to a list of files, in order, without duplicates.

    A folder gives its files (not sub-folders) whose extension is in :data:`IMAGE_EXTENSIONS`,
    sorted; a glob pattern (``*``, ``?``, ``[``; ``**`` recursive) gives every file it matches,
    sorted; a file is taken as it is, whatever its extension (a non-image then fails in
    :func:`load_image`, naming it).

    Raises
    ------
    ValueError
        An input that is neither an existing file nor a folder, or a folder or pattern with no
        image in it (the message names the input).
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    found = []
    for item in inputs:
        item = os.fspath(item)
        if os.path.isfile(item):
            files = [item]
        elif os.path.isdir(item):
            files = sorted(os.path.join(item, name) for name in os.listdir(item)
                           if name.lower().endswith(IMAGE_EXTENSIONS)
                           and os.path.isfile(os.path.join(item, name)))
            if not files:
                raise ValueError(f"folder {item!r} holds no image file "
                                 f"({', '.join(IMAGE_EXTENSIONS)})")
        elif glob.has_magic(item):
            files = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
            if not files:
                raise ValueError(f"no file matches {item!r}")
        else:
            raise ValueError(f"input {item!r} is not a file, a folder or a glob pattern")
        found.extend(files)
    return list(dict.fromkeys(found))


def load_image(path):
    """Decode an image file to uint8 ``(H, W, 3)`` RGB in the orientation a viewer shows.

    The decoder training and evaluation use too (:func:`gluon_ssd.data.image.read_image`): 16-bit
    scaled to 8 bits, transparency composited onto white, EXIF orientation applied, truncated
    files refused.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Pillow cannot read it (not an image, truncated, corrupt, over Pillow's size limit); the
        message starts with the path.
    """
    return read_image(path)


def _prepare(path, data_shape, transform, max_side):
    """(network input (3, H, W) NDArray, original (width, height), drawing copy)."""
    image = load_image(path)
    height, width = image.shape[:2]
    # ValTransform shrinks big images with an antialiased filter first, as in evaluation.
    data, _ = transform(mx.nd.array(image, dtype="uint8"), np.zeros((0, 5), np.float32))
    scale = min(1.0, max_side / max(width, height))
    picture = image if scale == 1.0 else antialiased_resize(
        image, max(1, round(width * scale)), max(1, round(height * scale)))
    return data, (width, height), picture


def detect_images(net, paths, data_shape, thresh=0.5, batch_size=8, ctx=None, class_names=None,
                  mean=None, std=None, max_side=1280, progress=True):
    """Detect objects in image files, ``batch_size`` images per forward pass.

    Parameters
    ----------
    net : SSD or callable
        Inference-mode detector: ``(B, 3, H, W)`` -> ``ids (B, K, 1)``, ``scores (B, K, 1)``,
        ``bboxes (B, K, 4)`` corners in input pixels (-1 padded).
    paths : sequence of str
        Image files (see :func:`find_images`).
    data_shape : tuple of 2 int
        Network input ``(height, width)``; every image is resized to it.
    thresh : float, default 0.5
        Detections with a lower score are dropped.
    batch_size : int, default 8
    ctx : mxnet.Context, optional
        Where the network's parameters are; default CPU.
    class_names : sequence of str, optional
        Default ``net.classes``.
    mean, std : tuple of 3 float, optional
        Input normalisation; default ``net.mean`` / ``net.std``.
    max_side : int, default 1280
        Longest side of the drawing copy kept in :attr:`ImageDetections.image`.
    progress : bool, default True
        tqdm progress bar over the images.

    Yields
    ------
    ImageDetections
        One per path, in the order of ``paths``; unreadable files have ``error`` set.
    """
    data_shape = check_data_shape(data_shape)
    if batch_size < 1 or max_side < 1:
        raise ValueError(f"batch_size and max_side must be >= 1, got {batch_size}, {max_side}")
    ctx = ctx or mx.cpu()
    class_names = list(class_names if class_names is not None else net.classes)
    transform = ValTransform(data_shape,
                             mean if mean is not None else net.mean,
                             std if std is not None else net.std)
    pending, inputs = [], []
    with tqdm(paths, desc="detect", unit="image", disable=not progress) as bar:
        for path in bar:
            try:
                data, (width, height), picture = _prepare(path, data_shape, transform, max_side)
            except (FileNotFoundError, ValueError) as err:
                pending.append(ImageDetections(os.fspath(path), error=str(err)))
                continue
            pending.append(ImageDetections(os.fspath(path), width, height, image=picture))
            inputs.append(data)
            if len(inputs) == batch_size:
                yield from _flush(net, pending, inputs, data_shape, thresh, ctx, class_names)
                pending, inputs = [], []
        yield from _flush(net, pending, inputs, data_shape, thresh, ctx, class_names)


def _flush(net, pending, inputs, data_shape, thresh, ctx, class_names):
    """Run the batch ``inputs`` and fill in the results in ``pending`` (in order)."""
    if inputs:
        ids, scores, bboxes = net(mx.nd.stack(*inputs).as_in_context(ctx))
        ids, scores, bboxes = ids.asnumpy(), scores.asnumpy(), bboxes.asnumpy()
    k = 0
    for result in pending:
        if result.error is None:
            result.detections = to_original_pixels(ids[k, :, 0], scores[k, :, 0], bboxes[k],
                                             data_shape, result.width, result.height, thresh,
                                             class_names)
            k += 1
        yield result


def to_original_pixels(ids, scores, boxes, data_shape, width, height, thresh, class_names):
    """One image's detections with boxes mapped from input pixels to original pixels.

    Parameters
    ----------
    ids, scores : numpy.ndarray
        ``(K,)`` class ids (-1 for padding) and scores of the network's output.
    boxes : numpy.ndarray
        ``(K, 4)`` corners ``[x1, y1, x2, y2]`` in input pixels.
    data_shape : (int, int)
        Network input ``(height, width)``.
    width, height : int
        Original image size; boxes scale by ``width / input_width``, ``height / input_height``
        and are clipped to ``[0, width] x [0, height]``.
    thresh : float
        Detections scoring lower are dropped.
    class_names : sequence of str

    Returns
    -------
    list of dict
        ``{'class', 'class_id', 'score', 'box': [x1, y1, x2, y2]}`` (box rounded to 0.01 px),
        highest score first. :func:`gluon_ssd.evaluate.evaluate` (COCO metric) uses it too.
    """
    keep = (ids >= 0) & (scores >= thresh)
    scale = np.array([width / data_shape[1], height / data_shape[0]] * 2)
    limit = np.array([width, height] * 2, dtype=np.float64)
    out = []
    for cls, score, box in zip(ids[keep], scores[keep], boxes[keep]):
        box = np.clip(box.astype(np.float64) * scale, 0, limit)
        cls = int(round(float(cls)))
        if cls >= len(class_names):
            raise ValueError(f"the network predicted class id {cls}, but only "
                             f"{len(class_names)} class names are known: {class_names}")
        out.append({"class": class_names[cls], "class_id": cls, "score": float(score),
                    "box": [round(float(v), 2) for v in box]})
    out.sort(key=lambda d: -d["score"])
    return out


def draw_detections(result, path, class_names, dpi=100):
    """Save a picture of ``result.image`` with its detections (boxes, class names, scores).

    Parameters
    ----------
    result : ImageDetections
        A result without ``error`` (its ``image`` holds the drawing copy).
    path : str
        Output file; the format comes from the extension.
    class_names : sequence of str
        All class names, indexed by ``class_id`` (colours stay the same from image to image).
    dpi : int, default 100
        The picture has the drawing copy's size in pixels.

    Returns
    -------
    str
        ``path``.
    """
    # A pyplot-free Figure: drawing files must not switch the caller's backend (a notebook's).
    from matplotlib.figure import Figure

    from .viz import plot_detections, save_figure
    if result.error is not None or result.image is None:
        raise ValueError(f"nothing to draw for {result.file}: "
                         f"{result.error or 'no image kept (image=None)'}")
    h, w = result.image.shape[:2]
    scale = np.array([w / result.width, h / result.height] * 2)
    dets = result.detections
    boxes = np.array([d["box"] for d in dets], np.float64).reshape(-1, 4) * scale
    scores = np.array([d["score"] for d in dets], np.float64)
    ids = np.array([d["class_id"] for d in dets], np.float64)
    fig = Figure(figsize=(w / dpi, h / dpi), dpi=dpi)
    ax = fig.add_axes([0, 0, 1, 1])
    plot_detections(result.image, boxes, scores, ids, list(class_names), thresh=-math.inf, ax=ax)
    ax.set_axis_off()
    return save_figure(fig, path, dpi=dpi)


def write_detections(results, path, **meta):
    """Write ``{**meta, 'images': [...], 'errors': [...]}`` as JSON, atomically.

    ``images`` holds :meth:`ImageDetections.to_dict` of the readable files, ``errors``
    ``{'file', 'error'}`` of the others. Returns the record written.
    """
    from .fileio import atomic_write
    record = dict(meta)
    record["images"] = [r.to_dict() for r in results if r.error is None]
    record["errors"] = [r.to_dict() for r in results if r.error is not None]

    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(record, f, indent=1)

    atomic_write(path, write)
    return record


class _BundleNet:
    """A :class:`gluon_ssd.deploy.Detector` behind the interface :func:`detect_images` and
    :func:`~gluon_ssd.evaluate.evaluate` use, an SSD's: ``classes``, ``mean``/``std`` (the
    bundle manifest's input normalisation), and a call on normalised ``(B, 3, H, W)`` input."""

    def __init__(self, detector):
        self.detector = detector
        self.classes = tuple(detector.classes)
        spec = detector.manifest["input"]
        self.mean = tuple(float(v) for v in spec["mean"])
        self.std = tuple(float(v) for v in spec["std"])

    def __call__(self, x):
        if self.detector.preprocess:
            # The graph normalises uint8 NHWC pixels itself: undo ValTransform's normalisation
            # (exact: the pixels were uint8 before it).
            mean = mx.nd.array(self.mean, ctx=x.context).reshape((1, 3, 1, 1))
            std = mx.nd.array(self.std, ctx=x.context).reshape((1, 3, 1, 1))
            x = mx.nd.clip(mx.nd.round(mx.nd.broadcast_add(mx.nd.broadcast_mul(x, std), mean)
                                       * 255), 0, 255)
            x = x.transpose((0, 2, 3, 1)).astype("uint8")
        return self.detector(x)


def load_detector(run=None, model=None, params=None, classes=None, bundle=None, ctx=None):
    """A detector ready for inference and its default input shape: ``(net, (height, width))``.

    Give exactly one source:

    - ``run``: a training run folder; architecture, classes, weights and ``data_shape`` come
      from its verified latest checkpoint.
    - ``model``: a zoo name, with ``params`` (a weights file) and optionally ``classes``
      (default: the zoo dataset's); the shape is the model's base size.
    - ``bundle``: a folder written by :func:`gluon_ssd.deploy.export` (verified, main graph);
      the shape is the one it was exported with. The returned object is a thin wrapper taking
      normalised ``(B, 3, H, W)`` input like an :class:`~gluon_ssd.SSD`.

    Raises
    ------
    ValueError
        Not exactly one source, ``model`` without ``params``, a missing file, a bad checkpoint or
        bundle (the message names it).
    """
    from . import zoo
    from .train import load_trained
    ctx = ctx or mx.cpu()
    if sum(source is not None for source in (run, model, bundle)) != 1:
        raise ValueError("give exactly one of run (a training run folder), model (a zoo name, "
                         "with params) or bundle (an exported folder)")
    if run is not None:
        net, record = load_trained(run, ctx)
        shape = tuple(record["config"]["data_shape"])
    elif bundle is not None:
        from . import deploy
        detector = deploy.load(bundle, ctx=ctx)
        spec = detector.manifest["input"]
        shape = tuple(spec["shape"][1:3] if spec["preprocess"] else spec["shape"][2:4])
        return _BundleNet(detector), shape
    else:
        if params is None:
            raise ValueError(f"model {model!r} needs params (a .params weights file)")
        if not os.path.isfile(params):
            raise ValueError(f"params file not found: {params}")
        net = zoo.get_model(model, pretrained_base=False, classes=classes)
        load_weights(net, params, f"the weights of {model}", ctx=ctx)
        base = net.base_size
        shape = (base, base)
    net.hybridize()
    return net, shape


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
    from .cli import parse_ctx
    if (args.run or args.bundle) and (args.params or args.classes):
        raise ValueError("--params and --classes go with --model; a --run or --bundle has its own")
    classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
    ctx = parse_ctx(args.ctx, single=True)
    net, shape = load_detector(run=args.run, model=args.model, params=args.params,
                               classes=classes, bundle=args.bundle, ctx=ctx)
    return net, tuple(args.data_shape or shape), ctx

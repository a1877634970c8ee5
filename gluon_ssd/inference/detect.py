"""Run a detector on image files in batches; boxes come back in original image pixels.

:func:`detect_images` yields one :class:`ImageDetections` per file, in input order, running the
network on batches. Every image is resized to ``data_shape`` as
:class:`~gluon_ssd.data.transforms.ValTransform` does for evaluation (an image more than twice the
input size is first shrunk with Pillow's antialiased filter, so a 6000x4000 photo is not aliased);
boxes come back in ORIGINAL image pixels (:func:`gluon_ssd.data.transforms.to_original_pixels`).
A file that cannot be read gives a result with ``error`` naming it and the others go on. Files
are decoded by the package's one decoder (:func:`gluon_ssd.data.image.read_image`). With
``tile``, each image is detected window by window (:func:`gluon_ssd.inference.tiles.predict_tiled`:
windows batched, boxes shifted back, merged by per-class NMS).
"""
import os
from dataclasses import dataclass, field
from typing import List, Optional

import mxnet as mx
import numpy as np
from tqdm import tqdm

from ..data.image import read_image
from ..data.transforms import (ValTransform, antialiased_resize, check_data_shape,
                               to_original_pixels)
from .tiles import predict_tiled

__all__ = ["ImageDetections", "detect_images"]



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


def _prepare(path, data_shape, transform, max_side):
    """(network input (3, H, W) NDArray, original (width, height), drawing copy)."""
    image = read_image(path)
    height, width = image.shape[:2]
    # ValTransform shrinks big images with an antialiased filter first, as in evaluation.
    data, _ = transform(mx.nd.array(image, dtype="uint8"), np.zeros((0, 5), np.float32))
    scale = min(1.0, max_side / max(width, height))
    picture = image if scale == 1.0 else antialiased_resize(
        image, max(1, round(width * scale)), max(1, round(height * scale)))
    return data, (width, height), picture


def detect_images(net, paths, data_shape, thresh=0.5, batch_size=8, ctx=None, class_names=None,
                  mean=None, std=None, max_side=1280, progress=True, tile=None, **tiling):
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
    tile : (int, int), optional
        Detect each image in windows of ``(height, width)`` pixels, ``batch_size`` windows per
        forward pass, each resized to ``data_shape``; ``tiling``: ``overlap``, ``whole_image``,
        ``merge``, ``nms_thresh`` of :func:`~gluon_ssd.inference.tiles.predict_tiled`.

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
    mean = mean if mean is not None else net.mean
    std = std if std is not None else net.std
    if tile is not None:
        yield from _detect_tiled(net, paths, data_shape, thresh, batch_size, ctx, class_names,
                                 (mean, std), max_side, progress, tile, tiling)
        return
    transform = ValTransform(data_shape, mean, std)
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


def _detect_tiled(net, paths, data_shape, thresh, batch_size, ctx, class_names, norm,
                  max_side, progress, tile, tiling):
    """:func:`detect_images` with ``tile``: one image at a time, its windows batched."""
    mean, std = norm
    for path in tqdm(paths, desc="detect (tiles)", unit="image", disable=not progress):
        try:
            image = read_image(path)
        except (FileNotFoundError, ValueError) as err:
            yield ImageDetections(os.fspath(path), error=str(err))
            continue
        height, width = image.shape[:2]
        ids, scores, boxes = predict_tiled(net, image, tile, data_shape=data_shape,
                                           batch_size=batch_size, ctx=ctx, mean=mean, std=std,
                                           **tiling)
        scale = min(1.0, max_side / max(width, height))
        picture = image if scale == 1.0 else antialiased_resize(
            image, max(1, round(width * scale)), max(1, round(height * scale)))
        yield ImageDetections(os.fspath(path), width, height, image=picture,
                              detections=to_original_pixels(ids, scores, boxes, (height, width),
                                                            width, height, thresh, class_names))

"""Image + box transforms for SSD training and evaluation, built on gluoncv's transform functions.

Every transform maps ``(image (H, W, 3) uint8 NDArray, label (M, >=5) numpy)`` with label rows
``[x1, y1, x2, y2, class_id, ...]`` in image pixels to ``(image (3, h, w) float32 NDArray,
normalised, label (M, >=5) float32)`` with boxes in the ``(h, w)`` network input's pixels.

Augmentation modes of :func:`train_transform`:

- ``'ssd'``: the SSD paper's augmentation, gluoncv's ``SSDDefaultTrainTransform`` (photometric
  distortion, zoom-out expansion with probability 0.5, IoU-constrained random crop, resize with a
  random interpolation, horizontal flip).
- ``'flip'``: resize and horizontal flip only. On generated data, where fresh images are cheap,
  this trains a from-scratch detector faster than heavy augmentation, whose zoom-out and crops
  make each image harder to learn (the comparison: docs/benchmarks.md).
- ``'none'``: resize only.

Randomness comes from numpy's global generator (gluoncv's functions use it): seed it per epoch
(:func:`gluon_ssd.training.fit` does) for reproducible runs.
"""
import mxnet as mx
import numpy as np
from gluoncv.data.batchify import Pad, Stack, Tuple
from gluoncv.data.transforms import bbox as tbbox
from gluoncv.data.transforms import image as timage
from gluoncv.data.transforms.presets.ssd import SSDDefaultTrainTransform
from PIL import Image

from ..utils.checks import check_data_shape

__all__ = ["AUGMENTATIONS", "train_transform", "ValTransform", "antialiased_resize", "batchify",
           "check_data_shape"]

AUGMENTATIONS = ("ssd", "flip", "none")


class _ResizeFlip:
    """Resize to ``(width, height)`` (bilinear), then flip horizontally with probability ``flip``."""

    def __init__(self, width, height, mean, std, flip):
        self._size, self._mean, self._std, self._flip = (width, height), mean, std, flip

    def __call__(self, src, label):
        h, w, _ = src.shape
        img = timage.imresize(src, *self._size, interp=1)
        bbox = tbbox.resize(np.asarray(label, dtype=np.float32), (w, h), self._size)
        if self._flip > 0:
            img, flips = timage.random_flip(img, px=self._flip)
            bbox = tbbox.flip(bbox, self._size, flip_x=flips[0])
        return self.normalize(img), bbox.astype(np.float32)

    def normalize(self, img):
        """uint8 ``(H, W, 3)`` or ``(N, H, W, 3)`` NDArray -> float32 ``([N,] 3, H, W)``:
        ``(x / 255 - mean) / std``."""
        return mx.nd.image.normalize(mx.nd.image.to_tensor(img), mean=self._mean, std=self._std)


def train_transform(data_shape, mean, std, augment="flip"):
    """The training transform for ``data_shape = (height, width)``.

    Parameters
    ----------
    data_shape : tuple of 2 int
        Network input ``(height, width)``.
    mean, std : tuple of 3 float
        Input normalisation (RGB in [0, 1]), e.g. ``net.mean`` / ``net.std``.
    augment : {'ssd', 'flip', 'none'}
        See the module docstring.
    """
    if augment not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {augment!r}")
    height, width = check_data_shape(data_shape)
    if augment == "ssd":
        return SSDDefaultTrainTransform(width, height, anchors=None, mean=tuple(mean), std=tuple(std))
    return _ResizeFlip(width, height, tuple(mean), tuple(std), 0.5 if augment == "flip" else 0.0)


class ValTransform(_ResizeFlip):
    """Resize to ``data_shape = (height, width)`` and normalise; no randomness.

    The one inference preprocessing: evaluation (:func:`gluon_ssd.evaluation.evaluate`) and
    detection (:func:`gluon_ssd.inference.detect_images`) both use it, so they see the same input.
    An image more than twice the input size on a side is first shrunk to at most twice the input
    with Pillow's antialiased bilinear filter (plain bilinear resizing skips pixels and aliases a
    6000x4000 photo); both steps map the whole image onto the whole target, so boxes still scale
    by ``input_width / width`` and ``input_height / height``.
    """

    def __init__(self, data_shape, mean, std):
        height, width = check_data_shape(data_shape)
        super().__init__(width, height, tuple(mean), tuple(std), 0.0)

    def __call__(self, src, label):
        h, w = src.shape[:2]
        in_w, in_h = self._size
        if w > 2 * in_w or h > 2 * in_h:
            small = (min(w, 2 * in_w), min(h, 2 * in_h))
            src = mx.nd.array(antialiased_resize(src.asnumpy(), *small), dtype="uint8")
            label = tbbox.resize(np.asarray(label, dtype=np.float32), (w, h), small)
        return super().__call__(src, label)


def antialiased_resize(image, width, height):
    """uint8 ``(H, W, 3)`` numpy ``image`` resized to ``(width, height)`` with Pillow's
    antialiased bilinear filter."""
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))


class _PadLabels:
    """gluoncv's ``Pad(pad_val=-1)`` of the labels, with at least one row per image.

    A batch whose images all have no object would otherwise be ``(B, 0, 6)``, which MXNet cannot
    copy between devices (``_copyto inferring shapes failed``) and the matcher cannot use.
    """

    def __init__(self):
        self._pad = Pad(pad_val=-1)

    def __call__(self, labels):
        labels = [np.full((1,) + label.shape[1:], -1, label.dtype) if len(label) == 0 else label
                  for label in (np.asarray(label) for label in labels)]
        return self._pad(labels)


def batchify():
    """Batch ``(image, label)`` items: images stacked, labels padded with -1 rows to ``(B, M, 6)``,
    ``M >= 1`` (a batch without any object gets one padding row per image)."""
    return Tuple(Stack(), _PadLabels())


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
        highest score first. Detection and COCO evaluation use it.
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

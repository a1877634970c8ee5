"""Images for calibration and agreement checks: loading, resizing, normalizing (numpy)."""
import os

import mxnet as mx
import numpy as np

from ..data.files import find_images
from ..data.image import IMAGE_EXTENSIONS, read_image

__all__ = ["load_images", "normalize_images", "IMAGE_EXTENSIONS"]


def load_images(source, data_shape, limit=None):
    """Images resized to ``data_shape``, as uint8 RGB.

    Parameters
    ----------
    source : str or sequence of array
        A folder, a glob pattern or a file, found by :func:`gluon_ssd.data.files.find_images`
        (a folder's image files sorted by name) and decoded by
        :func:`gluon_ssd.data.image.read_image` like training images; or arrays ``(H, W, 3)``
        uint8 RGB of any size (a list, or one ``(N, H, W, 3)`` array).
    data_shape : (int, int)
        ``(H, W)`` to resize to (plain resize, aspect ratio not kept).
    limit : int, optional
        Use at most this many.

    Returns
    -------
    numpy.ndarray
        ``(N, H, W, 3)`` uint8.
    """
    h, w = data_shape
    if isinstance(source, (str, os.PathLike)):
        try:
            files = find_images(source)
        except ValueError as err:
            raise ValueError(f"calibration images: {err}") from None
        images = [read_image(f) for f in (files[:limit] if limit else files)]
    else:
        images = [np.asarray(im) for im in source]
        images = images[:limit] if limit else images
        if not images:
            raise ValueError("calibration images: the list is empty")
        for k, im in enumerate(images):
            if im.ndim != 3 or im.shape[2] != 3 or im.dtype != np.uint8:
                raise ValueError(f"calibration image {k}: expected (H, W, 3) uint8 RGB, got "
                                 f"{im.shape} {im.dtype}")
    out = [im if im.shape[:2] == (h, w) else
           mx.image.imresize(mx.nd.array(im, dtype="uint8"), w, h).asnumpy() for im in images]
    return np.stack(out).astype(np.uint8)


def normalize_images(images, mean, std):
    """uint8 ``(N, H, W, 3)`` RGB -> float32 ``(N, 3, H, W)``: ``(x / 255 - mean) / std``."""
    x = np.asarray(images, np.float32) / 255.0
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

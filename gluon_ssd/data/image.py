"""The one image decoder of gluon_ssd: training, evaluation, detection and int8 calibration.

:func:`read_image` decodes any file Pillow reads to uint8 ``(H, W, 3)`` RGB, the same way for every
caller (``VOCDataset``, ``COCODataset``, so :func:`~gluon_ssd.evaluation.evaluate` and
:func:`~gluon_ssd.training.fit`; :func:`gluon_ssd.inference.load_image`; the folder source of
:func:`gluon_ssd.deploy.load_images`), so a model sees the same pixels in training as in
deployment:

- **EXIF orientation is applied** (as detectron2's ``read_image`` does, for training and inference
  alike): the pixels are in the frame an image viewer shows, which is the frame in which labelling
  tools show the image and in which detections are reported.
- **16-bit** images are scaled to 8 bits (``x / 257``: 65535 -> 255), not clipped at 255; float
  images in [0, 1] are scaled by 255.
- **Transparency** (RGBA, LA, palette or grey with a transparent colour) is composited onto white.
- **CMYK, grey-scale, palette, YCbCr** and other modes are converted to RGB by Pillow.
- **Truncated or corrupt files are refused** with ``ValueError`` naming the file, even when some
  library has switched on Pillow's process-wide ``ImageFile.LOAD_TRUNCATED_IMAGES`` (gluoncv does,
  at import, in ``gluoncv.data.mhp``: Pillow then fills the missing part of a file with black and
  says nothing). Importing this module switches it back off; a decode that finds it on again turns
  it off for its own duration, under a lock.

:func:`check_recorded_size` compares the size an annotation records with the decoded image: a
width/height swap explained by the file's EXIF orientation is refused (the boxes were drawn on the
stored pixel grid, the decoder rotates the pixels, so every box would be wrong), any other
difference is warned about (the caller clips the boxes to the image).
"""
import io
import os
import threading
import warnings

import gluoncv.data  # noqa: F401  (switches LOAD_TRUNCATED_IMAGES on; switched off below)
import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

__all__ = ["read_image", "decode_image", "decode_bytes", "image_size", "check_recorded_size",
           "ImageSizeWarning",
           "EXIF_ORIENTATION_TAG", "IMAGE_EXTENSIONS"]

# What a folder of images is taken to hold (detection inputs, calibration images): the formats
# Pillow decodes that cameras, labelling tools and datasets write.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                    ".pgm", ".pbm")

EXIF_ORIENTATION_TAG = 0x0112
_SWAPS_AXES = (5, 6, 7, 8)          # EXIF orientations that transpose width and height
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_TRUNCATION_LOCK = threading.Lock()

ImageFile.LOAD_TRUNCATED_IMAGES = False   # undo gluoncv's import-time switch (module docstring)


class ImageSizeWarning(UserWarning):
    """An annotation's recorded image size differs from the decoded image."""


def decode_image(path):
    """Decode ``path`` to uint8 ``(H, W, 3)`` RGB (module docstring) and report its orientation.

    Parameters
    ----------
    path : str or os.PathLike
        An image file in any format Pillow reads.

    Returns
    -------
    image : numpy.ndarray
        uint8 ``(H, W, 3)`` RGB, EXIF orientation applied.
    orientation : int
        The file's EXIF orientation (1 when it has none): 5-8 mean the stored pixel grid was
        ``(W, H)`` before the decoder turned it.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Not an image, truncated, corrupt, or over Pillow's size limit; the message starts with the
        path.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image file not found: {path}")
    return _decode(path, path, lambda: _has_jpeg_end_marker(path))


def decode_bytes(data, name="<bytes>"):
    """:func:`decode_image` of an image held in memory (an upload, a database blob).

    Parameters
    ----------
    data : bytes-like
        The file's bytes, in any format Pillow reads.
    name : str
        What the messages call it (a file name, ``'upload'``).

    Returns
    -------
    image, orientation
        As :func:`decode_image`.

    Raises
    ------
    ValueError
        Not an image, truncated, corrupt, or over Pillow's size limit; the message starts with
        ``name``.
    """
    data = bytes(data)
    return _decode(io.BytesIO(data), name, lambda: data[-2:] == b"\xff\xd9")


def _decode(source, name, has_end_marker):
    """Decode ``source`` (a path or a binary file object); messages start with ``name``."""
    try:
        with Image.open(source) as img:
            _load_refusing_truncation(img)
            orientation = int(img.getexif().get(EXIF_ORIENTATION_TAG, 1) or 1)
            fmt = img.format
            img = ImageOps.exif_transpose(img)
            array = _to_rgb(img)
    except UnidentifiedImageError:
        raise ValueError(f"{name}: not an image file (Pillow cannot identify its format)") from None
    except Image.DecompressionBombError as err:
        raise ValueError(f"{name}: too large ({err}); raise PIL.Image.MAX_IMAGE_PIXELS if the "
                         f"file is trusted") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"{name}: cannot decode image (truncated or corrupt?): {err}") from None
    if fmt == "JPEG" and ImageFile.LOAD_TRUNCATED_IMAGES and not has_end_marker():
        # Someone switched the tolerance on while this decode ran unlocked (another thread):
        # Pillow may have filled a truncated file silently. Only then is the end-of-image marker
        # required to close the file (valid JPEGs may carry trailing bytes after it).
        raise ValueError(f"{name}: truncated JPEG (no end-of-image marker)")
    return array, orientation


def read_image(path):
    """:func:`decode_image` without the orientation: uint8 ``(H, W, 3)`` RGB."""
    return decode_image(path)[0]


def image_size(path):
    """``(width, height)`` of the image :func:`decode_image` gives, from the file's header only
    (EXIF orientation applied; no pixel decoded). Raises like :func:`decode_image`."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with Image.open(path) as img:
            width, height = img.size
            orientation = int(img.getexif().get(EXIF_ORIENTATION_TAG, 1) or 1)
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not an image file (Pillow cannot identify its format)") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"{path}: cannot read the image header: {err}") from None
    return (height, width) if orientation in _SWAPS_AXES else (width, height)


def check_recorded_size(recorded, image_shape, orientation, image_path, annotation,
                        category=ImageSizeWarning):
    """Compare an annotation's recorded ``(width, height)`` with the decoded image.

    Parameters
    ----------
    recorded : (int, int) or None
        ``(width, height)`` the annotation records; None (unknown) is accepted.
    image_shape : tuple
        Shape of the decoded image, ``(H, W, ...)``.
    orientation : int
        EXIF orientation returned by :func:`decode_image`.
    image_path, annotation : str
        Named in the messages (``annotation``: the file, and the entry within it).
    category : type, default ImageSizeWarning
        Warning class of a mismatch (a reader's own, e.g. ``VOCAnnotationWarning``).

    Returns
    -------
    bool
        True when the sizes agree (or nothing is recorded); False after warning
        (``category``) about another difference: the caller clips the boxes to the
        decoded image.

    Raises
    ------
    ValueError
        The recorded size is the decoded one with width and height swapped and the file's EXIF
        orientation (5-8) explains the swap: boxes drawn on the stored pixels would be wrong on
        the turned image.
    """
    if recorded is None:
        return True
    height, width = image_shape[:2]
    recorded = (int(recorded[0]), int(recorded[1]))
    if recorded == (width, height):
        return True
    if recorded == (height, width) and orientation in _SWAPS_AXES:
        raise ValueError(
            f"{annotation}: records the image as {recorded[0]}x{recorded[1]}, but {image_path} "
            f"has EXIF orientation {orientation}, so it decodes (turned upright, as every "
            f"gluon_ssd reader does) to {width}x{height}: the boxes were drawn on the stored "
            "pixels. Save the image upright without the EXIF tag (PIL.ImageOps.exif_transpose) "
            "and turn its boxes the same way, or re-annotate it.")
    warnings.warn(f"{annotation}: records the image as {recorded[0]}x{recorded[1]} but "
                  f"{image_path} is {width}x{height}; boxes clipped to the image",
                  category, stacklevel=3)
    return False


def _load_refusing_truncation(img):
    """``img.load()``, with Pillow's truncation tolerance off while it runs."""
    if not ImageFile.LOAD_TRUNCATED_IMAGES and not _TRUNCATION_LOCK.locked():
        img.load()
        return
    with _TRUNCATION_LOCK:
        tolerant = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            img.load()
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = tolerant


def _has_jpeg_end_marker(path):
    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - 2))
        return f.read() == b"\xff\xd9"


def _to_rgb(img):
    """uint8 (H, W, 3) RGB of a loaded Pillow image of any mode."""
    if img.mode in _SIXTEEN_BIT:
        grey = np.asarray(img).astype(np.float32) / 257.0  # 65535 -> 255
        return np.repeat(_to_uint8(grey)[..., None], 3, axis=2)
    if img.mode == "F":
        grey = np.asarray(img, dtype=np.float32)
        finite = grey[np.isfinite(grey)]
        if finite.size and finite.max() <= 1.0:
            grey = grey * 255.0
        return np.repeat(_to_uint8(np.nan_to_num(grey))[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:] / 255.0
        return _to_uint8(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha))
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _to_uint8(array):
    return np.clip(np.round(array), 0, 255).astype(np.uint8)

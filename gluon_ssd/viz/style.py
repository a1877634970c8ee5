"""What every picture shares: class colours, axes, array and size checks, and atomic saving.

The ``_`` helpers are the viz package's own internals, used by its picture modules only.
"""
import os

import mxnet as mx
import numpy as np

from ..utils.checks import check_data_shape, is_int
from ..utils.fileio import atomic_write


_GOLDEN = 0.618033988749895


def _class_color(cls_id):
    """A stable RGBA colour for a class id: hues spread by the golden ratio (-1: grey)."""
    # matplotlib is imported when drawing, not with the package: it is slow to import.
    from matplotlib import colors
    if cls_id < 0:
        return (0.5, 0.5, 0.5, 1.0)
    hue = (0.1 + cls_id * _GOLDEN) % 1.0
    return tuple(colors.hsv_to_rgb((hue, 0.85, 0.95))) + (1.0,)


def _new_axes(ax):
    if ax is None:
        from matplotlib import pyplot as plt  # imported when drawing: slow to import
        _, ax = plt.subplots()
    return ax


def _as_numpy(x, what):
    if isinstance(x, mx.nd.NDArray):
        return x.asnumpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{what} must be a numeric array or NDArray, "
                        f"got {type(x).__name__}") from err


def _as_image(image):
    """``(H, W, 3)`` uint8 RGB from an HWC uint8/float array or NDArray (floats <= 1 scaled)."""
    if isinstance(image, mx.nd.NDArray):
        image = image.asnumpy()
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array or NDArray, got {type(image).__name__}")
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) RGB or (H, W) grey, got shape {image.shape}"
                         + ("; a (3, H, W) tensor needs .transpose(1, 2, 0)"
                            if image.ndim == 3 and image.shape[0] == 3 else ""))
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is empty: shape {image.shape}")
    if image.dtype == np.uint8:
        return image
    image = image.astype(np.float64)
    finite = image[np.isfinite(image)]
    if finite.size and finite.max() <= 1.0:
        image = image * 255.0
    return np.clip(np.nan_to_num(image), 0, 255).round().astype(np.uint8)


def _image_size(image_size):
    """``(height, width)`` ints from an int side or a pair of ints (a TypeError / ValueError)."""
    return check_data_shape((image_size, image_size) if is_int(image_size) else image_size,
                            "image_size")


def save_figure(fig, path, **savefig_kwargs):
    """Write a figure atomically: to a temporary file in the same folder, then ``os.replace``.

    A reader never sees a half-written file and a failed save leaves the old file (if any) as it
    was. The format comes from the extension (``png`` without one); the file gets the permissions
    of an ordinary new file (0666 less the umask).

    Parameters
    ----------
    fig : matplotlib.figure.Figure or matplotlib.axes.Axes
        The figure (an Axes means its figure).
    path : str or os.PathLike
        Destination; its folder must exist.
    **savefig_kwargs
        Passed to ``Figure.savefig`` (``dpi``, ``bbox_inches``, ...), not ``format``.

    Returns
    -------
    str
        ``path``.
    """
    # matplotlib is imported when drawing, not with the package: it is slow to import.
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    if isinstance(fig, Axes):
        fig = fig.figure
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure or Axes, got {type(fig).__name__}")
    if "format" in savefig_kwargs:
        raise ValueError("the format comes from the path's extension; do not pass format=")
    path = os.fspath(path)
    folder, base = os.path.split(os.path.abspath(path))
    fmt = os.path.splitext(base)[1][1:].lower() or "png"
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise ValueError(f"cannot save {base!r}: unknown format {fmt!r}; supported extensions: "
                         f"{sorted(supported)}")
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, **savefig_kwargs))
    return path

"""Large images in tiles: the window grid, boxes cut by a window, and a dataset of windows.

A network sees a 5-megapixel aerial photograph resized to 512 px, where a 30 px object becomes
6 px and no anchor reaches it. Cut into windows of the network's input size, the image is seen at
native resolution.

- :func:`tile_grid` places overlapping windows over an image: windows of ``tile`` pixels every
  ``tile * (1 - overlap)`` pixels, the last one flush with the image's right / bottom edge, so
  every pixel is covered and an object narrower than the overlap lies whole in some window. An
  image not larger than the tile on a side has one window spanning that side.
- :func:`cut_labels` maps boxes to a window: a box keeps its visible part when at least
  ``min_visible`` of its area is inside; a box mostly outside is not dropped (which would teach
  the detector that the visible part of an object is background) but marked
  :data:`~gluon_ssd.data.labels.IGNORE_CLASS_ID`: anchors it matches are left out of the loss.
- :class:`TiledDataset` wraps a detection dataset: item ``k`` is window ``k`` (images cut on the
  fly, nothing written to disk); its length is the number of windows, so an epoch visits every
  window of every image once.
"""
import math

import numpy as np
from mxnet import gluon

from .image import image_size
from .labels import IGNORE_CLASS_ID
from .transforms import check_data_shape

__all__ = ["tile_grid", "cut_labels", "TiledDataset", "DEFAULT_OVERLAP", "DEFAULT_MIN_VISIBLE"]

DEFAULT_OVERLAP = 0.2       # SAHI's examples' overlap ratio
DEFAULT_MIN_VISIBLE = 0.5   # a box half inside a window is still that object


def _starts(length, size, overlap):
    """Window starts along one side: every ``size * (1 - overlap)``, the last flush with the end."""
    if length <= size:
        return [0]
    step = max(1, int(round(size * (1 - overlap))))
    count = math.ceil((length - size) / step) + 1
    starts = [min(k * step, length - size) for k in range(count)]
    return sorted(set(starts))


def tile_grid(width, height, tile, overlap=DEFAULT_OVERLAP):
    """Windows covering a ``width x height`` image.

    Parameters
    ----------
    width, height : int
        Image size in pixels.
    tile : (int, int)
        Window ``(height, width)``.
    overlap : float, default 0.2
        Share of a window shared with its neighbour, in [0, 1).

    Returns
    -------
    list of (int, int, int, int)
        ``(x1, y1, x2, y2)`` pixel bounds (``x2``, ``y2`` exclusive), row by row; one window
        ``(0, 0, width, height)`` for an image that fits a tile.
    """
    tile_h, tile_w = check_data_shape(tile)
    if not 0 <= overlap < 1:
        raise ValueError(f"tile overlap must be in [0, 1), got {overlap!r}")
    return [(x, y, min(x + tile_w, width), min(y + tile_h, height))
            for y in _starts(height, tile_h, overlap) for x in _starts(width, tile_w, overlap)]


def cut_labels(label, window, min_visible=DEFAULT_MIN_VISIBLE, partial="ignore"):
    """The boxes of ``label`` as a window sees them, in window pixels.

    Parameters
    ----------
    label : numpy.ndarray
        ``(N, >=5)`` rows ``[x1, y1, x2, y2, class_id, ...]`` in image pixels.
    window : (x1, y1, x2, y2)
        The window (:func:`tile_grid`).
    min_visible : float, default 0.5
        A box keeps its visible part (clipped to the window) when at least this share of its area
        is inside.
    partial : {'ignore', 'difficult'}, default 'ignore'
        A box with less visible: ``'ignore'`` (training) keeps its visible part with class id
        :data:`IGNORE_CLASS_ID` (-2), so the loss neither learns nor mines the anchors it
        matches; ``'difficult'`` (evaluation) keeps its class with the difficult flag (column 5)
        set, so a detection of it is neither a hit nor a false positive. Boxes entirely outside
        are dropped.

    Returns
    -------
    numpy.ndarray
        float32 ``(M, C)``, ``M <= N``, same columns, shifted by ``(-x1, -y1)``.
    """
    if partial not in ("ignore", "difficult"):
        raise ValueError(f"partial must be 'ignore' or 'difficult', got {partial!r}")
    label = np.asarray(label, dtype=np.float32)
    x1, y1, x2, y2 = (float(v) for v in window)
    boxes = label[:, :4]
    clipped = np.stack([np.clip(boxes[:, 0], x1, x2), np.clip(boxes[:, 1], y1, y2),
                        np.clip(boxes[:, 2], x1, x2), np.clip(boxes[:, 3], y1, y2)], axis=1)
    area = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    inside = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    visible = np.where(area > 0, inside / np.maximum(area, 1e-12), 0)
    out = label.copy()
    out[:, :4] = clipped - np.array([x1, y1, x1, y1], np.float32)
    partly = visible < min_visible
    if partial == "ignore":
        out[partly, 4] = IGNORE_CLASS_ID
    elif out.shape[1] > 5:
        out[partly, 5] = 1
    return out[inside > 0]


class TiledDataset(gluon.data.Dataset):
    """The windows of a detection dataset's images as a dataset (module docstring).

    Parameters
    ----------
    dataset : Dataset
        Items ``(image (H, W, 3) uint8 NDArray, label (N, >=5))`` in image pixels
        (:class:`~gluon_ssd.data.VOCDataset`, ``COCODataset``, ``YOLODataset``).
    tile : (int, int)
        Window ``(height, width)``: usually the network input, so objects keep their size.
    overlap : float, default 0.2
        See :func:`tile_grid`.
    min_visible : float, default 0.5
        See :func:`cut_labels`.
    partial : {'ignore', 'difficult'}, default 'ignore'
        See :func:`cut_labels`.

    Notes
    -----
    Image sizes are read from file headers (``dataset.image_path``) when the dataset has image
    files, else from its decoded items. Each item decodes its whole image and crops it: a large
    image is decoded once per window visited.
    """

    def __init__(self, dataset, tile, overlap=DEFAULT_OVERLAP, min_visible=DEFAULT_MIN_VISIBLE,
                 partial="ignore"):
        self.tile = check_data_shape(tile)
        if not 0 < min_visible <= 1:
            raise ValueError(f"min_visible must be in (0, 1], got {min_visible!r}")
        cut_labels(np.zeros((0, 5)), (0, 0, 1, 1), partial=partial)   # checks partial
        self._dataset, self._min_visible, self._partial = dataset, min_visible, partial
        self.windows = []
        """list of (image index, (x1, y1, x2, y2)): item ``k`` is ``windows[k]``."""
        for idx in range(len(dataset)):
            width, height = self._size(idx)
            self.windows += [(idx, w) for w in tile_grid(width, height, self.tile, overlap)]

    def _size(self, idx):
        if hasattr(self._dataset, "image_path"):
            return image_size(self._dataset.image_path(idx))
        height, width = self._dataset[idx][0].shape[:2]
        return width, height

    @property
    def classes(self):
        """The wrapped dataset's class names."""
        return self._dataset.classes

    @property
    def num_images(self):
        """int: images of the wrapped dataset."""
        return len(self._dataset)

    def __len__(self):
        return len(self.windows)

    def __getitem__(self, k):
        idx, window = self.windows[k]
        image, label = self._dataset[idx]
        x1, y1, x2, y2 = window
        return image[y1:y2, x1:x2], cut_labels(label, window, self._min_visible, self._partial)

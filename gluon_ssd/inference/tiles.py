"""Sliced inference: a large image's windows run as batches, boxes shifted back and merged.

:func:`predict_tiled` cuts an image into the overlapping windows of
:func:`gluon_ssd.data.tiles.tile_grid`, runs the detector on them ``batch_size`` windows per
forward pass (each window brought to the network input by the one inference preprocessing,
:class:`~gluon_ssd.data.transforms.ValTransform`; windows of the input's size as one batch),
maps every box to original image pixels (scale by the window's size over the input's, shift by
the window's corner) and merges the detections of all windows:

- ``merge='nms'`` (default): per-class non-maximum suppression across windows with MXNet's own
  ``box_nms`` (IoU > ``nms_thresh`` suppressed; the detector's own threshold, 0.45, by
  default): an object in the overlap of two windows is found twice and kept once.
- ``merge='none'``: every window's detections, concatenated (to merge them yourself, e.g. SAHI's
  greedy merging by intersection over the smaller box).

``whole_image=True`` adds one pass over the whole image resized to the input (SAHI's
``perform_standard_pred``), for objects larger than a window; its detections join the merge.
An image that fits one window (and no whole-image pass) is run once, unmerged: its result is the
plain detection's.

Works for any detector :func:`gluon_ssd.inference.load_detector` gives (a trained SSD, a zoo model
with weights, an exported bundle on any runtime): only the call on normalised
``(B, 3, H, W)`` input is used.
"""
import itertools

import mxnet as mx
import numpy as np

from ..data.tiles import DEFAULT_OVERLAP, tile_grid
from ..data.transforms import ValTransform, check_data_shape

__all__ = ["predict_tiled", "MERGES"]

MERGES = ("nms", "none")


def _windows_input(image, windows, transform, data_shape):
    """The network input of all ``windows``, one ``(N, 3, h, w)`` NDArray in window order.

    Windows already of the input's size (all of them when the tile is the input, the usual case)
    are cut, converted and normalised as one batch: the same numbers as the per-window transform
    (resizing to the same size is the identity) for a handful of operations instead of several
    per window. Windows of other sizes (the whole-image pass, a window clipped by a small image)
    go through the transform one by one.
    """
    empty = np.zeros((0, 5), np.float32)
    in_h, in_w = data_shape
    parts = []
    for native, group in itertools.groupby(windows, key=lambda w: (w[3] - w[1], w[2] - w[0])
                                           == (in_h, in_w)):
        group = list(group)
        if native:
            crops = np.stack([image[y1:y2, x1:x2] for x1, y1, x2, y2 in group])
            parts.append(transform.normalize(mx.nd.array(crops, dtype="uint8")))
        else:
            parts.append(mx.nd.stack(*[
                transform(mx.nd.array(image[y1:y2, x1:x2], dtype="uint8"), empty)[0]
                for x1, y1, x2, y2 in group]))
    return parts[0] if len(parts) == 1 else mx.nd.concat(*parts, dim=0)


def _run(net, inputs, windows, data_shape, batch_size, ctx):
    """Detections ``(K, 6)`` rows ``[id, score, x1, y1, x2, y2]`` in image pixels, all windows."""
    in_h, in_w = data_shape
    rows = []
    for start in range(0, len(windows), batch_size):
        ids, scores, boxes = (o.asnumpy() for o in net(
            inputs[start:start + batch_size].as_in_context(ctx)))
        for k, (x1, y1, x2, y2) in enumerate(windows[start:start + batch_size]):
            keep = ids[k, :, 0] >= 0
            scale = np.array([(x2 - x1) / in_w, (y2 - y1) / in_h] * 2)
            shifted = boxes[k][keep].astype(np.float64) * scale + np.array([x1, y1, x1, y1])
            rows.append(np.concatenate([ids[k][keep], scores[k][keep], shifted], axis=1))
    return np.concatenate(rows) if rows else np.zeros((0, 6))


def _merge(rows, nms_thresh):
    """Per-class NMS of ``rows`` ``[id, score, x1, y1, x2, y2]`` with MXNet's ``box_nms``."""
    if len(rows) == 0:
        return rows
    out = mx.nd.contrib.box_nms(mx.nd.array(rows[None], dtype="float64"),
                                overlap_thresh=nms_thresh, valid_thresh=0.0, topk=-1,
                                coord_start=2, score_index=1, id_index=0,
                                force_suppress=False).asnumpy()[0]
    return out[out[:, 0] >= 0]


def predict_tiled(net, image, tile, overlap=DEFAULT_OVERLAP, data_shape=None, batch_size=8,
                  ctx=None, mean=None, std=None, whole_image=False, merge="nms",
                  nms_thresh=0.45):
    """Detect objects in one image window by window (module docstring).

    Parameters
    ----------
    net : SSD or callable
        Inference-mode detector: ``(B, 3, H, W)`` normalised -> ``ids (B, K, 1)``,
        ``scores (B, K, 1)``, ``bboxes (B, K, 4)`` corners in input pixels (-1 padded).
    image : numpy.ndarray
        uint8 ``(H, W, 3)`` RGB (:func:`gluon_ssd.data.image.read_image`).
    tile : (int, int)
        Window ``(height, width)`` in image pixels.
    overlap : float, default 0.2
        Share of a window shared with its neighbour (:func:`~gluon_ssd.data.tiles.tile_grid`).
    data_shape : (int, int), optional
        Network input; default ``tile`` (windows at native resolution).
    batch_size : int, default 8
        Windows per forward pass.
    mean, std : tuple of 3 float, optional
        Input normalisation; default ``net.mean`` / ``net.std``.
    whole_image : bool, default False
        Add one pass over the whole image resized to ``data_shape``.
    merge : {'nms', 'none'}, default 'nms'
    nms_thresh : float, default 0.45
        IoU above which ``merge='nms'`` suppresses the lower-scored box of a class.

    Returns
    -------
    ids, scores : numpy.ndarray
        ``(K,)`` class ids and scores, highest score first.
    boxes : numpy.ndarray
        ``(K, 4)`` float64 corners ``[x1, y1, x2, y2]`` in original image pixels.
    """
    if merge not in MERGES:
        raise ValueError(f"merge must be one of {MERGES}, got {merge!r}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    height, width = image.shape[:2]
    tile = check_data_shape(tile)
    data_shape = check_data_shape(data_shape or tile)
    transform = ValTransform(data_shape, mean if mean is not None else net.mean,
                             std if std is not None else net.std)
    windows = tile_grid(width, height, tile, overlap)
    if whole_image and windows != [(0, 0, width, height)]:
        windows.append((0, 0, width, height))
    rows = _run(net, _windows_input(image, windows, transform, data_shape), windows, data_shape,
                batch_size, ctx or mx.cpu())
    if len(windows) > 1 and merge == "nms":
        rows = _merge(rows, nms_thresh)
    rows = rows[np.argsort(-rows[:, 1], kind="stable")]
    return rows[:, 0], rows[:, 1], rows[:, 2:6]

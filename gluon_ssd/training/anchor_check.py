"""Anchor coverage: which ground-truth boxes the matcher can make positives, as training sees them.

SSD's matcher makes an anchor a positive for a box when their IoU is at least 0.5 (besides each
box's single best anchor). A box that no anchor reaches at 0.5 trains one anchor at a low IoU, or
nothing: the loss does not fall and nothing says why. This module counts, before training:

- **Boxes as the network sees them** (:func:`presented_boxes`): each image resized to the input,
  or cut into windows (``tile``; boxes kept as :func:`gluon_ssd.data.tiles.cut_labels` keeps
  them) and each window resized; with ``augment='ssd'``, also shrunk by the zoom-out expansion of
  the SSD paper's augmentation (factors 1-4, half of the time), which is what puts small objects
  out of reach.
- **Coverage** (:func:`anchor_coverage`): the share of boxes whose best anchor has IoU >= 0.5,
  overall, per COCO size band (areas in network-input pixels) and per layer (the share each
  layer's anchors reach, and how many boxes have their best anchor there).

The best IoU is exact and needs no ``boxes x anchors`` matrix: for anchors of one shape on a grid,
IoU only grows as the centres get closer along each axis, so the best anchor of a shape is the one
at the grid centre nearest the box's centre.
"""
from dataclasses import dataclass

import numpy as np

from ..blocks.anchors import anchor_shapes
from ..data.image import image_size
from ..data.tiles import DEFAULT_MIN_VISIBLE, DEFAULT_OVERLAP, cut_labels, tile_grid
from ..data.transforms import check_data_shape
from ..evaluation.size_bands import SIZE_BANDS, count_boxes

__all__ = ["LayerAnchors", "network_layers", "presented_boxes", "best_ious", "anchor_coverage",
           "check_anchors", "coverage_table",
           "MATCH_IOU", "ZOOM_OUT"]

MATCH_IOU = 0.5
ZOOM_OUT = (1.0, 4.0, 0.5)   # gluoncv's SSD expansion: up to 4x, with probability 0.5


@dataclass
class LayerAnchors:
    """One prediction layer's anchors: ``shapes`` ``(A, 2)`` ``(w, h)`` at every centre
    ``((j + offset) * step, (i + offset) * step)`` of an ``map_size = (H, W)`` grid."""
    step: float
    offset: float
    map_size: tuple
    shapes: np.ndarray


def network_layers(net, data_shape, sizes=None, ratios=None):
    """The :class:`LayerAnchors` of ``net`` at input ``data_shape``, optionally with other
    ``sizes`` (L + 1) and ``ratios`` (per layer) than its own."""
    height, width = check_data_shape(data_shape)
    layers = []
    for k, (gen, map_size) in enumerate(zip(net.anchor_generators, net.map_sizes(height, width))):
        size, next_size = (sizes[k], sizes[k + 1]) if sizes is not None else gen.sizes
        shapes = anchor_shapes(size, next_size, ratios[k] if ratios is not None else gen.ratios)
        layers.append(LayerAnchors(gen.step, gen.offset, tuple(map_size), shapes))
    return layers


def _labels_and_sizes(dataset, max_images=None):
    """Per image: ``(label (N, >=5) in image pixels, (width, height))``, reading no pixels when
    the dataset offers its labels and files (VOC, COCO, YOLO)."""
    count = len(dataset) if max_images is None else min(len(dataset), max_images)
    for idx in range(count):
        if hasattr(dataset, "image_path") and (hasattr(dataset, "label")
                                               or hasattr(dataset, "normalized_label")):
            width, height = image_size(dataset.image_path(idx))
            if hasattr(dataset, "normalized_label"):
                label = dataset.normalized_label(idx)
                label[:, :4] *= np.array([width, height, width, height], np.float32)
            else:
                label = dataset.label(idx)
        else:
            image, label = dataset[idx]
            height, width = image.shape[:2]
        yield np.asarray(label, np.float64), (width, height)


def presented_boxes(dataset, data_shape, tile=None, overlap=DEFAULT_OVERLAP,
                    min_visible=DEFAULT_MIN_VISIBLE, augment="flip", max_images=None, seed=0):
    """Ground-truth boxes in network-input pixels, as training presents them (module docstring).

    Returns
    -------
    numpy.ndarray
        ``(M, 4)`` corners ``[x1, y1, x2, y2]``; with ``augment='ssd'``, every box once more for
        each zoom-out factor drawn (one per box, uniform in [1, 4], for half of the boxes).
    """
    in_h, in_w = check_data_shape(data_shape)
    out = []
    for label, (width, height) in _labels_and_sizes(dataset, max_images):
        label = label[label[:, 4] >= 0]
        windows = [(0, 0, width, height)] if tile is None else tile_grid(width, height, tile,
                                                                         overlap)
        for window in windows:
            cut = label if tile is None else cut_labels(label, window, min_visible)
            cut = cut[cut[:, 4] >= 0]
            scale = np.array([in_w / (window[2] - window[0]), in_h / (window[3] - window[1])] * 2)
            out.append(cut[:, :4] * scale)
    boxes = np.concatenate(out) if out else np.zeros((0, 4))
    if augment == "ssd" and len(boxes):
        boxes = _zoomed_out(boxes, (in_h, in_w), np.random.RandomState(seed))
    return boxes


def _zoomed_out(boxes, data_shape, rng):
    """The boxes after the SSD augmentation's zoom-out: half unchanged, half shrunk by a factor
    uniform in [1, 4] and placed at a random spot of the canvas."""
    low, high, probability = ZOOM_OUT
    factor = np.where(rng.rand(len(boxes)) < probability, rng.uniform(low, high, len(boxes)), 1.0)
    in_h, in_w = data_shape
    offset = rng.rand(len(boxes), 2) * np.stack([in_w * (1 - 1 / factor),
                                                  in_h * (1 - 1 / factor)], axis=1)
    return boxes / factor[:, None] + np.tile(offset, 2)


def best_ious(boxes, layers):
    """``(M, L)`` best IoU of each box with each layer's anchors (exact; module docstring)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    out = np.zeros((len(boxes), len(layers)))
    for k, layer in enumerate(layers):
        grid = np.array(layer.map_size[::-1], np.float64) - 1   # (W - 1, H - 1)
        cell = np.clip(np.round(centre / layer.step - layer.offset), 0, grid)
        anchor_centre = (cell + layer.offset) * layer.step      # (M, 2)
        half = layer.shapes[None, :, :] / 2                     # (1, A, 2)
        low = np.maximum(boxes[:, None, :2], anchor_centre[:, None, :] - half)
        high = np.minimum(boxes[:, None, 2:], anchor_centre[:, None, :] + half)
        inter = np.prod(np.clip(high - low, 0, None), axis=2)   # (M, A)
        union = area[:, None] + np.prod(layer.shapes, axis=1)[None, :] - inter
        out[:, k] = (inter / np.maximum(union, 1e-12)).max(axis=1) if len(boxes) else 0
    return out


def anchor_coverage(boxes, layers, iou=MATCH_IOU):
    """The share of ``boxes`` whose best anchor has IoU >= ``iou``.

    Parameters
    ----------
    boxes : numpy.ndarray
        ``(M, 4)`` corners in network-input pixels (:func:`presented_boxes`).
    layers : list of LayerAnchors
        :func:`network_layers`.

    Returns
    -------
    dict
        ``coverage`` (float, None without boxes), ``num_boxes``, ``size_bands`` ({band:
        {coverage, num_boxes}}, areas in input pixels), ``layers`` (per layer ``reach``: share of
        boxes its anchors reach, ``best``: boxes whose best anchor is there).
    """
    ious = best_ious(boxes, layers)
    best = ious.max(axis=1) if ious.size else np.zeros(len(ious))
    reached = best >= iou
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    bands = {}
    for band, (low, high) in SIZE_BANDS.items():
        inside = (areas >= low) & (areas <= high)
        bands[band] = {"coverage": _share(reached[inside]), "num_boxes": count_boxes(areas, band)}
    which = ious.argmax(axis=1) if ious.size else np.zeros(0, int)
    per_layer = [{"reach": _share(ious[:, k] >= iou), "best": int((which == k).sum())}
                 for k in range(len(layers))]
    return {"coverage": _share(reached), "num_boxes": int(len(boxes)), "size_bands": bands,
            "layers": per_layer}


def _share(mask):
    return float(np.mean(mask)) if len(mask) else None


def check_anchors(net, dataset, data_shape, tile=None, overlap=DEFAULT_OVERLAP,
                  min_visible=DEFAULT_MIN_VISIBLE, augment="flip", max_images=None):
    """:func:`anchor_coverage` of ``net``'s anchors on ``dataset``'s boxes as training presents
    them (:func:`presented_boxes`'s arguments); ``train`` logs it at start."""
    boxes = presented_boxes(dataset, data_shape, tile, overlap, min_visible, augment, max_images)
    return anchor_coverage(boxes, network_layers(net, data_shape))


def coverage_table(coverage, sources=None):
    """Printable lines: overall, per size band, per layer (``sources`` names the layers)."""
    def pct(value):
        return "   n/a" if value is None else f"{100 * value:5.1f}%"
    lines = [f"anchor coverage (best anchor IoU >= {MATCH_IOU}): {pct(coverage['coverage'])} "
             f"of {coverage['num_boxes']} boxes"]
    lines += [f"  {band:<7} {pct(v['coverage'])} of {v['num_boxes']}"
              for band, v in coverage["size_bands"].items()]
    for k, layer in enumerate(coverage["layers"]):
        name = sources[k] if sources is not None else f"layer {k}"
        lines.append(f"  {name:<12} reaches {pct(layer['reach'])}, best anchor of "
                     f"{layer['best']} boxes")
    return "\n".join(lines)

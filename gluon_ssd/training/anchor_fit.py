"""Anchors fitted to the data: sizes and ratios per layer, and a finer tap where boxes need one.

:func:`fit_anchors` takes the boxes as training presents them
(:func:`~gluon_ssd.training.anchor_check.presented_boxes`) and an SSD's architecture, and returns
an :class:`~gluon_ssd.SSDConfig` whose anchors reach more of them at IoU 0.5 (the matcher's
threshold), with the coverage before and after (:func:`~gluon_ssd.training.anchor_check.anchor_coverage`):

1. **Which layer can serve a box** is decided by reach, not by size alone: a box is given to the
   coarsest layer where an anchor of the box's own shape, at the grid centre nearest the box,
   would overlap it at IoU >= :data:`SERVE_IOU` (a margin over 0.5 for the shapes a layer has
   to share). A 12 px box 4 px off a stride-8 centre reaches ~0.3 whatever the anchor's size: it
   needs a finer step.
2. **Sizes**: each layer's ``s_k`` starts at the geometric mean of its boxes' sides (``s_{k+1}``
   then also sets its second square anchor, ``sqrt(s_k s_{k+1})``), kept increasing, then each is
   scaled by the factors of :data:`SIZE_FACTORS` while the coverage grows (coordinate ascent).
3. **Ratios**: ``(1, 2, 0.5)`` on every layer, plus ``3, 1/3`` on a layer where more than
   :data:`ELONGATED_SHARE` of its boxes are longer than 2.5:1.
4. **A finer tap**: while the coverage stays below ``target``, a tap at half the first layer's
   stride (when the backbone has one) is tried in front, refitted, and kept when it reaches more
   boxes (at most :data:`MAX_ADDED_TAPS`: 16 -> 8 -> 4).
"""
import dataclasses

import numpy as np

from .. import zoo
from ..feature_extractor import trunk_specs
from ..blocks.anchors import anchor_shapes
from .anchor_check import MATCH_IOU, anchor_coverage, best_ious, network_layers

__all__ = ["fit_anchors", "SERVE_IOU", "SIZE_FACTORS", "ELONGATED_SHARE", "MAX_ADDED_TAPS"]

SERVE_IOU = 0.6
SIZE_FACTORS = (0.8, 0.9, 1.1, 1.25)
ELONGATED_SHARE = 0.05
MAX_ADDED_TAPS = 2
USEFUL_SHARE = 0.25


def _ideal_ious(boxes, layers):
    """``(M, L)``: IoU of each box with an anchor of its own shape at each layer's nearest
    centre (the box moved by the gap between the centres)."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    sides = boxes[:, 2:] - boxes[:, :2]
    area = np.prod(sides, axis=1)
    out = np.zeros((len(boxes), len(layers)))
    for k, layer in enumerate(layers):
        grid = np.array(layer.map_size[::-1], np.float64) - 1
        cell = np.clip(np.round(centre / layer.step - layer.offset), 0, grid)
        gap = np.abs((cell + layer.offset) * layer.step - centre)
        inter = np.prod(np.clip(sides - gap, 0, None), axis=1)
        out[:, k] = inter / np.maximum(2 * area - inter, 1e-12)
    return out


def _serving_layer(boxes, layers):
    """Per box: the coarsest layer able to serve it (module docstring), else the best one."""
    ideal = _ideal_ious(boxes, layers)
    able = ideal >= SERVE_IOU
    coarsest = len(layers) - 1 - np.argmax(able[:, ::-1], axis=1)
    return np.where(able.any(axis=1), coarsest, ideal.argmax(axis=1)), ideal


def _initial_sizes(boxes, ideal, old_sizes):
    """Increasing ``sizes`` (L + 1): the layers able to serve boxes (:data:`USEFUL_SHARE` of them
    reach :data:`SERVE_IOU` with an anchor of their own shape) split the range of the box sides
    (5th to 95th percentile) in geometric steps, finest layer smallest; the layers above keep
    geometric steps up to the old largest size."""
    side = np.sqrt(np.prod(boxes[:, 2:] - boxes[:, :2], axis=1))
    low, high = np.percentile(side, 5) * 0.9, np.percentile(side, 95) * 1.1
    useful = int(np.sum(np.mean(ideal >= SERVE_IOU, axis=0) >= USEFUL_SHARE)) or 1
    sizes = list(np.geomspace(low, max(high, low * 1.1), useful + 1))
    rest = len(old_sizes) - len(sizes)
    if rest > 0:
        sizes += list(np.geomspace(sizes[-1], max(old_sizes[-1], sizes[-1] * 1.1 ** rest),
                                   rest + 1)[1:])
    return np.array(sizes, np.float64)


def _ratios(boxes, serving, num_layers):
    sides = boxes[:, 2:] - boxes[:, :2]
    aspect = sides[:, 0] / np.maximum(sides[:, 1], 1e-6)
    out = []
    for k in range(num_layers):
        mine = aspect[serving == k]
        elongated = np.mean((mine > 2.5) | (mine < 0.4)) if len(mine) else 0.0
        out.append((1.0, 2.0, 0.5, 3.0, 1 / 3) if elongated > ELONGATED_SHARE else (1.0, 2.0, 0.5))
    return out


def _with_anchors(layers, sizes, ratios):
    """``layers`` (same steps and maps) with the anchors of ``sizes`` and ``ratios``."""
    return [dataclasses.replace(layer, shapes=anchor_shapes(sizes[k], sizes[k + 1], ratios[k]))
            for k, layer in enumerate(layers)]


def _coverage(layers, boxes, sizes, ratios):
    ious = best_ious(boxes, _with_anchors(layers, sizes, ratios))
    return float(np.mean(ious.max(axis=1) >= MATCH_IOU))


def _ascend(layers, boxes, sizes, ratios, rounds=3):
    """Scale each size by :data:`SIZE_FACTORS` while the coverage grows (sizes kept increasing)."""
    best = _coverage(layers, boxes, sizes, ratios)
    for _ in range(rounds):
        improved = False
        for k in range(len(sizes)):
            for factor in SIZE_FACTORS:
                trial = sizes.copy()
                trial[k] *= factor
                if np.any(trial[1:] < trial[:-1] * 1.02) or trial[0] <= 1:
                    continue
                score = _coverage(layers, boxes, trial, ratios)
                if score > best:
                    best, sizes, improved = score, trial, True
        if not improved:
            break
    return sizes, best


def _fit_config(config, net, boxes, data_shape):
    """``(config with fitted sizes and ratios, coverage)``."""
    layers = network_layers(net, data_shape)
    serving, ideal = _serving_layer(boxes, layers)
    ratios = _ratios(boxes, serving, len(layers))
    # The anchors depend on the network only through its steps and map sizes: no rebuild needed.
    sizes = _initial_sizes(boxes, ideal, config.sizes)
    sizes, coverage = _ascend(layers, boxes, sizes, ratios)
    fitted = dataclasses.replace(config, sizes=tuple(round(float(s), 1) for s in sizes),
                                 ratios=tuple(tuple(r) for r in ratios))
    return fitted, coverage


def _finer_tap(config, net, data_shape):
    """``config`` with a tap at half the first layer's stride in front, or None."""
    stride = net.layers[0].stride // 2
    try:
        strides = {spec.stride for spec in trunk_specs(config.backbone)}
    except ValueError:   # a backbone built by its own function (vgg16_atrous): taps by name
        return None
    if stride < 2 or stride not in strides:
        return None
    steps = None if config.steps is None else (float(stride),) + tuple(config.steps)
    return dataclasses.replace(
        config, from_layers=(stride,) + tuple(config.from_layers),
        num_filters=(-1,) + tuple(config.num_filters), strides=(-1,) + tuple(config.strides),
        pads=(-1,) + tuple(config.pads), sizes=(config.sizes[0] / 2,) + tuple(config.sizes),
        ratios=(tuple(config.ratios[0]),) + tuple(config.ratios),
        normalizations=(-1,) + tuple(config.normalizations),
        kernels=(3,) + tuple(config.kernels) if config.kernels else (), steps=steps)


def fit_anchors(net, boxes, data_shape, target=0.92):
    """Fit ``net``'s anchors to ``boxes`` (module docstring).

    Parameters
    ----------
    net : SSD
        The architecture (weights unused).
    boxes : numpy.ndarray
        ``(M, 4)`` corners in network-input pixels, as training presents them.
    data_shape : (int, int)
        Network input ``(height, width)``.
    target : float, default 0.92
        Coverage under which a finer tap is tried.

    Returns
    -------
    config : SSDConfig
        The fitted architecture (``train --config`` takes it as ``ssd:``).
    report : dict
        ``before`` and ``after``: :func:`anchor_coverage` of the boxes; ``added_taps``: the
        strides of the taps put in front (finest first; empty when none was needed).
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if not len(boxes):
        raise ValueError("no ground-truth box to fit anchors to")
    before = anchor_coverage(boxes, network_layers(net, data_shape))
    config, coverage = _fit_config(net.config, net, boxes, data_shape)
    fitted_net, added, base, base_net = net, [], net.config, net
    while coverage < target and len(added) < MAX_ADDED_TAPS:
        finer = _finer_tap(base, base_net, data_shape)
        if finer is None:
            break
        finer_net = zoo.build_ssd(finer, net.classes)
        finer_config, finer_coverage = _fit_config(finer, finer_net, boxes, data_shape)
        if finer_coverage <= coverage:
            break
        config, coverage, fitted_net = finer_config, finer_coverage, finer_net
        base, base_net = finer, finer_net
        added.append(finer.from_layers[0])
    after = anchor_coverage(boxes, network_layers(fitted_net, data_shape, config.sizes,
                                                  config.ratios))
    return config, {"before": before, "after": after, "added_taps": added}

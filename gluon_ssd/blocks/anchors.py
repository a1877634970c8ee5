"""SSD default boxes (anchors) that follow the real feature map size.

Default boxes of the SSD paper (Liu et al. 2016, sec. 2.2 "Choosing scales and aspect ratios"): at
every cell of a prediction layer's ``H x W`` map, a box of ratio 1 at scale ``s_k``, one of ratio 1 at
``sqrt(s_k * s_{k+1})``, then for each further ratio ``a`` a box ``(s_k * sqrt(a), s_k / sqrt(a))``.
Centres are ``((j + offset) * step, (i + offset) * step)`` in input pixels.

Unlike GluonCV, which precomputes a fixed 128x128 grid and slices it (so a map above 128 cells,
an input above ~1040 px at stride 8, silently loses anchors), the grid here is built in the graph from
the feature map's own shape (``contrib.arange_like``): any input size and aspect ratio, still
hybridizable and exportable, with no host synchronisation.
"""
import math

import mxnet as mx
import numpy as np
from mxnet.gluon import HybridBlock

__all__ = ["SSDAnchorGenerator", "anchor_shapes"]


def anchor_shapes(size, next_size, ratios):
    """``(A, 2)`` array of the ``(w, h)`` of the default boxes at one cell, in pixels.

    Parameters
    ----------
    size, next_size : float
        ``s_k`` and ``s_{k+1}`` in pixels.
    ratios : sequence of float
        Aspect ratios ``w / h``; the first must be 1 (it gives the two square boxes), the others
        come as listed, e.g. ``(1, 2, 0.5)`` or ``(1, 2, 0.5, 3, 1/3)`` (GluonCV's convention).
    """
    ratios = [float(r) for r in ratios]
    if not ratios or ratios[0] != 1:
        raise ValueError(f"ratios must start with 1 (the two square boxes), got {ratios}")
    if any(r <= 0 for r in ratios):
        raise ValueError(f"ratios must be > 0, got {ratios}")
    if not 0 < size < next_size:
        raise ValueError(f"sizes must be positive and increasing, got {size} then {next_size}")
    shapes = [(size, size), (math.sqrt(size * next_size),) * 2]
    shapes += [(size * math.sqrt(r), size / math.sqrt(r)) for r in ratios[1:]]
    return np.array(shapes, dtype=np.float32)


class SSDAnchorGenerator(HybridBlock):
    """Default boxes of one prediction layer.

    Parameters
    ----------
    size, next_size : float
        ``s_k`` and ``s_{k+1}`` in input pixels.
    ratios : sequence of float
        Aspect ratios, first one 1 (see :func:`anchor_shapes`).
    step : float
        Distance between cell centres in input pixels.
    offset : float, default 0.5
        Centre of cell ``j`` is at ``(j + offset) * step``.

    Inputs
    ------
    x : ``(B, C, H, W)`` feature map (only its shape is used).

    Outputs
    -------
    anchors : ``(1, H * W * A, 4)`` as ``(cx, cy, w, h)`` in input pixels, cell-major (row by row,
        then the ``A`` boxes of a cell), the order of the heads' predictions.
    """

    def __init__(self, size, next_size, ratios, step, offset=0.5, **kwargs):
        super().__init__(**kwargs)
        if not step > 0:
            raise ValueError(f"step must be > 0, got {step}")
        shapes = anchor_shapes(size, next_size, ratios)
        self.step = float(step)
        self.offset = float(offset)
        self.num_anchors = len(shapes)
        self.sizes = (float(size), float(next_size))
        self.ratios = tuple(float(r) for r in ratios)
        with self.name_scope():
            self.anchor_wh = self.params.get_constant("anchor_wh", mx.nd.array(shapes[None]))

    def hybrid_forward(self, F, x, anchor_wh):
        # anchor_wh: (1, A, 2). Cell centres from the map's own height and width.
        cy = (F.contrib.arange_like(x, axis=2) + self.offset) * self.step  # (H,)
        cx = (F.contrib.arange_like(x, axis=3) + self.offset) * self.step  # (W,)
        cy = F.broadcast_like(cy.reshape((-1, 1)), cx.reshape((1, -1)), lhs_axes=(1,),
                              rhs_axes=(1,))  # (H, W)
        cx = F.broadcast_like(cx.reshape((1, -1)), cy, lhs_axes=(0,), rhs_axes=(0,))  # (H, W)
        centres = F.stack(cx, cy, axis=-1).reshape((-1, 1, 2))  # (H*W, 1, 2)
        centres = F.broadcast_like(centres, anchor_wh, lhs_axes=(1,), rhs_axes=(1,))
        wh = F.broadcast_like(anchor_wh, centres, lhs_axes=(0,), rhs_axes=(0,))
        return F.concat(centres, wh, dim=-1).reshape((1, -1, 4))

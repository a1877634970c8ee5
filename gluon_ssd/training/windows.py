"""Where a ground truth's matches can lie: the anchors' grids and a window per layer.

SSD anchors lie on grids: prediction layer ``k`` puts the same ``A_k`` box shapes ``(w_a, h_a)`` on
every cell of an ``H_k x W_k`` grid, centres ``(cx0 + j * step_x, cy0 + i * step_y)``, cell-major
(row by row, then the ``A_k`` boxes of a cell), the order of :class:`gluon_ssd.blocks.anchors.
SSDAnchorGenerator`. :func:`find_grids` recovers that structure from the anchors themselves (once
per anchor set, on the host).

Why a window is enough (the geometry :class:`~gluon_ssd.training.targets.SSDTargets` relies on):

* For one shape, the intersection width of an anchor and a box, ``min(x2) - max(x1)``, only
  shrinks as the anchor's centre moves away from the box's centre, and so does its height;
  the IoU ``I / (S_a + S_g - I)`` grows with ``I``. So the IoU never increases with ``|dx|`` nor
  with ``|dy|``: the cells nearest the box's centre hold each shape's best anchors, and any cell
  outside a window that contains them has an IoU at most that of a cell on the window's edge.
* ``IoU >= t`` needs ``I >= t / (1 + t) * (S_a + S_g)`` with ``I <= ix * min(h_a, h_g)`` and
  ``ix <= min(w_a, w_g)``: so ``w_g <= w_a / t`` and ``|dx| <= w_a * (1 - t) / (2 t)`` (likewise
  in y). At ``t = 0.5``: ``|dx| <= w_a / 2``. The window of a layer spans every cell whose centre
  is within that distance of the box's centre, for the widest (tallest) shape of the layer, at
  ``t = WINDOW_MARGIN * iou_thresh`` so that float rounding stays far inside it.

Anchors that form no such grid become one block holding all of them (every anchor is then in
every window: the dense computation).
"""
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Grid", "WINDOW_MARGIN", "find_grids", "window_radius"]

# The window covers IoU >= WINDOW_MARGIN * iou_thresh: a margin far above float32 rounding.
WINDOW_MARGIN = 0.99
# More grids than this means the anchors are no SSD layout: one dense block instead.
MAX_GRIDS = 64
# Centres may differ from the arithmetic grid by float32 rounding of (j + offset) * step.
_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Grid:
    """One prediction layer's anchors: ``rows x cols`` cells of ``shapes`` (``(A, 2)`` w, h).

    ``start`` is the index of its first anchor; ``cx0, cy0`` the centre of cell (0, 0);
    ``step_x, step_y`` the distance between cells (1 where there is a single column / row).
    A dense block (no grid) is ``rows = cols = 1`` with ``per_cell`` = all its anchors.
    """
    start: int
    rows: int
    cols: int
    per_cell: int
    cx0: float
    cy0: float
    step_x: float
    step_y: float
    max_w: float
    max_h: float

    @property
    def size(self):
        """Number of anchors of this grid."""
        return self.rows * self.cols * self.per_cell


def _cell_shapes(anchors, start):
    """Number of consecutive anchors sharing the centre of ``anchors[start]``."""
    centre = anchors[start, :2]
    count = 1
    while start + count < len(anchors) and np.array_equal(anchors[start + count, :2], centre):
        count += 1
    return count


def _grid_at(anchors, start):
    """The largest grid starting at ``start`` (at least one cell)."""
    per_cell = _cell_shapes(anchors, start)
    shapes = anchors[start:start + per_cell, 2:]
    cx0, cy0 = (float(v) for v in anchors[start, :2])

    def cell(index):
        block = anchors[index:index + per_cell]
        if len(block) < per_cell or not np.array_equal(block[:, 2:], shapes):
            return None
        if not np.all(block[:, :2] == block[0, :2]):
            return None
        return block[0, :2].astype(np.float64)

    cols, step_x = 1, 1.0
    second = cell(start + per_cell)
    if second is not None and second[1] == cy0 and second[0] > cx0:
        step_x = second[0] - cx0
        while True:
            c = cell(start + cols * per_cell)
            if c is None or c[1] != cy0 or abs(c[0] - (cx0 + cols * step_x)) > _TOLERANCE:
                break
            cols += 1
    rows, step_y = 1, 1.0
    below = cell(start + cols * per_cell)
    if below is not None and below[1] > cy0 and abs(below[0] - cx0) <= _TOLERANCE:
        step_y = below[1] - cy0
        while _row_matches(cell, start + rows * cols * per_cell, cols, per_cell, cx0, step_x,
                           cy0 + rows * step_y):
            rows += 1
    return Grid(start, rows, cols, per_cell, cx0, cy0, float(step_x), float(step_y),
                float(shapes[:, 0].max()), float(shapes[:, 1].max()))


def _row_matches(cell, first, cols, per_cell, cx0, step_x, cy):
    for j in range(cols):
        c = cell(first + j * per_cell)
        if c is None or abs(c[0] - (cx0 + j * step_x)) > _TOLERANCE or abs(c[1] - cy) > _TOLERANCE:
            return False
    return True


def find_grids(anchors):
    """The grids of ``anchors`` (``(N, 4)`` numpy, ``(cx, cy, w, h)``): a list of :class:`Grid`.

    Anchors that are not a sequence of at most :data:`MAX_GRIDS` grids give one dense block.
    """
    anchors = np.asarray(anchors, dtype=np.float32).reshape(-1, 4)
    grids, start = [], 0
    while start < len(anchors) and len(grids) <= MAX_GRIDS:
        grid = _grid_at(anchors, start)
        grids.append(grid)
        start += grid.size
    if len(grids) > MAX_GRIDS or not np.all(np.isfinite(anchors)):
        return [Grid(0, 1, 1, len(anchors), 0.0, 0.0, 1.0, 1.0, math.inf, math.inf)]
    return grids


def window_radius(grid, iou_thresh):
    """``(rows, cols)`` of cells each side of the centre cell that the window spans.

    Every cell whose centre lies within ``w * (1 - t) / (2 t)`` of a box's centre (``w`` the
    widest shape; the same in y with the tallest), ``t = WINDOW_MARGIN * iou_thresh``, is at
    most that many cells from the cell nearest the box's centre (module docstring).
    """
    t = WINDOW_MARGIN * iou_thresh
    reach = (1 - t) / (2 * t)
    radius = []
    for size, step, count in ((grid.max_h, grid.step_y, grid.rows),
                              (grid.max_w, grid.step_x, grid.cols)):
        if not math.isfinite(size):
            radius.append(count)
            continue
        radius.append(min(count, int(math.floor(size * reach / step + 0.5 + _TOLERANCE))))
    return tuple(radius)

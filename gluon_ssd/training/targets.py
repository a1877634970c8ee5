"""SSD training targets as array operations: which anchor learns which box (Liu et al. 2016,
sec. 2.2 "Matching strategy").

The rule is GluonCV's ``SSDTargetGenerator(iou_thresh=0.5, negative_mining_ratio=-1)`` (a
``CompositeMatcher`` of ``BipartiteMatcher(share_max=False)`` and ``MaximumMatcher(0.5)``), which
the tests compare against, anchor by anchor:

1. **forced (bipartite)**: pairs (ground truth, anchor) with IoU > 1e-12 are taken greedily in
   the order (IoU descending, anchor index, ground-truth index): a pair whose ground truth and
   anchor are both still free is matched. Every ground truth gets its best free anchor, also
   when two of them share a best anchor (the better one keeps it, the other takes its next).
2. **ties**: an anchor whose IoU with its best ground truth ``p`` equals ``p``'s best IoU over
   all anchors takes ``p`` (GluonCV's rule: equally good anchors are equally positive).
3. **threshold**: an anchor whose best IoU is >= ``iou_thresh`` takes that ground truth.

Earlier rules win. Labels rows are ``[x1, y1, x2, y2, class_id, ...]``: rows of
:data:`~gluon_ssd.data.labels.PADDING_CLASS_ID` (-1, and any other negative id) are never matched;
rows of :data:`~gluon_ssd.data.labels.IGNORE_CLASS_ID` (-2) take no part in rules 1 and 2, and an
anchor that rule 3 gives to one gets class target -1, which :class:`~.loss.SSDMultiBoxLoss`
leaves out of positives and hard negatives alike.

**Why windows give the exact answer.** Anchors lie on grids (:mod:`.windows`): for one anchor
shape the IoU never increases as the anchor moves away from the box's centre, and an IoU of at
least 0.495 needs the anchor's centre within half its width (height) of the box's centre. So
each ground truth's IoUs are computed only with the anchors of a window of cells around it in
every layer (about 500 of 34,100 anchors for a stride-4 configuration): every anchor that can
reach the threshold is inside, and so are each shape's best anchors, hence each ground truth's
best IoU. The forced match searches each ground truth's ``K = max(M, 8)`` best window anchors
(``M`` label rows): a ground truth loses at most ``M - 1`` anchors to others. The tie rule
checks the ``T = 8`` best window anchors of every ground truth against all ground truths. Per anchor, rule 3 takes the best ground truth among those whose windows contain it:
all that can reach the threshold.

**Ties.** Where IoUs tie exactly the answer may differ from GluonCV's; nowhere else:
(a) more than ``T`` anchors tie at a ground truth's best IoU (a box smaller than its best anchor
lies inside several neighbours: the IoU is the same): the tie rule takes the ``T`` that ``topk``
keeps; (b) an anchor outside a window ties with one inside it (a box larger than a layer's
anchors contains many of them); (c) a ground truth that overlaps no anchor at all (best IoU 0)
is never matched, where GluonCV matches every anchor overlapping nothing to it when it is the
first row; (d) more than ``K`` anchors tie for a forced match. Which of equal IoUs wins otherwise
follows GluonCV's order (lower anchor index, then lower ground-truth index), the tests check it.

IoUs are computed with the same float32 operations as ``contrib.box_iou`` and offsets as
GluonCV's ``NormalizedBoxCenterEncoder``, so equal inputs give bit-equal IoUs and targets.
"""
import mxnet as mx
import numpy as np
from mxnet import autograd
from mxnet.gluon import HybridBlock

from ..blocks.coding import BOX_STDS
from ..data.labels import IGNORE_CLASS_ID
from .windows import find_grids, window_radius

__all__ = ["SSDTargets", "pair_iou"]

FORCED_MIN_IOU = 1e-12  # GluonCV's BipartiteMatcher threshold and tie epsilon
TIE_CANDIDATES = 8
# Rule 3 keys: IoU * 2 ** key_shift + (2 ** _ID_BITS - 1 - row), exact in float64.
_ID_BITS = 20


def _split(F, x):
    return [F.slice_axis(x, axis=-1, begin=i, end=i + 1) for i in range(4)]


def pair_iou(F, boxes_a, boxes_b):
    """IoU of corner boxes broadcast against each other, as ``contrib.box_iou`` computes it.

    Parameters
    ----------
    F : module
        ``mxnet.ndarray`` or ``mxnet.symbol``.
    boxes_a, boxes_b : NDArray or Symbol
        ``(..., 4)`` as ``(x1, y1, x2, y2)``, shapes broadcastable to each other.

    Returns
    -------
    NDArray or Symbol
        The broadcast shape without the last axis: the same float32 operations as ``box_iou``
        (intersection clipped at 0, areas of inverted boxes 0), so bit-equal values.
    """
    ax1, ay1, ax2, ay2 = _split(F, boxes_a)
    bx1, by1, bx2, by2 = _split(F, boxes_b)
    iw = F.maximum(F.broadcast_minimum(ax2, bx2) - F.broadcast_maximum(ax1, bx1), 0)
    ih = F.maximum(F.broadcast_minimum(ay2, by2) - F.broadcast_maximum(ay1, by1), 0)
    inter = iw * ih

    def area(x1, y1, x2, y2):
        w, h = x2 - x1, y2 - y1
        return (w * h) * ((w >= 0) * (h >= 0))

    union = F.broadcast_sub(F.broadcast_add(area(ax1, ay1, ax2, ay2), area(bx1, by1, bx2, by2)),
                            inter)
    overlap = inter > 0
    iou = F.where(overlap, inter / F.where(overlap, union, F.ones_like(union)),
                  F.zeros_like(inter))
    return F.squeeze(iou, axis=-1)


def _centre(F, boxes):
    """``(cx, cy, w, h)`` of corner boxes, each ``(..., 1)``, as GluonCV's BBoxCornerToCenter."""
    x1, y1, x2, y2 = _split(F, boxes)
    width, height = x2 - x1, y2 - y1
    return x1 + width * 0.5, y1 + height * 0.5, width, height


class _Layout:
    """The grids of one anchor set and the window of each grid (host side, built once)."""

    def __init__(self, anchors, iou_thresh):
        self.num_anchors = int(anchors.shape[1])
        self.key = (self.num_anchors, anchors.context)
        self.windows, offsets, begin = [], [], 0
        for grid in find_grids(anchors.asnumpy()):  # the one host read of an anchor set
            ry, rx = window_radius(grid, iou_thresh)
            rows, cols = min(grid.rows, 2 * ry + 1), min(grid.cols, 2 * rx + 1)
            di, dj, da = np.meshgrid(np.arange(rows), np.arange(cols), np.arange(grid.per_cell),
                                     indexing="ij")
            offsets.append(((di * grid.cols + dj) * grid.per_cell + da).reshape(-1))
            self.windows.append((grid, ry, rx, rows, cols, begin, begin + offsets[-1].size))
            begin += offsets[-1].size
        self.offsets = mx.nd.array(np.concatenate(offsets).reshape(1, 1, -1),
                                   ctx=anchors.context)
        self.size = self.offsets.shape[-1]


class _Assigner(HybridBlock):
    """The targets of one batch shape ``(batch, rows)`` on one anchor layout (module docstring).

    Forward: ``anchors (1, N, 4)`` centre format, ``labels (batch, rows, 5)``, ``offsets``
    (the layout's window offsets, ``(1, 1, W)``, on the anchors' context); returns
    ``(cls_targets (batch, N), box_targets (batch, N, 4))``.
    """

    def __init__(self, layout, batch, rows, iou_thresh, stds):
        super().__init__(prefix="assign_")
        self._layout, self._batch, self._rows = layout, batch, rows
        self.layout_key = layout.key
        # Candidates per row: enough for the forced match (rows) and for the tie rule.
        self._k = min(layout.size, max(rows, TIE_CANDIDATES))
        self._iou_thresh, self._stds = iou_thresh, stds
        # Float32 IoUs >= iou_thresh are multiples of 2 ** (e - 23), e the exponent of
        # iou_thresh; scaled by 2 ** key_shift they are multiples of 2 ** _ID_BITS, leaving room
        # for the row id, all within float64's 53 bits.
        self._key_shift = _ID_BITS + 23 - int(np.floor(np.log2(iou_thresh)))

    def hybrid_forward(self, F, anchors, labels, offsets):  # pylint: disable=arguments-differ
        b, m = self._batch, self._rows
        x, y, w, h = _split(F, F.reshape(anchors, (-1, 4)))
        corners = F.concat(x - w * 0.5, y - h * 0.5, x + w * 0.5, y + h * 0.5, dim=-1)
        gt_boxes = F.slice_axis(labels, axis=-1, begin=0, end=4)
        gt_ids = F.reshape(F.slice_axis(labels, axis=-1, begin=4, end=5), (b, m))
        real = gt_ids >= 0
        ids = self._window_ids(F, gt_boxes, offsets)  # (B, M, W)
        iou = pair_iou(F, F.take(corners, ids), F.expand_dims(gt_boxes, 2))  # (B, M, W)
        real_iou = F.broadcast_mul(iou, F.expand_dims(real, -1))
        cand_iou, cand_pos = F.topk(real_iou, axis=-1, k=self._k, ret_typ="both")
        base = F.reshape(F.arange(0, b * m), (b, m, 1)) * self._layout.size
        cand_ids = F.take(F.reshape(ids, (-1,)), F.broadcast_add(base, cand_pos))  # (B, M, K)
        match = self._threshold_rows(F, iou, ids, gt_ids)
        tie = self._tie_rows(F, cand_ids, real_iou.max(axis=-1), corners, gt_boxes, real)
        match = F.where(tie > 0, tie - 1, match)
        forced = self._scatter_rows(F, self._forced(F, cand_iou, cand_ids), F.broadcast_to(
            F.reshape(F.arange(0, m), (1, m)), (b, m)))
        match = F.where(forced > 0, forced - 1, match)
        return self._encode(F, match, corners, gt_boxes, gt_ids)

    def _window_ids(self, F, gt_boxes, offsets):
        """``(B, M, W)`` float ids of the anchors in each box's windows."""
        x1, y1, x2, y2 = _split(F, gt_boxes)
        cx, cy = (x1 + x2) * 0.5, (y1 + y2) * 0.5
        parts = []
        for grid, ry, rx, rows, cols, begin, end in self._layout.windows:
            col = F.clip(F.floor((cx - grid.cx0) / grid.step_x + 0.5) - rx, 0, grid.cols - cols)
            row = F.clip(F.floor((cy - grid.cy0) / grid.step_y + 0.5) - ry, 0, grid.rows - rows)
            first = (row * grid.cols + col) * grid.per_cell + grid.start  # (B, M, 1)
            parts.append(F.broadcast_add(first, F.slice_axis(offsets, axis=-1, begin=begin,
                                                             end=end)))
        return F.concat(*parts, dim=-1) if len(parts) > 1 else parts[0]

    def _threshold_rows(self, F, iou, ids, gt_ids):
        """Rule 3: ``(B, N)`` each anchor's best row with IoU >= iou_thresh, -1 if none."""
        b, m, n, width = self._batch, self._rows, self._layout.num_anchors, self._layout.size
        eligible = F.broadcast_mul(iou >= self._iou_thresh, F.expand_dims(
            (gt_ids >= 0) + (gt_ids == IGNORE_CLASS_ID), -1))
        row_term = (2.0 ** _ID_BITS - 1) - F.reshape(F.arange(0, m, dtype="float64"), (1, m, 1))
        keys = F.broadcast_add(F.cast(iou, "float64") * 2.0 ** self._key_shift, row_term)
        keys = keys * F.cast(eligible, "float64")
        batch_ids = F.broadcast_to(F.reshape(F.arange(0, b), (b, 1)), (b, width))
        id_rows = F.split(ids, axis=1, num_outputs=m, squeeze_axis=True) if m > 1 else \
            [F.reshape(ids, (b, width))]
        key_rows = F.split(keys, axis=1, num_outputs=m, squeeze_axis=True) if m > 1 else \
            [F.reshape(keys, (b, width))]
        best = F.zeros((b, n), dtype="float64")
        # One row at a time: a row's window holds each anchor once, so each scatter is a plain
        # write, and a row replaces an anchor's key only with a larger one.
        for row_ids, row_keys in zip(id_rows, key_rows):
            index = F.stack(batch_ids, row_ids)
            # BlockGrad: the scatter has no gradient, and a graph with one must not ask for it.
            best = F.BlockGrad(F._internal._scatter_set_nd(  # pylint: disable=protected-access
                lhs=best, rhs=F.maximum(F.gather_nd(best, index), row_keys), indices=index,
                shape=(b, n)))
        row = (2.0 ** _ID_BITS - 1) - (best % 2.0 ** _ID_BITS)
        return F.cast(F.where(best > 0, row, F.zeros_like(row) - 1), "float32")

    def _tie_rows(self, F, cand_ids, best, corners, gt_boxes, real):
        """Rule 2 on each row's best candidates: ``(B, N)`` row + 1 for tied anchors, else 0."""
        b, m = self._batch, self._rows
        tie_ids = F.slice_axis(cand_ids, axis=-1, begin=0, end=min(self._k, TIE_CANDIDATES))
        iou = pair_iou(F, F.expand_dims(F.take(corners, tie_ids), 3),
                       F.reshape(gt_boxes, (b, 1, 1, m, 4)))  # (B, M, T, M)
        mask = F.reshape(real, (b, 1, 1, m))
        iou = F.broadcast_add(F.broadcast_mul(iou, mask), mask - 1)  # not real rows: -1
        owner, value = F.argmax(iou, axis=-1), iou.max(axis=-1)  # (B, M, T), first of equals
        base = F.reshape(F.arange(0, b), (b, 1, 1)) * m
        owner_best = F.take(F.reshape(best, (-1,)), F.broadcast_add(base, owner))
        tied = ((value + FORCED_MIN_IOU) >= owner_best) * (value > 0)
        return self._scatter_rows(F, F.where(tied, tie_ids, F.zeros_like(tie_ids) - 1), owner)

    def _forced(self, F, cand_iou, cand_ids):
        """Rule 1 on the candidates: ``(B, M)`` anchor id forced for each row, -1 if none.

        One greedy pick per row, each taking the best free (row, candidate) pair, equal IoUs to
        the lower anchor id, then to the lower row (GluonCV's order).
        """
        b, m, k = self._batch, self._rows, self._k
        big = float(self._layout.num_anchors + m + 1)
        free, ids = F.reshape(cand_iou, (b, m * k)), F.reshape(cand_ids, (b, m * k))
        row_ids = F.broadcast_to(F.reshape(F.arange(0, m), (1, m, 1)), (b, m, k))
        row_ids = F.reshape(row_ids, (b, m * k))
        row_line = F.broadcast_to(F.reshape(F.arange(0, m), (1, m)), (b, m))
        forced, gone, bigs = F.zeros_like(row_line) - 1, F.zeros_like(free) - 1, F.ones_like(ids) * big
        for _ in range(m):
            top = free.max(axis=1, keepdims=True)
            top = F.broadcast_mul(F.broadcast_equal(free, top), top > FORCED_MIN_IOU)
            anchor = F.where(top, ids, bigs).min(axis=1, keepdims=True)
            same = F.broadcast_equal(ids, anchor)
            row = F.where(top * same, row_ids, bigs).min(axis=1, keepdims=True)
            forced = F.where(F.broadcast_equal(row_line, row), F.broadcast_like(anchor, forced),
                             forced)
            free = F.where(same + F.broadcast_equal(row_ids, row), gone, free)
        return forced

    def _scatter_rows(self, F, anchor_ids, rows):
        """``(B, N)`` holding ``row + 1`` at each ``anchor_ids`` entry (-1: none), else 0.

        Entries naming the same anchor carry the same row (its owner), so order is irrelevant.
        """
        n = self._layout.num_anchors
        ids = F.where(anchor_ids >= 0, anchor_ids, F.ones_like(anchor_ids) * n)
        batch_ids = F.broadcast_like(F.reshape(F.arange(0, self._batch), (-1, 1, 1)),
                                     F.reshape(ids, (0, 0, -1)))
        batch_ids = F.reshape_like(batch_ids, ids)
        out = F.scatter_nd(rows + 1, F.stack(batch_ids, ids), shape=(self._batch, n + 1))
        return F.slice_axis(out, axis=1, begin=0, end=n)

    def _encode(self, F, match, corners, gt_boxes, gt_ids):
        """Class and box targets from ``match (B, N)``, as GluonCV's encoders compute them."""
        b, m = self._batch, self._rows
        flat = F.broadcast_add(F.reshape(F.arange(0, b), (b, 1)) * m, F.maximum(match, 0))
        cls_targets = F.where(match >= 0, F.take(F.reshape(gt_ids, (-1,)), flat) + 1,
                              F.zeros_like(match))
        g = _centre(F, F.take(F.reshape(gt_boxes, (-1, 4)), flat))  # each (B, N, 1)
        a = [F.expand_dims(v, 0) for v in _centre(F, corners)]  # each (1, N, 1)
        s = self._stds
        offsets = F.concat(
            F.broadcast_div(F.broadcast_sub(g[0], a[0]), a[2]) / s[0],
            F.broadcast_div(F.broadcast_sub(g[1], a[1]), a[3]) / s[1],
            F.log(F.broadcast_div(g[2], a[2])) / s[2],
            F.log(F.broadcast_div(g[3], a[3])) / s[3], dim=-1)
        positive = F.broadcast_like(F.expand_dims(cls_targets > 0, -1), offsets)
        return cls_targets, F.where(positive, offsets, F.zeros_like(offsets))


class SSDTargets:
    """Classification and box targets for a batch, from the anchors the network made.

    Parameters
    ----------
    iou_thresh : float, default 0.5
        Rule 3's threshold (SSD paper: 0.5), in ``[2 ** -9, 1]``.
    stds : tuple of 4 float, default :data:`~gluon_ssd.blocks.coding.BOX_STDS`
        Variances of the box encoding (the decoder reads the same constant).

    Notes
    -----
    Call with ``anchors (1, N, 4)`` as ``(cx, cy, w, h)`` in input pixels (the train-mode output
    of :class:`~gluon_ssd.SSD`) and ``labels (B, M, >=5)`` rows ``[x1, y1, x2, y2, class_id, ...]``
    in input pixels, padded with -1 rows. Returns ``cls_targets (B, N)`` (0 background, ``c + 1``
    for class ``c``, -1 for anchors of ignored boxes) and ``box_targets (B, N, 4)`` (encoded
    offsets, 0 except for positives). Runs under ``autograd.pause()``: targets carry no
    gradient. The matching rule, and why computing IoUs in windows is exact: module docstring.

    The first call with an anchor set (by anchor count and context) reads the anchors once to
    find their grids, and each new ``(B, M)`` builds one hybridized graph; later calls run it
    with no host synchronisation. Use one instance per network: two networks with the same
    anchor count and different anchors need two.
    """

    def __init__(self, iou_thresh=0.5, stds=BOX_STDS):
        if not 2.0 ** -9 <= iou_thresh <= 1:
            raise ValueError(f"iou_thresh must be in [2**-9, 1], got {iou_thresh!r}")
        if len(stds) != 4:
            raise ValueError(f"stds needs 4 values (x, y, w, h), got {stds!r}")
        self.iou_thresh, self.stds = float(iou_thresh), tuple(float(s) for s in stds)
        self._layouts, self._assigners = {}, {}

    def _assigner(self, anchors, batch, rows):
        key = (int(anchors.shape[1]), anchors.context)
        if key not in self._layouts:
            self._layouts[key] = _Layout(anchors, self.iou_thresh)
        if key + (batch, rows) not in self._assigners:
            block = _Assigner(self._layouts[key], batch, rows, self.iou_thresh, self.stds)
            block.hybridize(static_alloc=True, static_shape=True)
            self._assigners[key + (batch, rows)] = block
        return self._assigners[key + (batch, rows)]

    def __call__(self, anchors, labels):
        if labels.ndim != 3 or labels.shape[-1] < 5:
            raise ValueError(f"labels must be (B, M, >=5) [x1, y1, x2, y2, class_id, ...], got "
                             f"shape {labels.shape}")
        if anchors.ndim != 3 or anchors.shape[0] != 1 or anchors.shape[-1] != 4:
            raise ValueError(f"anchors must be (1, N, 4) (cx, cy, w, h), got shape "
                             f"{anchors.shape}")
        batch, rows = labels.shape[:2]
        with autograd.pause():
            if rows == 0:
                return (mx.nd.zeros((batch, anchors.shape[1]), ctx=labels.context),
                        mx.nd.zeros((batch, anchors.shape[1], 4), ctx=labels.context))
            labels = labels.slice_axis(axis=-1, begin=0, end=5).astype("float32", copy=False)
            assigner = self._assigner(anchors, batch, rows)
            return assigner(anchors, labels, self._layouts[assigner.layout_key].offsets)

"""SSD inference head: decode boxes, score classes, per-class NMS (GluonCV's ``SSD`` inference).

The maths is GluonCV's own blocks, imported, composed as ``gluoncv.model_zoo.ssd.SSD.hybrid_forward``
does it, so a converted GluonCV checkpoint gives the same detections.
"""
from numbers import Integral, Real

from gluoncv.nn.coder import MultiPerClassDecoder, NormalizedBoxCenterDecoder
from mxnet.gluon import HybridBlock

from .coding import BOX_STDS

__all__ = ["SSDDecoder"]


def _check_nms(nms_thresh, nms_topk, post_nms):
    if not isinstance(nms_thresh, Real) or not 0 < nms_thresh <= 1:
        raise ValueError(f"nms_thresh must be in (0, 1], got {nms_thresh!r}")
    for name, value in (("nms_topk", nms_topk), ("post_nms", post_nms)):
        if isinstance(value, bool) or not isinstance(value, Integral) or not (value > 0 or value == -1):
            raise ValueError(f"{name} must be a positive int, or -1 for no limit; got {value!r}")


class SSDDecoder(HybridBlock):
    """Turn SSD head outputs into detections, exactly as GluonCV's SSD does at inference.

    Boxes: ``NormalizedBoxCenterDecoder`` (SSD paper encoding, variances ``stds``). Scores: softmax over
    ``num_classes + 1`` logits, background dropped: every anchor yields one candidate per foreground
    class, scores ``<= score_thresh`` get id -1. NMS: ``contrib.box_nms`` per class (``id_index=0``,
    ``force_suppress=False``) over the ``nms_topk`` best candidates, sorted by score.

    Order of work: GluonCV decodes all N anchors and hands all ``N * C`` candidates to ``box_nms``,
    which sorts them to keep the ``nms_topk`` best: a sort of ``N * C`` scores (over 170,000 for
    SSD300 on VOC) per image. Here ``topk`` picks those ``nms_topk`` candidates first (a partial
    selection, not a sort) and only they are decoded and enter ``box_nms``; the detections are
    the same (tested against the full path and against GluonCV's SSD). With
    ``nms_topk=-1`` the full path runs.

    Parameters
    ----------
    num_classes : int
        Foreground classes (>= 1); background is not counted.
    nms_thresh : float, default 0.45
        IoU above which a same-class box with a lower score is suppressed, in (0, 1]. At 1 nothing is
        suppressed but results are still sorted, thresholded and cut to ``post_nms`` (GluonCV skips
        ``box_nms`` and ``post_nms`` entirely unless ``0 < nms_thresh < 1``).
    nms_topk : int, default 400
        Only the ``nms_topk`` best candidates per image enter NMS; -1 for all.
    post_nms : int, default 100
        Detections kept per image; -1 keeps all ``N * num_classes`` rows.
    score_thresh : float, default 0.01
        Candidates scoring ``<= score_thresh`` are dropped (GluonCV hard-codes 0.01).
    stds : tuple of 4 float, default :data:`~gluon_ssd.blocks.coding.BOX_STDS`
        Variances of the box encoding (the training targets' encoding uses the same constant).
    minimal_opset : bool, default False
        Decode boxes with elementwise ops instead of ``contrib.box_decode``. Results differ in the last
        float bits; GluonCV's ``get_model(..., pretrained=True)`` sets it True, so match that for
        bit-exact parity with a pretrained GluonCV model.

    Notes
    -----
    Forward: ``cls_preds`` (B, N, num_classes + 1) raw logits, index 0 background; ``box_preds``
    (B, N, 4) encoded offsets (dx, dy, dw, dh); ``anchors`` (1, N, 4) as (cx, cy, w, h) in input
    pixels. Returns ``ids`` (B, K, 1) float class index in ``[0, num_classes)``, ``scores`` (B, K, 1)
    and ``bboxes`` (B, K, 4) as (x1, y1, x2, y2) in input pixels, sorted by descending score; empty
    rows are -1 in all three. ``K = post_nms`` whatever the number of anchors (a fixed output shape
    for deployment; GluonCV gives the same K but raises when ``N * num_classes < post_nms``); with
    ``post_nms == -1``, ``K = nms_topk``, or ``N * num_classes`` when ``nms_topk == -1`` too.
    """

    def __init__(self, num_classes, nms_thresh=0.45, nms_topk=400, post_nms=100, score_thresh=0.01,
                 stds=BOX_STDS, minimal_opset=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(num_classes, bool) or not isinstance(num_classes, Integral) or num_classes < 1:
            raise ValueError(f"num_classes must be an int >= 1 (background excluded), got {num_classes!r}")
        if not isinstance(score_thresh, Real) or not 0 <= score_thresh < 1:
            raise ValueError(f"score_thresh must be in [0, 1), got {score_thresh!r}")
        if len(stds) != 4:
            raise ValueError(f"stds needs 4 values (x, y, w, h), got {stds!r}")
        _check_nms(nms_thresh, nms_topk, post_nms)
        self.num_classes = int(num_classes)
        self.score_thresh = float(score_thresh)
        self.nms_thresh, self.nms_topk, self.post_nms = float(nms_thresh), int(nms_topk), int(post_nms)
        self.stds, self.minimal_opset = tuple(float(v) for v in stds), bool(minimal_opset)
        with self.name_scope():
            self.bbox_decoder = NormalizedBoxCenterDecoder(tuple(stds), minimal_opset=minimal_opset)
            self.cls_decoder = MultiPerClassDecoder(self.num_classes + 1, thresh=self.score_thresh)

    def with_num_classes(self, num_classes):
        """A decoder for ``num_classes`` classes with every other setting of this one, same prefix.

        Call it outside any ``name_scope`` (the prefix is then used as it is).
        """
        return SSDDecoder(num_classes, nms_thresh=self.nms_thresh, nms_topk=self.nms_topk,
                          post_nms=self.post_nms, score_thresh=self.score_thresh, stds=self.stds,
                          minimal_opset=self.minimal_opset, prefix=self.prefix)

    def set_nms(self, nms_thresh=0.45, nms_topk=400, post_nms=100):
        """Change the NMS settings for later forwards (same meaning and checks as in ``__init__``).

        This block's cached graph is cleared, so a hybridized decoder rebuilds it on its next call.
        A hybridized PARENT block keeps its own cached graph, with the old values baked in: call the
        parent's ``hybridize()`` again (or its ``_clear_cached_op()``) after this.
        """
        _check_nms(nms_thresh, nms_topk, post_nms)
        self.nms_thresh, self.nms_topk, self.post_nms = float(nms_thresh), int(nms_topk), int(post_nms)
        self._clear_cached_op()

    def foreground_scores(self, F, cls_preds):
        """Softmax class probabilities with the background column dropped.

        Parameters
        ----------
        F : module
            ``mxnet.ndarray`` or ``mxnet.symbol`` (a ``hybrid_forward``'s ``F``).
        cls_preds : NDArray or Symbol
            ``(B, N, num_classes + 1)`` raw logits, index 0 background.

        Returns
        -------
        NDArray or Symbol
            ``(B, N, num_classes)``: column ``c`` is class ``c``'s probability (the softmax over
            all ``num_classes + 1`` logits, so a row sums to 1 minus the background's).
        """
        return F.slice_axis(F.softmax(cls_preds, axis=-1), axis=-1, begin=1, end=None)

    def decode_candidates(self, F, cls_preds, box_preds, anchors):
        """Every anchor's box and foreground probabilities: what the forward thresholds and NMSes.

        No threshold, no sorting, no NMS: the ``N * num_classes`` candidates of each image, as
        :class:`gluon_ssd.deploy.RawSSD` exports them for a runtime's own NMS.

        Parameters
        ----------
        F : module
            ``mxnet.ndarray`` or ``mxnet.symbol``.
        cls_preds : NDArray or Symbol
            ``(B, N, num_classes + 1)`` raw logits, index 0 background.
        box_preds : NDArray or Symbol
            ``(B, N, 4)`` encoded offsets ``(dx, dy, dw, dh)``.
        anchors : NDArray or Symbol
            ``(1, N, 4)`` as ``(cx, cy, w, h)`` in input pixels.

        Returns
        -------
        boxes : NDArray or Symbol
            ``(B, N, 4)`` as ``(x1, y1, x2, y2)`` in input pixels (this decoder's ``stds``).
        scores : NDArray or Symbol
            ``(B, N, num_classes)``, see :meth:`foreground_scores`.
        """
        return self.bbox_decoder(box_preds, anchors), self.foreground_scores(F, cls_preds)

    def hybrid_forward(self, F, cls_preds, box_preds, anchors):  # pylint: disable=arguments-differ
        if self.nms_topk <= 0:
            return self._decode_all(F, cls_preds, box_preds, anchors)
        k = self.nms_topk
        # Foreground probabilities; candidates <= score_thresh get id -1 below. Only the k picks'
        # boxes are decoded (decode_candidates would decode all N).
        scores = self.foreground_scores(F, cls_preds)  # (B, N, C)
        # Class-major flat candidates, index c * N + n: GluonCV's order, which decides ties. k rows
        # of -1 appended, so that top-k always has k rows to pick (any N, any C); they sort last.
        scores = F.transpose(scores, (0, 2, 1)).reshape((0, -1))  # (B, C * N)
        pad = F.broadcast_axis(F.slice_axis(scores, axis=1, begin=0, end=1) * 0 - 1, axis=1, size=k)
        scores = F.concat(scores, pad, dim=1)
        # topk's order among equal scores is arbitrary: put the picks back in index order, so that
        # box_nms's (stable) sort breaks ties as it does on the full candidate list.
        top_index = F.sort(F.topk(scores, axis=1, k=k, ret_typ="indices", dtype="float32"), axis=1)
        batch_id = F.broadcast_like(F.contrib.arange_like(top_index, axis=0).expand_dims(1), top_index)
        top_scores = F.gather_nd(scores, F.stack(batch_id, top_index))  # (B, k)
        num_anchors = F.sum(F.slice_axis(anchors, axis=2, begin=0, end=1) * 0 + 1)  # (1,) = N
        class_id = F.floor(F.broadcast_div(top_index, num_anchors))
        anchor_id = top_index - F.broadcast_mul(class_id, num_anchors)
        # Padding rows (index >= C * N) land on a real anchor too, with class >= C and score -1.
        class_id = F.where(top_scores > self.score_thresh, class_id, F.ones_like(class_id) * -1)
        picked_offsets = F.gather_nd(box_preds, F.stack(batch_id, anchor_id))  # (B, k, 4)
        picked_anchors = F.take(F.squeeze(anchors, axis=0), anchor_id)  # (B, k, 4)
        # box_decode wants anchors (1, M, 4): decode the B * k picks as one row, then reshape back.
        bboxes = F.reshape_like(self.bbox_decoder(picked_offsets.reshape((1, -1, 4)),
                                                  picked_anchors.reshape((1, -1, 4))), picked_offsets)
        result = F.concat(class_id.expand_dims(2), top_scores.expand_dims(2), bboxes, dim=-1)
        result = F.contrib.box_nms(
            result, overlap_thresh=self.nms_thresh, topk=-1, valid_thresh=self.score_thresh,
            id_index=0, score_index=1, coord_start=2, force_suppress=False)  # (B, k, 6)
        if self.post_nms > k:  # rows beyond the k candidates are padding: -1, like box_nms's
            fill = F.broadcast_axis(F.slice_axis(result, axis=1, begin=0, end=1) * 0 - 1,
                                    axis=1, size=self.post_nms - k)
            result = F.concat(result, fill, dim=1)
        elif self.post_nms > 0:
            result = F.slice_axis(result, axis=1, begin=0, end=self.post_nms)
        return (F.slice_axis(result, axis=2, begin=0, end=1),
                F.slice_axis(result, axis=2, begin=1, end=2),
                F.slice_axis(result, axis=2, begin=2, end=6))

    def _decode_all(self, F, cls_preds, box_preds, anchors):
        """GluonCV's path: decode every anchor, every class enters ``box_nms`` (used for nms_topk=-1)."""
        bboxes = self.bbox_decoder(box_preds, anchors)  # (B, N, 4) corners
        cls_ids, scores = self.cls_decoder(F.softmax(cls_preds, axis=-1))  # (B, N, C) each
        # Class-major rows (all anchors of class 0, then class 1, ...): GluonCV's layout, so that
        # box_nms sees the same candidates in the same order. (B, N, C) -> (B, C * N, 1).
        cls_ids = F.transpose(cls_ids, (0, 2, 1)).reshape((0, -1, 1))
        scores = F.transpose(scores, (0, 2, 1)).reshape((0, -1, 1))
        bboxes = F.broadcast_axis(bboxes.expand_dims(1), axis=1, size=self.num_classes)
        result = F.concat(cls_ids, scores, bboxes.reshape((0, -1, 4)), dim=-1)  # (B, C * N, 6)
        result = F.contrib.box_nms(
            result, overlap_thresh=self.nms_thresh, topk=self.nms_topk,
            valid_thresh=self.score_thresh, id_index=0, score_index=1, coord_start=2,
            force_suppress=False)
        if self.post_nms > 0:  # F.slice clips `end` to the axis length; slice_axis would raise
            result = F.slice(result, begin=(None, 0, None), end=(None, self.post_nms, None))
        return (F.slice_axis(result, axis=2, begin=0, end=1),
                F.slice_axis(result, axis=2, begin=1, end=2),
                F.slice_axis(result, axis=2, begin=2, end=6))

"""SSD training targets and the MultiBox loss (Liu et al. 2016, sec. 2.2).

Targets: GluonCV's own matcher and encoders, imported (``SSDTargetGenerator``): each ground truth
takes its best anchor, then every anchor with IoU >= 0.5 to a ground truth takes it; offsets are
encoded with variances (0.1, 0.1, 0.2, 0.2).

Loss: softmax cross-entropy on positives and on the ``3 x`` hardest negatives, smooth L1 on the
positives' offsets, divided by the number of positives. The normalisation is **per image**
(the paper's formula is per image): ``L = mean_i (L_conf,i + L_loc,i) / max(1, N_i)``. GluonCV
divides the batch's sum by the batch's positives, which needs a host synchronisation and a
cross-device reduction; per-image terms add up over devices and machines, so training split over
several devices or ``dist_sync`` workers gives the same gradient as one device with the same global
batch, and the loss is a HybridBlock with no host synchronisation.

**Images without objects** (background images, on purpose in custom datasets, ~1% of COCO): the
paper's ``3 x N_i`` hard negatives are zero for them, so they would teach nothing (torchvision's
``SSD.compute_loss`` mines ``neg_to_pos_ratio * num_foreground`` per image, i.e. none). We mine
at least ``min_negatives`` (default 3) hard negatives in every image, like the
``min_negatives_per_image`` of the TensorFlow Object Detection API's ``HardExampleMiner``: a
background image then weighs like an image with one positive's share of negatives (divided by
``max(1, 0) = 1``), and it teaches the detector that its most confident false positives are
background. An image with at least one positive mines ``max(3 N_i, min_negatives) = 3 N_i``
negatives, the paper's count (with the default ratio).

Padding (labels are -1 rows) is never a target: GluonCV's bipartite matcher assigns every anchor
of an image whose labels are all padding to that padding row (its best IoU, 0, ties everywhere),
with class -1 + 1 = background but box offsets ``log(0) = -inf``; :class:`SSDTargets` zeroes the
box targets of every anchor that is not a positive, so no infinity reaches the loss (``inf * 0``
was the NaN of such images).
"""
import mxnet as mx
from gluoncv.model_zoo.ssd.target import SSDTargetGenerator
from mxnet import autograd
from mxnet.gluon import HybridBlock

__all__ = ["SSDTargets", "SSDMultiBoxLoss"]


class SSDTargets:
    """Classification and box targets for a batch, from the anchors the network made.

    Parameters
    ----------
    iou_thresh : float, default 0.5
        Anchors with IoU >= ``iou_thresh`` to a ground truth are positives for it (SSD paper).
    stds : tuple of 4 float, default (0.1, 0.1, 0.2, 0.2)
        Variances of the box encoding (must equal the decoder's).

    Notes
    -----
    Call with ``anchors (1, N, 4)`` as (cx, cy, w, h) in input pixels (the train-mode output of
    :class:`~gluon_ssd.SSD`) and ``labels (B, M, >=5)`` rows ``[x1, y1, x2, y2, class_id, ...]`` in
    input pixels, padded with -1 rows. Returns ``cls_targets (B, N)`` (0 background, ``c + 1`` for
    class ``c``) and ``box_targets (B, N, 4)`` (encoded offsets, 0 for non-positives). Runs under
    ``autograd.pause()``: targets carry no gradient. Labels may be all padding (an image without
    objects, shape ``(B, M >= 1, ...)``): its anchors are all background with zero box targets.
    """

    def __init__(self, iou_thresh=0.5, stds=(0.1, 0.1, 0.2, 0.2)):
        if not 0 < iou_thresh <= 1:
            raise ValueError(f"iou_thresh must be in (0, 1], got {iou_thresh!r}")
        # negative_mining_ratio=-1: every non-positive is a negative here; the loss mines them.
        self._generator = SSDTargetGenerator(iou_thresh=iou_thresh, stds=tuple(stds),
                                             negative_mining_ratio=-1)

    def __call__(self, anchors, labels):
        if labels.ndim != 3 or labels.shape[-1] < 5:
            raise ValueError(f"labels must be (B, M, >=5) [x1, y1, x2, y2, class_id, ...], got "
                             f"shape {labels.shape}")
        with autograd.pause():
            gt_boxes = labels.slice_axis(axis=-1, begin=0, end=4)
            gt_ids = labels.slice_axis(axis=-1, begin=4, end=5)
            cls_targets, box_targets, _ = self._generator(anchors, None, gt_boxes, gt_ids)
            # Anchors matched to a padding row are background but carry -inf offsets (module
            # docstring): only positives keep their box targets.
            positive = (cls_targets > 0).expand_dims(-1).broadcast_like(box_targets)
            box_targets = mx.nd.where(positive, box_targets, mx.nd.zeros_like(box_targets))
        return cls_targets, box_targets


class SSDMultiBoxLoss(HybridBlock):
    """MultiBox loss with hard-negative mining, normalised per image by its positives.

    Parameters
    ----------
    negative_mining_ratio : float, default 3
        Negatives kept per positive (the hardest by classification loss; SSD paper: 3:1).
    min_negatives : int, default 3
        Hard negatives kept in every image however few positives it has, so images without
        objects train too (module docstring). 0 is the paper's rule (none in such images).
    rho : float, default 1.0
        Smooth L1 transition point: ``0.5 x^2 / rho`` below ``rho``, ``|x| - 0.5 rho`` above.
    lambd : float, default 1.0
        Weight of the box term (the paper's alpha).

    Notes
    -----
    Forward: ``cls_preds (B, N, C+1)`` logits, ``box_preds (B, N, 4)``, ``cls_targets (B, N)``
    (0 background, negative values ignored), ``box_targets (B, N, 4)``. Returns ``(total, cls, box)``,
    each ``(B,)``: image ``i``'s terms divided by ``max(1, N_i)``; image ``i`` mines
    ``max(ratio * N_i, min_negatives)`` hard negatives (at most its number of negatives). Train with
    ``total.backward()`` and ``trainer.step(batch_size)`` (the mean over images).
    """

    def __init__(self, negative_mining_ratio=3, rho=1.0, lambd=1.0, min_negatives=3, **kwargs):
        super().__init__(**kwargs)
        if negative_mining_ratio < 0 or rho <= 0 or lambd < 0:
            raise ValueError(f"need negative_mining_ratio >= 0, rho > 0, lambd >= 0; got "
                             f"{negative_mining_ratio}, {rho}, {lambd}")
        if isinstance(min_negatives, bool) or int(min_negatives) != min_negatives \
                or min_negatives < 0:
            raise ValueError(f"min_negatives must be an int >= 0, got {min_negatives!r}")
        self._ratio, self._rho, self._lambd = float(negative_mining_ratio), float(rho), float(lambd)
        self._min_negatives = float(min_negatives)

    def hybrid_forward(self, F, cls_preds, box_preds, cls_targets, box_targets):  # pylint: disable=arguments-differ
        pos = cls_targets > 0  # (B, N)
        neg = cls_targets == 0
        num_pos = F.sum(pos, axis=1)  # (B,)
        ce = -F.pick(F.log_softmax(cls_preds, axis=-1), F.maximum(cls_targets, 0), axis=-1)
        # Hard negatives: rank the negatives by loss (positives and ignored last), keep
        # ratio * N_i of them. The masks carry no gradient.
        mining = F.BlockGrad(F.where(neg, ce, F.ones_like(ce) * -1))
        rank = F.argsort(F.argsort(mining, axis=1, is_ascend=False), axis=1)
        num_hard = F.maximum(num_pos * self._ratio, self._min_negatives)  # (B,)
        hard = F.broadcast_lesser(rank, F.expand_dims(num_hard, 1)) * neg
        cls_loss = F.sum(ce * F.BlockGrad(pos + hard), axis=1)
        diff = F.abs(box_preds - box_targets)
        smooth = F.where(diff > self._rho, diff - 0.5 * self._rho, (0.5 / self._rho) * F.square(diff))
        box_loss = F.sum(F.sum(smooth, axis=-1) * F.BlockGrad(pos), axis=1)
        denom = F.maximum(num_pos, 1)
        cls_loss, box_loss = cls_loss / denom, box_loss / denom
        return cls_loss + self._lambd * box_loss, cls_loss, box_loss

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
"""
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
    ``autograd.pause()``: targets carry no gradient.
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
        return cls_targets, box_targets


class SSDMultiBoxLoss(HybridBlock):
    """MultiBox loss with hard-negative mining, normalised per image by its positives.

    Parameters
    ----------
    negative_mining_ratio : float, default 3
        Negatives kept per positive (the hardest by classification loss; SSD paper: 3:1).
    rho : float, default 1.0
        Smooth L1 transition point: ``0.5 x^2 / rho`` below ``rho``, ``|x| - 0.5 rho`` above.
    lambd : float, default 1.0
        Weight of the box term (the paper's alpha).

    Notes
    -----
    Forward: ``cls_preds (B, N, C+1)`` logits, ``box_preds (B, N, 4)``, ``cls_targets (B, N)``
    (0 background, negative values ignored), ``box_targets (B, N, 4)``. Returns ``(total, cls, box)``,
    each ``(B,)``: image ``i``'s terms divided by ``max(1, N_i)``. Train with
    ``total.backward()`` and ``trainer.step(batch_size)`` (the mean over images).
    """

    def __init__(self, negative_mining_ratio=3, rho=1.0, lambd=1.0, **kwargs):
        super().__init__(**kwargs)
        if negative_mining_ratio < 0 or rho <= 0 or lambd < 0:
            raise ValueError(f"need negative_mining_ratio >= 0, rho > 0, lambd >= 0; got "
                             f"{negative_mining_ratio}, {rho}, {lambd}")
        self._ratio, self._rho, self._lambd = float(negative_mining_ratio), float(rho), float(lambd)

    def hybrid_forward(self, F, cls_preds, box_preds, cls_targets, box_targets):  # pylint: disable=arguments-differ
        pos = cls_targets > 0  # (B, N)
        neg = cls_targets == 0
        num_pos = F.sum(pos, axis=1)  # (B,)
        ce = -F.pick(F.log_softmax(cls_preds, axis=-1), F.maximum(cls_targets, 0), axis=-1)
        # Hard negatives: rank the negatives by loss (positives and ignored last), keep
        # ratio * N_i of them. The masks carry no gradient.
        mining = F.BlockGrad(F.where(neg, ce, F.ones_like(ce) * -1))
        rank = F.argsort(F.argsort(mining, axis=1, is_ascend=False), axis=1)
        hard = F.broadcast_lesser(rank, F.expand_dims(num_pos * self._ratio, 1)) * neg
        cls_loss = F.sum(ce * F.BlockGrad(pos + hard), axis=1)
        diff = F.abs(box_preds - box_targets)
        smooth = F.where(diff > self._rho, diff - 0.5 * self._rho, (0.5 / self._rho) * F.square(diff))
        box_loss = F.sum(F.sum(smooth, axis=-1) * F.BlockGrad(pos), axis=1)
        denom = F.maximum(num_pos, 1)
        cls_loss, box_loss = cls_loss / denom, box_loss / denom
        return cls_loss + self._lambd * box_loss, cls_loss, box_loss

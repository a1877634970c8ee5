"""The SSD MultiBox loss (Liu et al. 2016, sec. 2.2), and its targets' re-export.

Targets: :class:`~gluon_ssd.training.targets.SSDTargets` (array operations, GluonCV's matching
rule: each ground truth takes its best anchor, then every anchor with IoU >= 0.5 to a ground truth
takes it; offsets encoded with :data:`~gluon_ssd.blocks.coding.BOX_STDS`). Class target 0 is
background, ``c + 1`` class ``c``, and -1 an anchor to ignore (matched to a box of
:data:`~gluon_ssd.data.labels.IGNORE_CLASS_ID`): neither positive nor negative here.

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

**Hard-negative mining** ranks each image's negatives by loss with one ``argsort`` and inverts the
permutation with a scatter (``rank[order[j]] = j``), where ranking by ``argsort(argsort(x))``
sorts twice. The number kept differs per image and is only known on the device, so a ``topk``
with a fixed ``k`` cannot replace the sort without a host synchronisation.
"""
from mxnet.gluon import HybridBlock

from .targets import SSDTargets

__all__ = ["SSDTargets", "SSDMultiBoxLoss"]


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
        rank = self._rank(F, mining)
        num_hard = F.maximum(num_pos * self._ratio, self._min_negatives)  # (B,)
        hard = F.broadcast_lesser(rank, F.expand_dims(num_hard, 1)) * neg
        cls_loss = F.sum(ce * F.BlockGrad(pos + hard), axis=1)
        diff = F.abs(box_preds - box_targets)
        smooth = F.where(diff > self._rho, diff - 0.5 * self._rho, (0.5 / self._rho) * F.square(diff))
        box_loss = F.sum(F.sum(smooth, axis=-1) * F.BlockGrad(pos), axis=1)
        denom = F.maximum(num_pos, 1)
        cls_loss, box_loss = cls_loss / denom, box_loss / denom
        return cls_loss + self._lambd * box_loss, cls_loss, box_loss

    @staticmethod
    def _rank(F, values):
        """``(B, N)`` each value's position in its row sorted descending (0 = largest)."""
        order = F.argsort(values, axis=1, is_ascend=False)  # (B, N): the index at each position
        positions = F.broadcast_like(F.expand_dims(F.contrib.arange_like(values, axis=1), 0),
                                     values)  # (B, N): 0 .. N - 1 in every row
        rows = F.broadcast_like(F.expand_dims(F.contrib.arange_like(values, axis=0), 1), values)
        width = F.sum(F.ones_like(F.slice_axis(values, axis=0, begin=0, end=1)))  # N, as (1,)
        # rank[row, order[row, j]] = j: the inverse permutation, written in one pass.
        flat = F.reshape(F.broadcast_add(order, F.broadcast_mul(rows, width)), (-1,))
        rank = F.contrib.index_copy(F.reshape(F.zeros_like(values), (-1, 1)), flat,
                                    F.reshape(positions, (-1, 1)))
        return F.reshape_like(rank, values)

"""Tests for gluon_ssd.training.loss: ignored anchors (class target -1) and the mining's ranks."""
import math

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from gluon_ssd.training.loss import SSDMultiBoxLoss


@pytest.mark.parametrize("hybridize", [False, True])
def test_ignored_anchors_are_neither_positives_nor_mined(hybridize):
    # Anchor 0 positive (class 1), anchor 1 ignored (-1) with the most confident wrong logits,
    # anchors 2, 3 negatives. Logits (bg, fg) = (0, ln k): CE of a negative = ln(1 + k).
    # Ratio 1: one positive keeps one hard negative, the hardest among anchors 2 and 3 (ln 4 from
    # k = 3 beats ln 2), never the ignored anchor (its CE ln 100 would win). The positive: fg
    # logit ln 3 -> CE ln(4/3). Total = ln(4/3) + ln 4; the ignored anchor gets no gradient.
    logits = mx.nd.array([[[0, math.log(3)], [0, math.log(99)], [0, math.log(3)], [0, 0]]])
    cls_t = mx.nd.array([[1, -1, 0, 0]])
    loss = SSDMultiBoxLoss(negative_mining_ratio=1, min_negatives=0)
    if hybridize:
        loss.hybridize()
    logits.attach_grad()
    with autograd.record():
        total, cls_loss, _ = loss(logits, mx.nd.zeros((1, 4, 4)), cls_t, mx.nd.zeros((1, 4, 4)))
    total.backward()
    assert cls_loss.asscalar() == pytest.approx(math.log(4 / 3) + math.log(4), rel=1e-5)
    grad = np.abs(logits.grad.asnumpy()[0]).sum(-1)
    assert grad[1] == 0 and grad[3] == 0 and grad[0] > 0 and grad[2] > 0


@pytest.mark.parametrize("hybridize", [False, True])
def test_ranks_are_the_descending_sort_positions(hybridize):
    # Distinct values: rank = position in the descending sort = argsort(argsort(-x)).
    rng = np.random.RandomState(0)
    values = rng.permutation(3 * 500).reshape(3, 500).astype(np.float32)
    expected = np.argsort(np.argsort(-values, axis=1), axis=1)

    class Rank(mx.gluon.HybridBlock):
        def hybrid_forward(self, F, x):  # pylint: disable=arguments-differ
            return SSDMultiBoxLoss._rank(F, x)  # pylint: disable=protected-access

    block = Rank()
    if hybridize:
        block.hybridize()
    np.testing.assert_array_equal(block(mx.nd.array(values)).asnumpy(), expected)

"""Tests for gluon_ssd.training.loss: SSD matching/targets and the MultiBox loss, by hand and against GluonCV."""
import math

import mxnet as mx
import numpy as np
import pytest
from gluoncv.loss import SSDMultiBoxLoss as GluonCVLoss
from gluoncv.model_zoo.ssd.target import SSDTargetGenerator
from mxnet import autograd

from tests.helpers.training_fixtures import no_bn_net, squares

from gluon_ssd.training.loss import SSDMultiBoxLoss, SSDTargets


def _nd(a):
    return mx.nd.array(np.asarray(a, dtype=np.float32))


def test_targets_by_hand():
    # Anchors (cx, cy, w, h): A = box [0, 0, 20, 20]; B = [2, 0, 22, 20] (IoU with A's box
    # = 18*20 / (2*400 - 360) = 0.818); C = [60, 60, 80, 80]; D = [100, 100, 110, 110].
    anchors = _nd([[[10, 10, 20, 20], [12, 10, 20, 20], [70, 70, 20, 20], [105, 105, 10, 10]]])
    # gt 0 = A's box exactly (class 2): A and B (IoU 0.82 >= 0.5) match it.
    # gt 1 = [100, 100, 130, 130] (class 0): IoU with D = 100 / 900 = 0.11 < 0.5, but D is its
    # best anchor, so D matches it anyway (best-anchor rule). C matches nothing: background.
    labels = _nd([[[0, 0, 20, 20, 2], [100, 100, 130, 130, 0], [-1, -1, -1, -1, -1]]])
    cls_t, box_t = SSDTargets()(anchors, labels)
    np.testing.assert_array_equal(cls_t.asnumpy(), [[3, 3, 0, 1]])
    box_t = box_t.asnumpy()[0]
    np.testing.assert_allclose(box_t[0], 0, atol=1e-6)  # the anchor is the box
    # B -> gt 0: dx = (10 - 12) / 20 / 0.1 = -1, dy = 0, dw = dh = log(1) / 0.2 = 0
    np.testing.assert_allclose(box_t[1], [-1, 0, 0, 0], atol=1e-5)
    np.testing.assert_array_equal(box_t[2], 0)
    # D -> gt 1 (centre 115, size 30): dx = dy = (115 - 105) / 10 / 0.1 = 10,
    # dw = dh = log(30 / 10) / 0.2 = 5.493
    np.testing.assert_allclose(box_t[3], [10, 10, math.log(3) / 0.2, math.log(3) / 0.2], rtol=1e-5)


def test_targets_reject_bad_labels():
    with pytest.raises(ValueError, match="labels"):
        SSDTargets()(_nd([[[10, 10, 20, 20]]]), _nd([[0, 0, 20, 20]]))


def test_loss_by_hand():
    # Image 0: anchor 0 positive (class 1), anchors 1..3 negatives. Logits (bg, fg) = (0, ln k):
    #   anchor 0: p(fg) = 3/4 -> CE ln(4/3); negatives CE = -ln p(bg): (0, 0) ln 2, (0, ln 3) ln 4,
    #   (0, ln 7) ln 8. Ratio 1 keeps the single hardest negative: ln 8.
    # Box: error (0.5, 2, 0, -1) on the positive -> smooth L1 0.125 + 1.5 + 0 + 0.5 = 2.125; the
    # negatives' errors (10) are ignored. One positive: total = ln(4/3) + ln 8 + 2.125.
    # Image 1: no positive. With min_negatives=0 (the paper's rule) no hard negatives: every
    # term 0. min_negatives=1 here keeps image 0's single negative (ratio 1 x 1 positive).
    logits = [[[0, math.log(3)], [0, 0], [0, math.log(3)], [0, math.log(7)]],
              [[0, 5], [0, 5], [0, 5], [0, 5]]]
    cls_t = [[1, 0, 0, 0], [0, 0, 0, 0]]
    box_p = [[[0.5, 2, 0, -1], [10] * 4, [10] * 4, [10] * 4], [[10] * 4] * 4]
    total, cls_loss, box_loss = SSDMultiBoxLoss(negative_mining_ratio=1, min_negatives=0)(
        _nd(logits), _nd(box_p), _nd(cls_t), _nd(np.zeros((2, 4, 4))))
    np.testing.assert_allclose(cls_loss.asnumpy(), [math.log(4 / 3) + math.log(8), 0], rtol=1e-5)
    np.testing.assert_allclose(box_loss.asnumpy(), [2.125, 0], rtol=1e-6)
    np.testing.assert_allclose(total.asnumpy(), [math.log(4 / 3) + math.log(8) + 2.125, 0],
                               rtol=1e-5)
    # Ratio 3 keeps all three negatives: ln(4/3) + ln 2 + ln 4 + ln 8. Default min_negatives=3:
    # image 1 mines 3 of its 4 negatives, each CE -ln p(bg) = ln(1 + e^5), divided by max(1, 0).
    _, cls3, box3 = SSDMultiBoxLoss()(_nd(logits), _nd(box_p), _nd(cls_t),
                                      _nd(np.zeros((2, 4, 4))))
    np.testing.assert_allclose(cls3.asnumpy(), [math.log(4 / 3) + math.log(64),
                                                3 * math.log(1 + math.exp(5))], rtol=1e-5)
    np.testing.assert_allclose(box3.asnumpy(), [2.125, 0], rtol=1e-6)


def test_min_negatives_only_raises_the_count_where_it_is_larger():
    # One positive (anchor 0) and 5 negatives with CE ln 2, ln 3, ..., ln 6 (logits (0, ln k)).
    # ratio 1: max(1 x 1, 3) = 3 hardest negatives: ln 6 + ln 5 + ln 4; ratio 4: max(4, 3) = 4.
    logits = _nd([[[0, math.log(3)]] + [[0, math.log(k)] for k in (1, 2, 3, 4, 5)]])
    cls_t, box = _nd([[1, 0, 0, 0, 0, 0]]), _nd(np.zeros((1, 6, 4)))
    pos_ce = math.log(4 / 3)
    _, c1, _ = SSDMultiBoxLoss(negative_mining_ratio=1, min_negatives=3)(logits, box, cls_t, box)
    assert c1.asnumpy()[0] == pytest.approx(pos_ce + math.log(6 * 5 * 4), rel=1e-5)
    _, c4, _ = SSDMultiBoxLoss(negative_mining_ratio=4, min_negatives=3)(logits, box, cls_t, box)
    assert c4.asnumpy()[0] == pytest.approx(pos_ce + math.log(6 * 5 * 4 * 3), rel=1e-5)


def test_background_image_gradient_reaches_only_its_hardest_negatives():
    # No positive; negatives' CE ln 2 .. ln 6 (logits (0, ln(k-1)) -> -ln p(bg) = ln k).
    # min_negatives=2 picks the two hardest: anchors 4 (ln 6) and 3 (ln 5). The gradient of
    # -ln softmax(z)[0] with respect to z is softmax(z) - onehot(0): for anchor 4 (p_bg = 1/6)
    # that is (1/6 - 1, 5/6); the box term has no positive: zero gradient everywhere.
    logits = _nd([[[0, math.log(k - 1)] for k in (2, 3, 4, 5, 6)]])
    box_p = _nd(np.ones((1, 5, 4)))
    logits.attach_grad()
    box_p.attach_grad()
    with autograd.record():
        total, cls_loss, box_loss = SSDMultiBoxLoss(min_negatives=2)(
            logits, box_p, _nd(np.zeros((1, 5))), _nd(np.zeros((1, 5, 4))))
    total.backward()
    assert cls_loss.asnumpy()[0] == pytest.approx(math.log(30), rel=1e-5)
    assert box_loss.asnumpy()[0] == 0
    g = logits.grad.asnumpy()[0]
    np.testing.assert_array_equal(g[:3], 0)
    np.testing.assert_allclose(g[4], [1 / 6 - 1, 5 / 6], rtol=1e-5)
    np.testing.assert_allclose(g[3], [1 / 5 - 1, 4 / 5], rtol=1e-5)
    assert np.all(box_p.grad.asnumpy() == 0)


def test_an_image_of_padding_only_gets_background_targets_without_infinities():
    # Two anchors; image 0 holds a box on anchor 0, image 1 only a -1 padding row. GluonCV's
    # matcher gives image 1's anchors to the padding row with offsets log(0 / w) = -inf; the
    # targets must be background with zero offsets (before the fix: -inf, and inf * 0 = NaN in
    # the loss).
    anchors = _nd([[[10, 10, 20, 20], [70, 70, 20, 20]]])
    labels = _nd([[[0, 0, 20, 20, 0]], [[-1, -1, -1, -1, -1]]])
    # What GluonCV's generator alone gives (so this test would fail without our masking):
    raw = SSDTargetGenerator(negative_mining_ratio=-1)(anchors, None, labels[:, :, :4],
                                                      labels[:, :, 4:5])[1].asnumpy()
    assert not np.isfinite(raw[1]).all()
    cls_t, box_t = SSDTargets()(anchors, labels)
    np.testing.assert_array_equal(cls_t.asnumpy(), [[1, 0], [0, 0]])
    np.testing.assert_array_equal(box_t.asnumpy(), np.zeros((2, 2, 4)))
    logits = _nd(np.zeros((2, 2, 2)))
    total, _, box_loss = SSDMultiBoxLoss()(logits, _nd(np.ones((2, 2, 4))), cls_t, box_t)
    assert np.all(np.isfinite(total.asnumpy()))
    # Image 1: the box term is 0; its 2 negatives (< min_negatives 3) are both mined, each
    # CE ln 2 on logits (0, 0).
    assert box_loss.asnumpy()[1] == 0
    assert total.asnumpy()[1] == pytest.approx(2 * math.log(2), rel=1e-5)


def test_gradient_only_through_selected_anchors():
    logits = _nd([[[0, math.log(3)], [0, 0], [0, math.log(3)], [0, math.log(7)]]])
    box_p = _nd([[[0.5, 2, 0, -1], [10] * 4, [10] * 4, [10] * 4]])
    logits.attach_grad()
    box_p.attach_grad()
    with autograd.record():
        total, _, _ = SSDMultiBoxLoss(negative_mining_ratio=1, min_negatives=0)(
            logits, box_p, _nd([[1, 0, 0, 0]]), _nd(np.zeros((1, 4, 4))))
    total.backward()
    g = np.abs(logits.grad.asnumpy()[0]).sum(-1)
    assert g[0] > 0 and g[3] > 0 and g[1] == 0 and g[2] == 0  # positive + hardest negative
    gb = np.abs(box_p.grad.asnumpy()[0]).sum(-1)
    assert gb[0] > 0 and np.all(gb[1:] == 0)


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_gluoncv_on_one_image(seed):
    """For one image both normalise by the same positives: GluonCV's loss is an independent check."""
    rng = np.random.RandomState(seed)
    n, c = 500, 6
    cls_p = _nd(rng.normal(0, 2, (1, n, c)))
    box_p = _nd(rng.normal(0, 1, (1, n, 4)))
    cls_t = rng.randint(1, c, n) * (rng.rand(n) < 0.05)
    box_t = _nd(rng.normal(0, 1, (1, n, 4)) * (cls_t > 0)[None, :, None])
    cls_t = _nd(cls_t[None])
    ours = SSDMultiBoxLoss()(cls_p, box_p, cls_t, box_t)
    theirs = GluonCVLoss()(cls_p, box_p, cls_t, box_t)
    assert cls_t.asnumpy().astype(bool).sum() > 10
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.asnumpy(), b[0].asnumpy(), rtol=1e-5)


def test_per_image_normalisation_splits_over_devices():
    """Two halves of a batch summed give the whole batch's sum: what multi-device training needs."""
    rng = np.random.RandomState(2)
    cls_p, box_p = _nd(rng.normal(0, 2, (4, 200, 3))), _nd(rng.normal(0, 1, (4, 200, 4)))
    cls_t = _nd(rng.randint(1, 3, (4, 200)) * (rng.rand(4, 200) < 0.1))
    box_t = _nd(rng.normal(0, 1, (4, 200, 4)))
    loss = SSDMultiBoxLoss()
    whole = loss(cls_p, box_p, cls_t, box_t)[0].sum().asscalar()
    halves = sum(loss(cls_p[i:i + 2], box_p[i:i + 2], cls_t[i:i + 2], box_t[i:i + 2])[0].sum()
                 .asscalar() for i in (0, 2))
    assert whole == pytest.approx(halves, rel=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"negative_mining_ratio >= 0.*got -1"):
        SSDMultiBoxLoss(negative_mining_ratio=-1)
    with pytest.raises(ValueError, match="min_negatives must be >= 0, got -1"):
        SSDMultiBoxLoss(min_negatives=-1)
    with pytest.raises(TypeError, match="min_negatives must be an int, got float"):
        SSDMultiBoxLoss(min_negatives=2.5)
    with pytest.raises(ValueError, match=r"iou_thresh must be in \[.*, 1\], got 0$"):
        SSDTargets(iou_thresh=0)


def test_a_mixed_batch_has_the_gradient_of_its_images_apart():
    """Per-image normalisation: the batch [objects, background] has the summed gradient of the two
    images run alone; the background image's own gradient is finite and non-zero (its
    min_negatives hard negatives)."""
    from gluon_ssd.training.loss import SSDMultiBoxLoss, SSDTargets
    from gluon_ssd.data.transforms import batchify
    net = no_bn_net()
    net.initialize(mx.init.Xavier())
    (img, label), = squares(1, seed=6, side=64)
    background = mx.nd.array(np.random.RandomState(7).rand(64, 64, 3) * 80, dtype="uint8")
    items = [(img.transpose((2, 0, 1)).astype("float32") / 255, label),
             (background.transpose((2, 0, 1)).astype("float32") / 255, np.zeros((0, 6), "f"))]
    targets, loss_fn = SSDTargets(), SSDMultiBoxLoss()

    def grads(batch):
        data, labels = batchify()(batch)
        with mx.autograd.record():
            cls_p, box_p, anchors = net(data)
            total, _, _ = loss_fn(cls_p, box_p, *targets(anchors, labels))
        total.backward()
        return [p.grad().asnumpy().copy() for p in net.collect_params().values()
                if p.grad_req != "null"]

    both, alone = grads(items), [grads([item]) for item in items]
    assert all(np.isfinite(g).all() for g in alone[1])
    assert max(np.abs(g).max() for g in alone[1]) > 0
    for g, a, b in zip(both, *alone):
        np.testing.assert_allclose(g, a + b, rtol=1e-4, atol=1e-6)


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

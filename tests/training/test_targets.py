"""Tests for gluon_ssd.training.targets: the same targets as GluonCV's SSDTargetGenerator.

The reference is GluonCV's ``SSDTargetGenerator(iou_thresh=0.5, stds=BOX_STDS,
negative_mining_ratio=-1)`` with box targets of non-positives zeroed (what the targets' contract
says). Where they differ, each differing anchor must sit at an exact tie: its IoU with its best
ground truth (in float64, from the centre-format anchors) equals that ground truth's best IoU
over all anchors, below the 0.5 threshold (the module docstring's cases).
"""
import mxnet as mx
import numpy as np
import pytest
from gluoncv.model_zoo.ssd.target import SSDTargetGenerator

from gluon_ssd.blocks.anchors import SSDAnchorGenerator
from gluon_ssd.blocks.coding import BOX_STDS
from gluon_ssd.data.labels import IGNORE_CLASS_ID
from gluon_ssd.training import SSDTargets
from gluon_ssd.training.targets import _Assigner, _Layout


def _grid_anchors(side=64, strides=(8, 16, 32), sizes=(12, 24, 40, 64), ratios=(1, 2, 0.5)):
    """Anchors of SSDAnchorGenerator on maps side / stride: (1, N, 4) centre format."""
    parts = []
    for k, stride in enumerate(strides):
        gen = SSDAnchorGenerator(sizes[k], sizes[k + 1], ratios, stride)
        gen.initialize()
        n = side // stride
        parts.append(gen(mx.nd.zeros((1, 1, n, n))))
    return mx.nd.concat(*parts, dim=1)


def _labels(rng, batch, rows, side, low=4, high=40, pad=0):
    xy = rng.uniform(-0.1 * side, side, (batch, rows, 2))
    wh = rng.uniform(low, high, (batch, rows, 2))
    lab = np.concatenate([xy, xy + wh, rng.randint(0, 3, (batch, rows, 1))], -1)
    for b in range(batch):
        k = rng.randint(0, pad + 1)
        if k:
            lab[b, rows - k:] = -1
    return mx.nd.array(lab.astype(np.float32))


def _gluoncv(anchors, labels):
    gen = SSDTargetGenerator(iou_thresh=0.5, stds=BOX_STDS, negative_mining_ratio=-1)
    cls_t, box_t, _ = gen(anchors, None, labels[:, :, :4], labels[:, :, 4:5])
    cls_t, box_t = cls_t.asnumpy(), box_t.asnumpy()
    box_t[cls_t <= 0] = 0
    return cls_t, box_t


def _iou64(anchors, labels):
    """(B, N, M) IoU in float64 of the centre-format anchors with the label boxes."""
    a = anchors.asnumpy()[0].astype(np.float64)
    a = np.concatenate([a[:, :2] - a[:, 2:] / 2, a[:, :2] + a[:, 2:] / 2], 1)[None, :, None]
    g = labels.asnumpy()[:, None, :, :4].astype(np.float64)
    iw = np.clip(np.minimum(a[..., 2], g[..., 2]) - np.maximum(a[..., 0], g[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], g[..., 3]) - np.maximum(a[..., 1], g[..., 1]), 0, None)
    inter = iw * ih
    area = lambda b: np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)
    union = area(a) + area(g) - inter
    return np.where(inter > 0, inter / np.where(union > 0, union, 1), 0)


def _compare(anchors, labels):
    """Ours and GluonCV's targets; returns the number of anchors that differ (all at ties)."""
    cls_t, box_t = SSDTargets()(anchors, labels)
    cls_t, box_t = cls_t.asnumpy(), box_t.asnumpy()
    ref_cls, ref_box = _gluoncv(anchors, labels)
    same = cls_t == ref_cls
    # Where both agree the offsets are bit-equal (same float32 operations as GluonCV).
    np.testing.assert_array_equal(box_t[same], ref_box[same])
    iou = _iou64(anchors, labels)
    real = labels.asnumpy()[:, :, 4] >= 0
    for b, n in zip(*np.nonzero(~same)):
        row = np.where(real[b], iou[b, n], -1)
        p = row.argmax()
        best_of_p = iou[b, :, p].max()
        assert 0 < row[p] < 0.5 and abs(row[p] - best_of_p) <= 1e-6 * best_of_p, (
            f"image {b} anchor {n}: ours {cls_t[b, n]}, GluonCV {ref_cls[b, n]}, IoU {row[p]} "
            f"with box {p} whose best IoU is {best_of_p}: not a tie")
    return int((~same).sum()), int((ref_cls > 0).sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_boxes_match_gluoncv_except_ties(seed):
    rng = np.random.RandomState(seed)
    anchors = _grid_anchors()
    differ, positives = _compare(anchors, _labels(rng, 4, 12, 64, pad=5))
    assert positives > 40
    assert differ <= positives // 10


def test_dense_scenes_at_three_strides_match_gluoncv_except_ties():
    # 30 small objects per image, anchors from stride 4 (the configuration small objects need).
    rng = np.random.RandomState(3)
    anchors = _grid_anchors(side=128, strides=(4, 8, 16, 32), sizes=(8, 16, 32, 64, 128))
    differ, positives = _compare(anchors, _labels(rng, 2, 30, 128, low=6, high=30))
    assert positives > 100 and differ <= positives // 10


def test_boxes_sharing_a_best_anchor():
    # Anchor (16x16 at stride 8) centred at (20, 20): box 0 = [13, 12, 29, 28] and box 1 =
    # [11, 12, 27, 28] are both 2 px off it in x (IoU 14*16 / (2*256 - 224) = 0.778 each, equal)
    # and box 2 = [12, 12, 28, 28] is exactly on it (IoU 1). The best (box 2) keeps the anchor;
    # boxes 0 and 1 tie on it: GluonCV's order gives ties to the lower row, then each takes its
    # next best free anchor.
    anchors = _grid_anchors()
    labels = mx.nd.array([[[13, 12, 29, 28, 0], [11, 12, 27, 28, 1], [12, 12, 28, 28, 2]]])
    differ, _ = _compare(anchors, labels)
    assert differ == 0
    cls_t = SSDTargets()(anchors, labels)[0].asnumpy()[0]
    assert set(np.unique(cls_t[cls_t > 0])) == {1, 2, 3}  # every box has an anchor


@pytest.mark.parametrize("copies", [2, 6])
def test_identical_boxes_each_get_their_own_anchor(copies):
    anchors = _grid_anchors()
    labels = mx.nd.array([[[10, 14, 34, 30, c % 3] for c in range(copies)]])
    differ, _ = _compare(anchors, labels)
    assert differ == 0
    # The greedy step hands out `copies` distinct anchors (rows 0..copies-1 each take one; the
    # threshold then gives every anchor >= 0.5 to the first row): at least `copies` positives.
    assert (SSDTargets()(anchors, labels)[0].asnumpy() > 0).sum() >= copies


def test_boxes_larger_than_the_image():
    anchors = _grid_anchors()
    labels = mx.nd.array([[[-40, -30, 110, 100, 0], [-5, -5, 70, 70, 1], [30, 30, 40, 40, 2]]])
    differ, positives = _compare(anchors, labels)
    assert positives >= 3 and differ == 0


def test_images_without_objects_and_all_padding_batches():
    anchors = _grid_anchors()
    mixed = mx.nd.array([[[8, 8, 24, 24, 1], [-1] * 5], [[-1] * 5, [-1] * 5]])
    differ, _ = _compare(anchors, mixed)
    assert differ == 0
    for labels in (mixed, mx.nd.array([[[-1] * 5]] * 3)):
        cls_t, box_t = SSDTargets()(anchors, labels)
        empty = labels.asnumpy()[:, 0, 4] < 0
        assert np.all(cls_t.asnumpy()[empty] == 0) and np.all(box_t.asnumpy()[empty] == 0)
    # No label rows at all: background everywhere.
    cls_t, box_t = SSDTargets()(anchors, mx.nd.array(np.zeros((2, 0, 5), np.float32)))
    assert cls_t.shape == (2, anchors.shape[1]) and not cls_t.asnumpy().any()


def test_anchors_that_are_no_grid_use_every_anchor():
    rng = np.random.RandomState(4)
    centres = rng.uniform(0, 64, (1, 150, 2))
    anchors = mx.nd.array(np.concatenate([centres, rng.uniform(6, 40, (1, 150, 2))], -1))
    assert _Layout(anchors, 0.5).size == 150  # one dense block
    differ, positives = _compare(anchors, _labels(rng, 3, 8, 64, pad=3))
    assert positives > 10 and differ <= positives // 10


def test_ties_beyond_the_window_are_the_documented_difference():
    # A thin tall box, 3 x 60 px, inside a column of 4 x 16 anchors (ratio 0.25 at stride 4):
    # every anchor of that column wholly inside the box in y has the same IoU (3 * 16 /
    # (4 * 16 + 3 * 60 - 3 * 16) = 0.245), the box's best. GluonCV's tie rule makes all of
    # them positive; ours those of the window around the box's centre (module docstring, (b)).
    gen = SSDAnchorGenerator(8, 16, (1, 0.25), 4)
    gen.initialize()
    anchors = gen(mx.nd.zeros((1, 1, 24, 24)))
    labels = mx.nd.array([[[45, 16, 48, 76, 0]]])
    differ, positives = _compare(anchors, labels)  # asserts every difference is such a tie
    ours = (SSDTargets()(anchors, labels)[0].asnumpy() > 0).sum()
    assert differ > 0 and 0 < ours < positives


def test_ignored_boxes():
    anchors = _grid_anchors()
    # An ignore box on anchors: those with IoU >= 0.5 get -1; a small ignore box (best IoU
    # 16 / 144 < 0.5) forces nothing; the real box keeps its targets.
    labels = mx.nd.array([[[12, 12, 28, 28, IGNORE_CLASS_ID], [40, 40, 44, 44, IGNORE_CLASS_ID],
                           [36, 4, 60, 28, 1]]])
    cls_t = SSDTargets()(anchors, labels)[0].asnumpy()[0]
    iou = _iou64(anchors, labels)[0]
    np.testing.assert_array_equal(cls_t == -1, (iou[:, 0] >= 0.5) & (iou[:, 2] < iou[:, 0]))
    assert (cls_t == -1).sum() >= 1 and (cls_t == 2).sum() >= 1
    # Without the ignore rows the real box's targets are the same.
    alone = SSDTargets()(anchors, labels[:, 2:])[0].asnumpy()[0]
    np.testing.assert_array_equal(cls_t == 2, alone == 2)


def test_windows_hold_every_anchor_that_can_reach_the_threshold():
    rng = np.random.RandomState(5)
    anchors = _grid_anchors(side=128, strides=(4, 8, 16, 32), sizes=(8, 16, 32, 64, 128))
    labels = _labels(rng, 2, 20, 128, low=2, high=150)
    layout = _Layout(anchors, 0.5)
    block = _Assigner(layout, 2, 20, 0.5, BOX_STDS)
    ids = block._window_ids(mx.nd, labels[:, :, :4], layout.offsets).asnumpy()
    iou = _iou64(anchors, labels)
    for b in range(2):
        for m in range(20):
            near = set(np.nonzero(iou[b, :, m] >= 0.495)[0])
            assert near <= set(ids[b, m].astype(int))
            # ... and the box's best IoU is reached inside its windows.
            assert iou[b, ids[b, m].astype(int), m].max() == iou[b, :, m].max()


def test_demo_training_step_gets_gluoncv_targets():
    from gluon_ssd import zoo
    from gluon_ssd.cli.demo import DEMO_CONFIG, SIDE
    net = zoo.build_ssd(DEMO_CONFIG, ["a", "b", "c"])
    net.initialize()
    with mx.autograd.train_mode():
        anchors = net(mx.nd.zeros((1, 3, SIDE, SIDE)))[2]
    rng = np.random.RandomState(6)
    differ, positives = _compare(anchors, _labels(rng, 4, 6, SIDE, low=20, high=120, pad=4))
    assert positives > 20 and differ <= positives // 20


def test_bad_arguments():
    with pytest.raises(ValueError, match="iou_thresh"):
        SSDTargets(iou_thresh=0)
    with pytest.raises(ValueError, match="labels"):
        SSDTargets()(_grid_anchors(), mx.nd.zeros((2, 5)))
    with pytest.raises(ValueError, match="anchors"):
        SSDTargets()(mx.nd.zeros((10, 4)), mx.nd.zeros((1, 2, 5)))

"""Tests for gluon_ssd.blocks.decoder: SSD inference decoding, by hand and against GluonCV's SSD."""
import math

import gluoncv
import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import HybridBlock

from tests.helpers.detections import assert_same_detections

from gluon_ssd import deploy
from gluon_ssd.blocks.decoder import SSDDecoder


def _nd(a):
    return mx.nd.array(np.asarray(a, dtype=np.float32))


def _out(decoder, cls_preds, box_preds, anchors):
    return [o.asnumpy() for o in decoder(_nd(cls_preds), _nd(box_preds), _nd(anchors))]


def _logits(*probs):
    """Logits whose softmax is exactly `probs` (each row sums to 1): log(p)."""
    return np.log(np.asarray(probs, dtype=np.float64))[None]


def test_decodes_one_anchor_by_hand():
    anchors = [[[50, 60, 20, 40]]]  # cx, cy, w, h
    # cx' = 50 + 1 * 0.1 * 20 = 52;  cy' = 60 + (-2) * 0.1 * 40 = 52
    # w' = 20 * exp(5 ln2 * 0.2) = 20 * 2 = 40;  h' = 40 * exp(0) = 40  -> corners 52 -+ 20
    offsets = [[[1, -2, 5 * math.log(2), 0]]]
    # softmax(0, ln 2, ln 3) = (1, 2, 3) / 6: background 1/6, class 0 1/3, class 1 1/2
    ids, scores, bboxes = _out(SSDDecoder(2), [[[0, math.log(2), math.log(3)]]], offsets, anchors)
    # One box, two classes: both candidates survive per-class NMS, best first; K = post_nms = 100
    # rows always, the 98 without a candidate are -1.
    assert ids.shape == (1, 100, 1) and scores.shape == (1, 100, 1) and bboxes.shape == (1, 100, 4)
    np.testing.assert_array_equal(ids[0, :, 0], [1, 0] + [-1] * 98)
    np.testing.assert_allclose(scores[0, :2, 0], [1 / 2, 1 / 3], rtol=1e-6)
    np.testing.assert_allclose(bboxes[0, :2], [[32, 32, 72, 72]] * 2, rtol=1e-6)
    np.testing.assert_array_equal(bboxes[0, 2:], -1)


def test_decode_candidates_by_hand():
    # The anchor, offsets and logits of test_decodes_one_anchor_by_hand: corners 52 -+ 20, class
    # probabilities 1/3 and 1/2 (background's 1/6 dropped), neither thresholded nor sorted.
    boxes, scores = SSDDecoder(2).decode_candidates(
        mx.nd, _nd([[[0, math.log(2), math.log(3)]]]), _nd([[[1, -2, 5 * math.log(2), 0]]]),
        _nd([[[50, 60, 20, 40]]]))
    assert boxes.shape == (1, 1, 4) and scores.shape == (1, 1, 2)
    np.testing.assert_allclose(boxes.asnumpy(), [[[32, 32, 72, 72]]], rtol=1e-6)
    np.testing.assert_allclose(scores.asnumpy(), [[[1 / 3, 1 / 2]]], rtol=1e-6)
    # The same block symbolically (what deploy.RawSSD traces): (boxes, scores) of those shapes.
    sym = SSDDecoder(2).decode_candidates(mx.sym, mx.sym.var("c"), mx.sym.var("b"),
                                          mx.sym.var("a"))
    _, shapes, _ = mx.sym.Group(list(sym)).infer_shape(c=(2, 7, 3), b=(2, 7, 4), a=(1, 7, 4))
    assert shapes == [(2, 7, 4), (2, 7, 2)]


def test_without_nms_the_detections_are_the_candidates():
    """With nothing suppressed, thresholded or cut, the forward's rows are decode_candidates'."""
    rng = np.random.RandomState(2)
    cls_preds, box_preds = rng.normal(0, 2, (2, 50, 4)), rng.normal(0, 1, (2, 50, 4))
    anchors = np.concatenate([rng.uniform(0, 300, (1, 50, 2)), rng.uniform(10, 100, (1, 50, 2))], -1)
    decoder = SSDDecoder(3, nms_thresh=1, nms_topk=-1, post_nms=-1, score_thresh=0)
    ids, scores, bboxes = _out(decoder, cls_preds, box_preds, anchors)
    boxes, probs = (o.asnumpy() for o in decoder.decode_candidates(
        mx.nd, _nd(cls_preds), _nd(box_preds), _nd(anchors)))
    assert ids.shape == (2, 150, 1)  # K = N * C: every candidate is a row

    def by_class_score_box(rows):
        return rows[np.lexsort(rows.T[::-1])]

    for b in range(2):
        # The candidates as rows (class, score, box): 50 anchors x 3 classes.
        expected = np.concatenate([np.broadcast_to(np.arange(3.0), (50, 3))[..., None],
                                   probs[b][..., None],
                                   np.broadcast_to(boxes[b][:, None], (50, 3, 4))], -1)
        got = np.concatenate([ids[b], scores[b], bboxes[b]], -1)
        np.testing.assert_allclose(by_class_score_box(got),
                                   by_class_score_box(expected.reshape(-1, 6)),
                                   rtol=1e-6, atol=1e-5)
        # The rows are sorted by score, best first (the forward's order).
        assert np.all(np.diff(scores[b, :, 0]) <= 0)

# Five anchors, zero offsets (box = anchor), 2 classes. IoU(A, B) = IoU(A, C) = (19*20) / 420 = 0.905.
_ANCHORS = [[[50, 50, 20, 20], [51, 50, 20, 20], [51, 50, 20, 20], [150, 150, 20, 20],
             [250, 250, 20, 20]]]
_CORNERS = {"A": [40, 40, 60, 60], "B": [41, 40, 61, 60], "C": [41, 40, 61, 60], "E": [240, 240, 260, 260]}
# (background, class 0, class 1); 0.005 <= score_thresh 0.01 is dropped
_PROBS = _logits([0.195, 0.8, 0.005],   # A: class 0, 0.8
                 [0.295, 0.7, 0.005],   # B: class 0, 0.7 -> suppressed by A (same class)
                 [0.395, 0.005, 0.6],   # C: class 1, 0.6 -> kept although it overlaps A
                 [0.99, 0.005, 0.005],  # D: everything below score_thresh
                 [0.695, 0.3, 0.005])   # E: class 0, 0.3, alone
_ZERO = np.zeros((1, 5, 4))


def test_per_class_nms_threshold_and_order():
    ids, scores, bboxes = _out(SSDDecoder(2), _PROBS, _ZERO, _ANCHORS)
    assert ids.shape == (1, 100, 1)  # K = post_nms, whatever N * C (here 10)
    np.testing.assert_array_equal(ids[0, :, 0], [0, 1, 0] + [-1] * 97)
    np.testing.assert_allclose(scores[0, :3, 0], [0.8, 0.6, 0.3], rtol=1e-5)
    np.testing.assert_allclose(bboxes[0, :3], [_CORNERS[k] for k in "ACE"], rtol=1e-6)
    np.testing.assert_array_equal(scores[0, 3:], -1)  # padding is -1 everywhere, like GluonCV
    np.testing.assert_array_equal(bboxes[0, 3:], -1)


def test_set_nms_takes_effect_after_hybridize():
    decoder = SSDDecoder(2)
    decoder.hybridize()
    assert (_out(decoder, _PROBS, _ZERO, _ANCHORS)[0] != -1).sum() == 3
    decoder.set_nms(nms_thresh=0.95)  # IoU(A, B) = 0.905 < 0.95: B survives now
    ids, scores, _ = _out(decoder, _PROBS, _ZERO, _ANCHORS)
    np.testing.assert_array_equal(ids[0, :4, 0], [0, 0, 1, 0])
    np.testing.assert_allclose(scores[0, :4, 0], [0.8, 0.7, 0.6, 0.3], rtol=1e-5)
    decoder.set_nms(nms_thresh=0.45, post_nms=2)
    ids, _, bboxes = _out(decoder, _PROBS, _ZERO, _ANCHORS)
    assert ids.shape == (1, 2, 1) and bboxes.shape == (1, 2, 4)
    np.testing.assert_array_equal(ids[0, :, 0], [0, 1])
    decoder.set_nms(post_nms=-1, nms_topk=1)  # only the best candidate enters NMS: K = nms_topk
    ids = _out(decoder, _PROBS, _ZERO, _ANCHORS)[0]
    np.testing.assert_array_equal(ids[0, :, 0], [0])
    decoder.set_nms(post_nms=-1, nms_topk=-1)  # everything enters NMS, all N * C = 10 rows kept
    ids = _out(decoder, _PROBS, _ZERO, _ANCHORS)[0]
    np.testing.assert_array_equal(ids[0, :, 0], [0, 1, 0] + [-1] * 7)


def test_a_hybridized_parent_keeps_its_graph_until_rehybridized():
    """set_nms clears the decoder's cache only; a parent's cached graph has the old values baked in."""

    class Parent(HybridBlock):
        def __init__(self):
            super().__init__()
            self.decoder = SSDDecoder(2)

        def hybrid_forward(self, F, c, b, a):
            return self.decoder(c, b, a)

    parent = Parent()
    parent.hybridize()
    assert parent(_nd(_PROBS), _nd(_ZERO), _nd(_ANCHORS))[0].shape == (1, 100, 1)
    parent.decoder.set_nms(post_nms=2)
    assert parent(_nd(_PROBS), _nd(_ZERO), _nd(_ANCHORS))[0].shape == (1, 100, 1)  # stale
    parent.hybridize()
    assert parent(_nd(_PROBS), _nd(_ZERO), _nd(_ANCHORS))[0].shape == (1, 2, 1)


def test_hybridized_equals_imperative():
    rng = np.random.RandomState(0)
    cls_preds, box_preds = rng.normal(0, 2, (2, 300, 5)), rng.normal(0, 1, (2, 300, 4))
    anchors = np.concatenate([rng.uniform(0, 300, (1, 300, 2)), rng.uniform(10, 100, (1, 300, 2))], -1)
    decoder = SSDDecoder(4, post_nms=50)
    imperative = _out(decoder, cls_preds, box_preds, anchors)
    decoder.hybridize()
    hybridized = _out(decoder, cls_preds, box_preds, anchors)
    assert (imperative[0] != -1).sum() > 50  # detections in both images
    # Same operators in both modes; order-insensitive all the same, noise-level tolerances.
    assert_same_detections(imperative, hybridized, score_atol=1e-6, box_atol=1e-4)


@pytest.mark.parametrize("nms_topk", [50, 400, 3000])
def test_top_k_first_path_equals_decoding_everything(nms_topk):
    """Picking the nms_topk best candidates before decoding (the fast path) changes nothing.

    The reference is GluonCV's order of work: decode every anchor (``decode_candidates``), build
    all N * C candidates, sort and cut them to nms_topk, then NMS, here by the numpy reference of
    gluon_ssd.deploy.postprocess (an implementation of its own, checked against GluonCV's
    full-path settings in tests/deploy/test_postprocess.py). Both must give the same detections;
    3000 > N * C = 1200 exercises the padding.
    """
    rng = np.random.RandomState(1)
    cls_preds, box_preds = rng.normal(0, 2, (2, 300, 5)), rng.normal(0, 1, (2, 300, 4))
    anchors = np.concatenate([rng.uniform(0, 300, (1, 300, 2)), rng.uniform(10, 100, (1, 300, 2))], -1)
    decoder = SSDDecoder(4, nms_topk=nms_topk, post_nms=-1)
    fast = _out(decoder, cls_preds, box_preds, anchors)
    assert fast[0].shape == (2, nms_topk, 1)  # K = nms_topk when post_nms = -1
    boxes, scores = (o.asnumpy() for o in decoder.decode_candidates(
        mx.nd, _nd(cls_preds), _nd(box_preds), _nd(anchors)))
    ref = list(deploy.postprocess_numpy(boxes, scores, nms_topk=nms_topk, post_nms=-1))
    assert ref[0].shape[0] == 2 and ref[0].shape[1] in (nms_topk, 1200)
    for b in range(2):
        n_valid = int((ref[0][b] != -1).sum())
        assert n_valid == int((fast[0][b] != -1).sum()) > 20
        assert np.all(fast[0][b, n_valid:] == -1) and np.all(ref[0][b, n_valid:] == -1)
    # Bring the reference to the decoder's K = nms_topk rows (cut or -1 padded).
    k = min(nms_topk, ref[0].shape[1])
    ref = [np.concatenate([r[:, :k], np.full((2, nms_topk - k, r.shape[2]), -1, r.dtype)], 1)
           for r in ref]
    # Same candidates and operators on both paths: noise-level tolerances, any order of ties.
    assert_same_detections(ref, fast, score_atol=1e-6, box_atol=1e-4, min_compared=40)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(num_classes=0), ValueError, "num_classes must be >= 1, got 0"),
    (dict(num_classes=2.0), TypeError, "num_classes must be an int, got float"),
    (dict(num_classes=True), TypeError, "num_classes must be an int, got bool"),
    (dict(nms_thresh=0), ValueError, r"nms_thresh must be in \(0, 1\]"),
    (dict(nms_thresh=1.5), ValueError, r"nms_thresh must be in \(0, 1\]"),
    (dict(nms_thresh=-1), ValueError, r"nms_thresh must be in \(0, 1\]"),
    (dict(nms_topk=0), ValueError, "nms_topk must be a positive int, or -1"),
    (dict(nms_topk=-2), ValueError, "nms_topk must be a positive int, or -1"),
    (dict(post_nms=0), ValueError, "post_nms must be a positive int, or -1"),
    (dict(post_nms=10.0), TypeError, "post_nms must be an int, got float"),
    (dict(score_thresh=1), ValueError, r"score_thresh must be in \[0, 1\)"),
    (dict(stds=(0.1, 0.2)), ValueError, "stds needs 4 values")])
def test_bad_arguments_raise(kwargs, error, match):
    # A wrong type is a TypeError, a value out of range a ValueError (gluon_ssd.utils.checks).
    with pytest.raises(error, match=match):
        SSDDecoder(**{"num_classes": 2, **kwargs})


def test_set_nms_validates():
    decoder = SSDDecoder(2)
    with pytest.raises(ValueError, match="post_nms"):
        decoder.set_nms(post_nms=0)
    assert decoder.post_nms == 100  # unchanged after a refused call


@pytest.mark.gluoncv
def test_matches_gluoncv_ssd_inference(tmp_path, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("the model must be built without downloading anything")

    monkeypatch.setattr(gluoncv.model_zoo.model_store, "download", no_download)
    monkeypatch.setattr(mx.gluon.model_zoo.model_store, "download", no_download)
    mx.random.seed(0)
    net = gluoncv.model_zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained=False,
                                      pretrained_base=False, root=str(tmp_path))
    net.initialize()
    x = mx.nd.random.uniform(0, 1, shape=(2, 3, 128, 128))
    net(x)  # finish deferred initialisation
    assert not any(tmp_path.iterdir())
    # The default Uniform init gives the un-normalised mobilenet activations of 1e-21 and boxes of
    # 1e17; He-normal weights and identity BatchNorm give boxes within ~300 px and real NMS work.
    rng = np.random.RandomState(0)
    for name, p in net.collect_params(".*(gamma|beta|running|moving|weight|bias)").items():
        if name.endswith(("gamma", "var")):
            p.set_data(mx.nd.ones(p.shape))
        elif name.endswith(("beta", "mean", "bias")):
            p.set_data(mx.nd.zeros(p.shape))
        else:
            p.set_data(_nd(rng.normal(0, np.sqrt(2 / np.prod(p.shape[1:])), p.shape)))
    for p in net.class_predictors.collect_params(".*weight").values():
        p.set_data(p.data() * 10)  # spread the scores: about a quarter end up <= 0.01
    # nms_topk=60 < 2268 anchors * 20 classes: NMS removes some of 60 and the rest is -1 padding.
    net.set_nms(nms_thresh=0.45, nms_topk=60, post_nms=100)
    expected = [o.asnumpy() for o in net(x)]
    # GluonCV's own forward returns its raw (cls_preds, box_preds, anchors) when it believes it is
    # training; faking only that Python check keeps BatchNorm on its running statistics.
    with monkeypatch.context() as m:
        m.setattr(mx.autograd, "is_training", lambda: True)
        cls_preds, box_preds, anchors = net(x)
    assert cls_preds.shape[-1] == 21 and anchors.shape[0] == 1
    decoder = SSDDecoder(20, nms_thresh=0.45, nms_topk=60, post_nms=100)
    got = [o.asnumpy() for o in decoder(cls_preds, box_preds, anchors)]
    valid = (expected[0] != -1).sum(axis=1).ravel()
    assert np.all(valid > 20) and np.all(valid < 60)  # real detections, some suppressed, padding
    assert expected[1].max() > 0.3  # scores spread well above the 1/21 of uniform logits
    # GluonCV's decoder and ours run the same operators on the same inputs: noise-level
    # tolerances, rows compared in any order (near-equal scores may swap).
    assert_same_detections(expected, got, score_atol=1e-6, box_atol=1e-3, min_compared=40)

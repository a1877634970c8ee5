"""Tests for gluon_ssd.deploy.graph's raw graphs: RawSSD and StaticRawSSD are the decoder's
candidates before NMS, and BatchNorm folding keeps the maths."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from tests.helpers.deploy_fixtures import CLASSES, make_net, noise_images, normalized

from gluon_ssd import deploy
from gluon_ssd.deploy.graph import StaticRawSSD

SIZE = (128, 160)  # non-square: a transposed height / width would show
C = len(CLASSES)


@pytest.fixture(scope="module")
def x(net):
    return normalized(noise_images(0, 2, size=SIZE), net)


def _by_hand(net, x):
    """Boxes and foreground probabilities from the raw predictions, in numpy (SSD paper encoding
    with the decoder's variances: centre += offset * std * anchor size, size *= exp(offset * std)).
    """
    with autograd.predict_mode():
        cls, box, anchors = (a.asnumpy().astype(np.float64) for a in net.predictions(mx.nd, x))
    stds = np.array(net.decoder.stds)
    centre = anchors[..., :2] + box[..., :2] * stds[:2] * anchors[..., 2:]
    size = anchors[..., 2:] * np.exp(box[..., 2:] * stds[2:])
    boxes = np.concatenate([centre - size / 2, centre + size / 2], -1)
    exp = np.exp(cls - cls.max(-1, keepdims=True))
    return boxes, (exp / exp.sum(-1, keepdims=True))[..., 1:]


def test_raw_ssd_is_the_decoders_candidates_before_nms(net, x):
    raw = deploy.RawSSD(net)
    with autograd.predict_mode():
        boxes, scores = (o.asnumpy() for o in raw(x))
        cls, box, anchors = net.predictions(mx.nd, x)
        ref_boxes, ref_scores = (o.asnumpy() for o in net.decoder.decode_candidates(
            mx.nd, cls, box, anchors))
    n = anchors.shape[1]
    assert boxes.shape == (2, n, 4) and scores.shape == (2, n, C)
    np.testing.assert_array_equal(boxes, ref_boxes)  # the same block computes both
    np.testing.assert_array_equal(scores, ref_scores)
    hand_boxes, hand_scores = _by_hand(net, x)
    np.testing.assert_allclose(boxes, hand_boxes, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(scores, hand_scores, rtol=1e-5, atol=1e-7)
    # The inputs differ per image, and so do the candidates (not a constant graph).
    assert not np.allclose(scores[0], scores[1])


def test_raw_ssd_candidates_are_what_the_decoder_suppresses(net, x):
    """The detections of the net with NMS off are RawSSD's candidates, reordered."""
    with autograd.predict_mode():
        boxes, scores = (o.asnumpy() for o in deploy.RawSSD(net)(x))
    decoder = net.decoder.with_num_classes(C)
    decoder.set_nms(nms_thresh=1, nms_topk=-1, post_nms=-1)
    with autograd.predict_mode():
        ids, det_scores, det_boxes = (o.asnumpy() for o in decoder(*net.predictions(mx.nd, x)))
    for b in range(2):
        # Candidates above the decoder's score threshold, best first, as (score, class, box).
        keep = scores[b] > decoder.score_thresh
        anchor, cls = np.nonzero(keep)
        expected = np.column_stack([scores[b][keep], cls, boxes[b][anchor]])
        valid = ids[b, :, 0] >= 0
        got = np.column_stack([det_scores[b][valid], ids[b][valid], det_boxes[b][valid]])
        assert len(got) == len(expected) > 100
        order = [np.lexsort(rows.T[::-1]) for rows in (got, expected)]
        np.testing.assert_allclose(got[order[0]], expected[order[1]], rtol=1e-6, atol=1e-4)


def test_static_raw_ssd_equals_raw_ssd_at_its_size(net, x):
    static = StaticRawSSD(net, SIZE, mx.cpu())
    with autograd.predict_mode():
        expected = [o.asnumpy() for o in deploy.RawSSD(net)(x)]
        got = [o.asnumpy() for o in static(x)]
    static.hybridize()
    with autograd.predict_mode():
        hybrid = [o.asnumpy() for o in static(x)]
    for e, g, h in zip(expected, got, hybrid):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(h, e, rtol=1e-5, atol=1e-4)


def test_fold_batchnorm_keeps_the_maths():
    net = make_net(seed=2)
    x = normalized(noise_images(8, 2), net)
    with autograd.predict_mode():
        sym = net.features(mx.sym.var("data"))[-1]
    params = {p.name: p.data() for p in net.collect_params().values()}
    args = {n: params[n] for n in sym.list_arguments() if n != "data"}
    aux = {n: params[n] for n in sym.list_auxiliary_states()}
    folded, f_args, f_aux, count = deploy.fold_batchnorm(sym, args, aux)
    assert count == 27 and not f_aux  # mobilenet0.25: 27 conv + BN pairs up to stride 32
    run = lambda s, a, u: s.bind(mx.cpu(), {"data": x, **a}, aux_states=u).forward()[0]  # noqa
    expected, actual = run(sym, args, aux).asnumpy(), run(folded, f_args, f_aux).asnumpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())

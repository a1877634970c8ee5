"""Tests for gluon_ssd.evaluation.evaluator: VOC07 11-point and VOC area mAP of fixed detections,
worked out by hand (true and false positives, a missed box, a difficult box, a class without any
ground truth)."""
import mxnet as mx
import numpy as np
import pytest

from gluon_ssd.evaluation import METRICS, evaluate

SIDE = 64  # images are the network input size: boxes need no rescaling


class _TwoImageNet:
    """Detections ``[id, score, x1, y1, x2, y2]`` per image, told apart by their pixel value."""
    classes = ("a", "b", "c")
    mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    ROWS = {
        # image 0 (black): class a and class b exactly on their ground truth.
        0: [[0, 0.9, 10, 10, 30, 30], [1, 0.8, 40, 40, 60, 60]],
        # image 1 (white): class a far from any box (false positive), and class a exactly on the
        # difficult box (neither true nor false positive).
        1: [[0, 0.7, 30, 30, 50, 50], [0, 0.6, 40, 5, 60, 25]],
    }

    def __call__(self, x):
        out = np.full((x.shape[0], 4, 6), -1, np.float32)
        for b in range(x.shape[0]):
            rows = self.ROWS[int(round(float(x[b, 0, 0, 0].asscalar())))]
            out[b, :len(rows)] = rows
        return mx.nd.array(out[..., :1]), mx.nd.array(out[..., 1:2]), mx.nd.array(out[..., 2:])


def _dataset():
    labels = [np.array([[10, 10, 30, 30, 0, 0], [40, 40, 60, 60, 1, 0]], np.float32),
              np.array([[5, 5, 25, 25, 0, 0], [40, 5, 60, 25, 0, 1]], np.float32)]  # difficult
    images = [np.full((SIDE, SIDE, 3), value, np.uint8) for value in (0, 255)]
    return mx.gluon.data.SimpleDataset([(mx.nd.array(im, dtype="uint8"), label)
                                        for im, label in zip(images, labels)])


def test_voc_map_by_hand():
    result = evaluate(_TwoImageNet(), _dataset(), (SIDE, SIDE), batch_size=2, progress=False)
    # Class a: 2 boxes that count (the difficult one does not). Ranked detections: 0.9 true
    # (recall 1/2, precision 1), 0.7 false (1/2, 1/2); 0.6 hits the difficult box: ignored.
    # VOC07 11-point: the best precision at recall >= t for t = 0, 0.1, ..., 1: 1 for the six
    # t <= 0.5, 0 above: 6 / 11. VOC area: precision 1 up to recall 0.5: 0.5.
    # Class b: its one box found first: 1 and 1. Class c: no ground truth: no AP (None), and
    # the mean leaves it out: (6 / 11 + 1) / 2 and (0.5 + 1) / 2.
    assert result["per_class"]["a"] == {"voc07_ap": pytest.approx(6 / 11),
                                        "voc_ap": pytest.approx(0.5)}
    assert result["per_class"]["b"] == {"voc07_ap": pytest.approx(1.0),
                                        "voc_ap": pytest.approx(1.0)}
    assert result["per_class"]["c"] == {"voc07_ap": None, "voc_ap": None}
    assert result["voc07_map"] == pytest.approx((6 / 11 + 1) / 2)
    assert result["voc_map"] == pytest.approx(0.75)
    assert result["num_images"] == 2
    # The precision-recall points of class a, one per ranked detection: (recall 1/2, precision 1),
    # (1/2, 1/2), and the difficult hit changes neither count: (1/2, 1/2) again.
    np.testing.assert_allclose(result["pr"]["a"]["recall"], [0.5, 0.5, 0.5])
    np.testing.assert_allclose(result["pr"]["a"]["precision"], [1.0, 0.5, 0.5])


def test_batch_size_does_not_change_the_result():
    one = evaluate(_TwoImageNet(), _dataset(), (SIDE, SIDE), batch_size=1, progress=False)
    two = evaluate(_TwoImageNet(), _dataset(), (SIDE, SIDE), batch_size=2, progress=False)
    assert one["voc07_map"] == two["voc07_map"] and one["per_class"] == two["per_class"]


def test_an_unknown_metric_is_refused():
    assert METRICS == ("voc", "coco")
    with pytest.raises(ValueError, match=r"metric must be one of \('voc', 'coco'\), got 'map'"):
        evaluate(_TwoImageNet(), _dataset(), (SIDE, SIDE), metric="map")

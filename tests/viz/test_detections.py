"""Tests for gluon_ssd.viz.detections: exactly the rows above the threshold are drawn, colours stable
per class, bad shapes refused."""
import mxnet as mx
import numpy as np
import pytest

from tests.helpers import drawing

from gluon_ssd import viz


def _detections():
    # 5 rows: kept, below thresh, kept, and two -1 padding rows, as the detector outputs them.
    ids = mx.nd.array([[[0], [1], [14], [-1], [-1]]])
    scores = mx.nd.array([[[0.9], [0.3], [0.7], [-1], [-1]]])
    bboxes = mx.nd.array([[[10, 20, 110, 220], [5, 5, 50, 50], [150.6, 30, 290, 280],
                           [-1, -1, -1, -1], [-1, -1, -1, -1]]])
    return ids, scores, bboxes


def test_plot_detections_draws_exactly_the_rows_above_thresh(net):
    ids, scores, bboxes = _detections()
    ax = viz.plot_detections(drawing.image(), bboxes, scores, ids, class_names=net.classes, thresh=0.5)
    rects = drawing.rects(ax)
    assert len(rects) == 2
    # GluonCV's plot_bbox truncates corners to ints: 150.6 -> 150
    assert [(r.get_x(), r.get_y(), r.get_width(), r.get_height()) for r in rects] == [
        (10, 20, 100, 200), (150, 30, 140, 250)]
    # VOC class 0 is aeroplane, class 14 person
    assert [t.get_text() for t in ax.texts] == ["aeroplane 0.900", "person 0.700"]
    assert rects[0].get_edgecolor() != rects[1].get_edgecolor()
    # thresh 0.2 lets the 0.3 row in as well
    ax = viz.plot_detections(drawing.image(), bboxes, scores, ids, class_names=net.classes, thresh=0.2)
    assert len(drawing.rects(ax)) == 3 and len(ax.texts) == 3


def test_plot_detections_colours_are_stable_per_class(net):
    ids, scores, bboxes = _detections()
    first = viz.plot_detections(drawing.image(), bboxes, scores, ids, class_names=net.classes)
    # the same person box alone, in another call: same colour as before
    again = viz.plot_detections(drawing.image(), bboxes[0, 2:3], scores[0, 2:3], ids[0, 2:3],
                                class_names=net.classes)
    assert drawing.rects(again)[0].get_edgecolor() == drawing.rects(first)[1].get_edgecolor()


def test_plot_detections_without_ids_or_scores_skips_padding_and_labels():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 20, 30], [1, 2, 3, 4], [-1, -1, -1, -1]])
    ax = viz.plot_detections(drawing.image(40, 40), boxes)
    assert len(drawing.rects(ax)) == 3 and len(ax.texts) == 0  # nothing to label
    ax = viz.plot_detections(drawing.image(40, 40), boxes, scores=[0.9, 0.8, 0.1, -1], thresh=0.5)
    assert [t.get_text().strip() for t in ax.texts] == ["0.900", "0.800"]


def test_plot_detections_scales_float_images():
    img = np.zeros((20, 30, 3), dtype=np.float32)
    img[0, 0] = 1.0  # a [0, 1] float image: shown as 255
    ax = viz.plot_detections(mx.nd.array(img), np.zeros((0, 4)))
    shown = ax.images[0].get_array()
    assert shown.dtype == np.uint8 and shown[0, 0, 0] == 255 and shown.shape == (20, 30, 3)


def test_plot_detections_rejects_bad_shapes(net):
    img = drawing.image(40, 40)
    with pytest.raises(ValueError, match=r"\(K, 4\).*got shape \(3, 5\)"):
        viz.plot_detections(img, np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"2 images.*bboxes\[i\]"):
        viz.plot_detections(img, np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="scores must be"):
        viz.plot_detections(img, np.zeros((3, 4)), scores=np.zeros(2))
    with pytest.raises(ValueError, match=r"transpose\(1, 2, 0\)"):
        viz.plot_detections(np.zeros((3, 40, 40)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="class id 20 has no name"):
        viz.plot_detections(img, np.zeros((1, 4)), ids=[20], class_names=net.classes)

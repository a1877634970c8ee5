"""The confusion-matrix heatmap, the error-breakdown bars and the worst-case gallery."""
import numpy as np
import pytest
from matplotlib.patches import Rectangle

from gluon_ssd.viz import plot_confusion_matrix, plot_error_breakdown, plot_gallery
from gluon_ssd.viz.gallery import MAX_DRAWN


def test_confusion_heatmap_shows_each_count_and_row_fractions():
    counts = [[3, 1, 0], [0, 2, 2], [1, 0, 0]]
    ax = plot_confusion_matrix(counts, ["a", "b", "background"], ["a", "b", "missed"])
    # one text per non-zero cell, its count
    assert sorted(t.get_text() for t in ax.texts) == ["1", "1", "2", "2", "3"]
    # row 1 (b): 2 of 4 predicted b, 2 of 4 missed -> colours 0.5, cell (1, 0) 0
    np.testing.assert_allclose(ax.images[0].get_array()[1], [0, 0.5, 0.5])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "background"]
    with pytest.raises(ValueError, match=r"counts has shape \(3, 3\), labels give \(2, 3\)"):
        plot_confusion_matrix(counts, ["a", "b"], ["a", "b", "missed"])


def test_error_bars_are_dap_in_points_in_tides_order():
    errors = {k: {"count": n, "dAP": d} for k, n, d in (
        ("classification", 1, 0.01), ("localization", 4, 0.05), ("both", 0, 0.0),
        ("duplicate", 2, 0.002), ("background", 9, 0.03), ("missed", 3, 0.1))}
    ax = plot_error_breakdown(errors)
    heights = [bar.get_height() for bar in ax.patches]
    np.testing.assert_allclose(heights, [1, 5, 0, 0.2, 3, 10])   # dAP x 100
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Cls", "Loc", "Both", "Dupe", "Bkg",
                                                           "Miss"]
    assert [t.get_text() for t in ax.texts] == ["1", "4", "0", "2", "9", "3"]
    with pytest.raises(ValueError, match="errors lacks"):
        plot_error_breakdown({"classification": {"count": 0, "dAP": 0}})


def _rectangles(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_gallery_draws_ground_truth_dashed_and_detections_solid():
    image = np.zeros((50, 60, 3), np.uint8)
    panel = {"image": image, "gt_boxes": [[5, 5, 20, 20], [30, 5, 50, 40]], "gt_classes": [0, 1],
             "det_boxes": [[6, 5, 20, 21], [0, 0, 5, 5]], "det_classes": [0, 1],
             "det_scores": [0.9, 0.2], "title": "x: 1"}
    many = dict(panel, gt_boxes=[], gt_classes=[], det_boxes=[[1, 1, 9, 9]] * 40,
                det_classes=[0] * 40, det_scores=np.linspace(0.6, 1, 40))
    fig = plot_gallery([panel, many], ["a", "b"], score_thresh=0.5)
    first, second = fig.axes[:2]
    dashed = [p for p in _rectangles(first) if p.get_linestyle() == "--"]
    solid = [p for p in _rectangles(first) if p.get_linestyle() == "solid"]
    assert len(dashed) == 2            # both ground-truth boxes
    assert len(solid) == 1             # the 0.2 detection is below the threshold
    assert first.get_title() == "x: 1"
    assert len([p for p in _rectangles(second) if p.get_linestyle() == "solid"]) == MAX_DRAWN


def test_empty_gallery_says_so():
    fig = plot_gallery([], ["a"])
    assert [t.get_text() for t in fig.axes[0].texts] == ["no image to show"]

"""Tests for gluon_ssd.viz.anchors: feature-map sizes and anchors are the network's own, and what
is drawn is counted (the ``net`` fixture: tests/viz/conftest.py)."""
import mxnet as mx
import numpy as np
import pytest
from matplotlib.collections import LineCollection
from mxnet import autograd

from tests.helpers import drawing

from gluon_ssd import viz, zoo


# --- map sizes and anchors -------------------------------------------------------------------


def test_feature_map_sizes_follow_the_real_strides(net):
    # MobileNet's 3x3 stride-2 pad-1 convs and the 3x3 s2 p1 extras each map n -> ceil(n / 2):
    # 300 -> 150 -> 75 -> 38 -> 19 (stride 16) -> 10 (32) -> 5 -> 3 -> 2 -> 1.
    assert viz.feature_map_sizes(net, 300) == [(19, 19), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]
    # 200 wide -> 100 -> 50 -> 25 -> 13 -> 7 -> 4 -> 2 -> 1 -> 1
    assert viz.feature_map_sizes(net, (300, 200)) == [(19, 13), (10, 7), (5, 4), (3, 2), (2, 1),
                                                      (1, 1)]


def test_layer_anchors_are_centred_on_their_cells(net):
    specs = net.features.specs
    # Layer 0: the stride-16 tap, a 19x19 map; its step is the real stride.
    assert specs[0].stride == 16 and net.anchor_generators[0].step == 16
    a0 = viz.layer_anchors(net, 0, (300, 300))
    assert a0.shape == (19, 19, 4, 4)  # ratios (1, 2, 0.5): 2 squares + 2 = 4 anchors per cell
    i, j = np.meshgrid(np.arange(19), np.arange(19), indexing="ij")
    expected = np.stack([(j + 0.5) * 16, (i + 0.5) * 16], axis=-1)[:, :, None, :]
    np.testing.assert_allclose(drawing.centres(a0), np.broadcast_to(expected, (19, 19, 4, 2)), atol=1e-4)
    # cell (0, 0): centre (8, 8), first anchor s_0 = 30 px square -> corners 8 -+ 15
    np.testing.assert_allclose(a0[0, 0, 0], [-7, -7, 23, 23], atol=1e-4)
    # cell (2, 5): row 2, column 5 -> centre x = 5.5 * 16 = 88, y = 2.5 * 16 = 40
    np.testing.assert_allclose(drawing.centres(a0[2, 5]), [[88, 40]] * 4, atol=1e-4)
    # Layer 1: stride 32, 10x10 map; the last centre, 9.5 * 32 = 304, lies past the 300 px input.
    assert specs[1].stride == 32 and net.anchor_generators[1].step == 32
    a1 = viz.layer_anchors(net, 1, 300)
    assert a1.shape == (10, 10, 6, 4)  # ratios (1, 2, 0.5, 3, 1/3): 6 anchors per cell
    np.testing.assert_allclose(drawing.centres(a1[9, 9]), [[304, 304]] * 6, atol=1e-4)
    np.testing.assert_allclose(drawing.centres(a1[0, 3]), [[112, 16]] * 6, atol=1e-4)
    # Layer 3: 3x3 map, preset step 100 (real stride 128): centres 50, 150, 250 = 300 / 3 cells.
    a3 = viz.layer_anchors(net, 3, 300)
    np.testing.assert_allclose(drawing.centres(a3[:, :, 0]),
                               [[[x, y] for x in (50, 150, 250)] for y in (50, 150, 250)],
                               atol=1e-4)


@pytest.mark.parametrize("size", [(300, 300), (200, 320)])
def test_layer_anchors_are_the_train_mode_anchors(net, size):
    x = mx.nd.zeros((1, 3) + size)
    with autograd.train_mode():
        _, _, anchors = net(x)
    anchors = anchors.asnumpy()[0]  # (N, 4) cx, cy, w, h
    corners = np.concatenate([anchors[:, :2] - anchors[:, 2:] / 2,
                              anchors[:, :2] + anchors[:, 2:] / 2], axis=1)
    ours = np.concatenate([viz.layer_anchors(net, k, size).reshape(-1, 4)
                           for k in range(len(net.anchor_generators))])
    assert ours.shape == corners.shape
    np.testing.assert_allclose(ours, corners, atol=1e-4)


def test_layer_anchors_need_no_initialized_net(net):
    fresh = zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained_base=False)  # never initialized
    for k in (0, 5):
        np.testing.assert_array_equal(viz.layer_anchors(fresh, k, 300),
                                      viz.layer_anchors(net, k, 300))


def test_layer_anchors_reject_bad_layers_and_sizes(net):
    with pytest.raises(ValueError, match=r"valid indices are 0\.\.5"):
        viz.layer_anchors(net, 6, 300)
    with pytest.raises(ValueError, match=r"valid indices are 0\.\.5"):
        viz.layer_anchors(net, -1, 300)
    with pytest.raises(TypeError, match="layer must be an int"):
        viz.layer_anchors(net, "0", 300)
    with pytest.raises(TypeError, match="image_size"):
        viz.layer_anchors(net, 0, (300, 300, 3))
    with pytest.raises(TypeError, match="gluon_ssd.SSD"):
        viz.layer_anchors(net.features, 0, 300)


def test_plot_anchors_draws_the_grid_and_the_cells_anchors(net):
    img = drawing.image()
    anchors = viz.layer_anchors(net, 1, 300)  # 10x10 map, 6 anchors per cell
    cells = [(0, 0), (9, 9), (4, 5)]
    ax = viz.plot_anchors(img, net, 1, cells=cells)
    rects = drawing.rects(ax)
    assert len(ax.patches) == len(rects) == 3 * 6
    got = np.array([[r.get_x(), r.get_y(), r.get_x() + r.get_width(), r.get_y() + r.get_height()]
                    for r in rects])
    np.testing.assert_allclose(got, np.concatenate([anchors[i, j] for i, j in cells]), atol=1e-4)
    # Grid: 9 inner vertical and 9 horizontal lines, 300 / 10 = 30 px apart.
    grids = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(grids) == 2
    vertical, horizontal = (np.array(c.get_segments()) for c in grids)
    np.testing.assert_allclose(vertical[:, 0, 0], np.arange(30, 300, 30))
    np.testing.assert_allclose(horizontal[:, 0, 1], np.arange(30, 300, 30))
    assert len(ax.images) == 1
    # The view is widened to the anchors: cell (9, 9)'s largest box reaches past 300 px.
    assert ax.get_xlim()[1] == pytest.approx(anchors[9, 9, :, 2].max())


def test_plot_anchors_defaults_to_the_centre_cell_and_can_hide_the_grid(net):
    ax = viz.plot_anchors(drawing.image(), net, 0, grid=False)
    rects = drawing.rects(ax)
    assert len(rects) == 4  # one cell (9, 9) of the 19x19 map, 4 anchors
    centres = {(round(r.get_x() + r.get_width() / 2, 3), round(r.get_y() + r.get_height() / 2, 3))
               for r in rects}
    assert centres == {(152.0, 152.0)}  # (9 + 0.5) * 16
    assert not [c for c in ax.collections if isinstance(c, LineCollection)]


def test_plot_anchors_rejects_bad_layers_and_cells(net):
    with pytest.raises(ValueError, match=r"6 prediction layers, valid indices are 0\.\.5"):
        viz.plot_anchors(drawing.image(), net, 7)
    with pytest.raises(ValueError, match=r"outside the 5x5 map"):
        viz.plot_anchors(drawing.image(), net, 2, cells=[(5, 0)])
    with pytest.raises(TypeError, match=r"\(i, j\) pairs"):
        viz.plot_anchors(drawing.image(), net, 2, cells=[3])


def test_plot_anchor_sample_has_one_subplot_per_layer(net):
    fig = viz.plot_anchor_sample(drawing.image(), net, per_layer=1)
    # anchors per cell of layers 0..5 (ratios of 3, 5, 5, 5, 3, 3 -> +1 square each)
    assert [len(drawing.rects(ax)) for ax in fig.axes] == [4, 6, 6, 6, 4, 4]
    fig = viz.plot_anchor_sample(drawing.image(), net, per_layer=2)
    # 2 cells per layer (fractions 1/3 and 2/3), except the 1x1 map: one cell, drawn once.
    assert [len(drawing.rects(ax)) for ax in fig.axes] == [8, 12, 12, 12, 8, 4]
    with pytest.raises(ValueError, match="per_layer"):
        viz.plot_anchor_sample(drawing.image(), net, per_layer=0)


# --- detections ------------------------------------------------------------------------------


# --- backbone taps ---------------------------------------------------------------------------


# --- training log and PR curves --------------------------------------------------------------


# --- saving ----------------------------------------------------------------------------------

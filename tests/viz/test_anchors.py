"""Tests for gluon_ssd.viz: what is drawn is counted, and anchors are the network's own."""
import csv
import os

import matplotlib

matplotlib.use("Agg")

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from mxnet import autograd  # noqa: E402

from gluon_ssd import FeatureExtractor, viz, zoo  # noqa: E402

MODEL = "ssd_300_mobilenet0.25_voc"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def no_show_and_close(monkeypatch):
    """Every test fails if anything calls plt.show(); figures are closed afterwards."""
    def show(*args, **kwargs):
        raise AssertionError("gluon_ssd.viz must never call plt.show()")
    monkeypatch.setattr(plt, "show", show)
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def net():
    net = zoo.get_model(MODEL, pretrained_base=False)
    mx.random.seed(0)
    net.initialize(mx.init.Xavier())
    return net


def _image(h=300, w=300):
    return np.random.RandomState(0).randint(0, 256, size=(h, w, 3)).astype(np.uint8)


def _rects(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def _centres(corners):
    return (corners[..., :2] + corners[..., 2:]) / 2


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
    np.testing.assert_allclose(_centres(a0), np.broadcast_to(expected, (19, 19, 4, 2)), atol=1e-4)
    # cell (0, 0): centre (8, 8), first anchor s_0 = 30 px square -> corners 8 -+ 15
    np.testing.assert_allclose(a0[0, 0, 0], [-7, -7, 23, 23], atol=1e-4)
    # cell (2, 5): row 2, column 5 -> centre x = 5.5 * 16 = 88, y = 2.5 * 16 = 40
    np.testing.assert_allclose(_centres(a0[2, 5]), [[88, 40]] * 4, atol=1e-4)
    # Layer 1: stride 32, 10x10 map; the last centre, 9.5 * 32 = 304, lies past the 300 px input.
    assert specs[1].stride == 32 and net.anchor_generators[1].step == 32
    a1 = viz.layer_anchors(net, 1, 300)
    assert a1.shape == (10, 10, 6, 4)  # ratios (1, 2, 0.5, 3, 1/3): 6 anchors per cell
    np.testing.assert_allclose(_centres(a1[9, 9]), [[304, 304]] * 6, atol=1e-4)
    np.testing.assert_allclose(_centres(a1[0, 3]), [[112, 16]] * 6, atol=1e-4)
    # Layer 3: 3x3 map, preset step 100 (real stride 128): centres 50, 150, 250 = 300 / 3 cells.
    a3 = viz.layer_anchors(net, 3, 300)
    np.testing.assert_allclose(_centres(a3[:, :, 0]),
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
    fresh = zoo.get_model(MODEL, pretrained_base=False)  # never initialized
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
    img = _image()
    anchors = viz.layer_anchors(net, 1, 300)  # 10x10 map, 6 anchors per cell
    cells = [(0, 0), (9, 9), (4, 5)]
    ax = viz.plot_anchors(img, net, 1, cells=cells)
    rects = _rects(ax)
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
    ax = viz.plot_anchors(_image(), net, 0, grid=False)
    rects = _rects(ax)
    assert len(rects) == 4  # one cell (9, 9) of the 19x19 map, 4 anchors
    centres = {(round(r.get_x() + r.get_width() / 2, 3), round(r.get_y() + r.get_height() / 2, 3))
               for r in rects}
    assert centres == {(152.0, 152.0)}  # (9 + 0.5) * 16
    assert not [c for c in ax.collections if isinstance(c, LineCollection)]


def test_plot_anchors_rejects_bad_layers_and_cells(net):
    with pytest.raises(ValueError, match=r"6 prediction layers, valid indices are 0\.\.5"):
        viz.plot_anchors(_image(), net, 7)
    with pytest.raises(ValueError, match=r"outside the 5x5 map"):
        viz.plot_anchors(_image(), net, 2, cells=[(5, 0)])
    with pytest.raises(TypeError, match=r"\(i, j\) pairs"):
        viz.plot_anchors(_image(), net, 2, cells=[3])


def test_plot_anchor_sample_has_one_subplot_per_layer(net):
    fig = viz.plot_anchor_sample(_image(), net, per_layer=1)
    # anchors per cell of layers 0..5 (ratios of 3, 5, 5, 5, 3, 3 -> +1 square each)
    assert [len(_rects(ax)) for ax in fig.axes] == [4, 6, 6, 6, 4, 4]
    fig = viz.plot_anchor_sample(_image(), net, per_layer=2)
    # 2 cells per layer (fractions 1/3 and 2/3), except the 1x1 map: one cell, drawn once.
    assert [len(_rects(ax)) for ax in fig.axes] == [8, 12, 12, 12, 8, 4]
    with pytest.raises(ValueError, match="per_layer"):
        viz.plot_anchor_sample(_image(), net, per_layer=0)


# --- detections ------------------------------------------------------------------------------


def _detections():
    # 5 rows: kept, below thresh, kept, and two -1 padding rows, as the detector outputs them.
    ids = mx.nd.array([[[0], [1], [14], [-1], [-1]]])
    scores = mx.nd.array([[[0.9], [0.3], [0.7], [-1], [-1]]])
    bboxes = mx.nd.array([[[10, 20, 110, 220], [5, 5, 50, 50], [150.6, 30, 290, 280],
                           [-1, -1, -1, -1], [-1, -1, -1, -1]]])
    return ids, scores, bboxes


def test_plot_detections_draws_exactly_the_rows_above_thresh(net):
    ids, scores, bboxes = _detections()
    ax = viz.plot_detections(_image(), bboxes, scores, ids, class_names=net.classes, thresh=0.5)
    rects = _rects(ax)
    assert len(rects) == 2
    # GluonCV's plot_bbox truncates corners to ints: 150.6 -> 150
    assert [(r.get_x(), r.get_y(), r.get_width(), r.get_height()) for r in rects] == [
        (10, 20, 100, 200), (150, 30, 140, 250)]
    # VOC class 0 is aeroplane, class 14 person
    assert [t.get_text() for t in ax.texts] == ["aeroplane 0.900", "person 0.700"]
    assert rects[0].get_edgecolor() != rects[1].get_edgecolor()
    # thresh 0.2 lets the 0.3 row in as well
    ax = viz.plot_detections(_image(), bboxes, scores, ids, class_names=net.classes, thresh=0.2)
    assert len(_rects(ax)) == 3 and len(ax.texts) == 3


def test_plot_detections_colours_are_stable_per_class(net):
    ids, scores, bboxes = _detections()
    first = viz.plot_detections(_image(), bboxes, scores, ids, class_names=net.classes)
    # the same person box alone, in another call: same colour as before
    again = viz.plot_detections(_image(), bboxes[0, 2:3], scores[0, 2:3], ids[0, 2:3],
                                class_names=net.classes)
    assert _rects(again)[0].get_edgecolor() == _rects(first)[1].get_edgecolor()


def test_plot_detections_without_ids_or_scores_skips_padding_and_labels():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 20, 30], [1, 2, 3, 4], [-1, -1, -1, -1]])
    ax = viz.plot_detections(_image(40, 40), boxes)
    assert len(_rects(ax)) == 3 and len(ax.texts) == 0  # nothing to label
    ax = viz.plot_detections(_image(40, 40), boxes, scores=[0.9, 0.8, 0.1, -1], thresh=0.5)
    assert [t.get_text().strip() for t in ax.texts] == ["0.900", "0.800"]


def test_plot_detections_scales_float_images():
    img = np.zeros((20, 30, 3), dtype=np.float32)
    img[0, 0] = 1.0  # a [0, 1] float image: shown as 255
    ax = viz.plot_detections(mx.nd.array(img), np.zeros((0, 4)))
    shown = ax.images[0].get_array()
    assert shown.dtype == np.uint8 and shown[0, 0, 0] == 255 and shown.shape == (20, 30, 3)


def test_plot_detections_rejects_bad_shapes(net):
    img = _image(40, 40)
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


# --- backbone taps ---------------------------------------------------------------------------


def test_plot_taps_bars_are_the_specs_params():
    r50 = FeatureExtractor("resnet50_v1", strides=(8, 16, 32))
    ax = viz.plot_taps([r50, "resnet101_v1"], input_size=256)
    r101 = FeatureExtractor("resnet101_v1", strides=(8, 16, 32))
    assert len(ax.containers) == 2
    heights = [[bar.get_height() for bar in c] for c in ax.containers]
    assert heights == [[s.params for s in r50.specs], [s.params for s in r101.specs]]
    # Stride 8 ends stage 2 in both: equal. Stride 16 ends stage 3: ResNet-101 has 23 units,
    # ResNet-50 6, and each extra bottleneck (1024 -> 256 -> 256 -> 1024) adds
    # 1x1 conv 1024*256 + 256 bias, 3x3 conv 9*256*256 (no bias), 1x1 conv 256*1024 + 1024 bias,
    # 3 BatchNorms 2*(256 + 256 + 1024) = 1_118_464 parameters; 17 of them:
    extra = 17 * (1024 * 256 + 256 + 9 * 256 * 256 + 256 * 1024 + 1024 + 2 * (256 + 256 + 1024))
    assert extra == 19_013_888
    assert heights[0][0] == heights[1][0]
    assert heights[1][1] - heights[0][1] == extra
    assert heights[1][2] - heights[0][2] == extra  # stage 4 is the same in both
    assert [t.get_text() for t in ax.get_xticklabels()] == ["stride 8", "stride 16", "stride 32"]
    # labels name the tap and its 256 / 16 = 16x16 map
    assert "stage3_activation22\n1024 ch, 16x16" in [t.get_text() for t in ax.texts]


def test_plot_taps_rejects_bad_items():
    with pytest.raises(TypeError, match="FeatureExtractor"):
        viz.plot_taps([3])
    with pytest.raises(ValueError, match="at least one"):
        viz.plot_taps([])


# --- training log and PR curves --------------------------------------------------------------


def _write_csv(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_plot_training_log_three_rows(tmp_path):
    path = _write_csv(tmp_path / "log.csv", [
        ["epoch", "train_loss", "cls_loss", "box_loss", "val_map", "note"],
        [0, 3.0, 2.0, 1.0, 0.1, "warmup"],
        [1, 2.0, 1.3, 0.7, "", "x"],  # val_map missing this epoch: a gap
        [2, 1.5, 1.0, 0.5, 0.4, "y"]])
    ax, map_ax = viz.plot_training_log(path)
    assert [line.get_label() for line in ax.lines] == ["train_loss", "cls_loss", "box_loss"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [3.0, 2.0, 1.5])
    np.testing.assert_allclose(ax.lines[2].get_xdata(), [0, 1, 2])
    assert [line.get_label() for line in map_ax.lines] == ["val_map"]
    np.testing.assert_allclose(map_ax.lines[0].get_ydata(), [0.1, np.nan, 0.4])
    assert map_ax.get_ylim() == (0, 1)


def test_plot_training_log_one_row(tmp_path):
    path = _write_csv(tmp_path / "log.csv", [["epoch", "train_loss", "val_mAP"], [4, 2.5, 0.25]])
    ax, map_ax = viz.plot_training_log(path)
    (loss,), (m,) = ax.lines, map_ax.lines
    assert list(loss.get_xdata()) == [4] and list(loss.get_ydata()) == [2.5]
    assert list(m.get_ydata()) == [0.25]
    assert loss.get_marker() not in (None, "None", "")  # a single point must be visible
    assert ax.get_xlim() == (3, 5)


def test_plot_training_log_from_a_dict_without_epoch_or_map():
    ax, map_ax = viz.plot_training_log({"loss": [1.0, 0.5]})
    assert map_ax is None
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1, 2])  # rows numbered from 1
    # None where an epoch had no validation (as gluon_ssd.training passes its history): a gap;
    # a column with no value at all is not drawn.
    ax, map_ax = viz.plot_training_log({"epoch": [1, 2], "loss": [1.0, 0.5],
                                        "val_voc07_map": [None, 0.3], "val_map": [None, None]})
    assert [line.get_label() for line in map_ax.lines] == ["val_voc07_map"]
    np.testing.assert_allclose(map_ax.lines[0].get_ydata(), [np.nan, 0.3])
    with pytest.raises(ValueError, match="different lengths"):
        viz.plot_training_log({"epoch": [0, 1], "loss": [1.0]})
    with pytest.raises(ValueError, match="no numeric column"):
        viz.plot_training_log({"epoch": [0, 1], "note": ["a", "b"]})
    with pytest.raises(TypeError, match="CSV path or a dict"):
        viz.plot_training_log([1, 2])


def test_plot_training_log_rejects_an_empty_csv(tmp_path):
    path = _write_csv(tmp_path / "log.csv", [["epoch", "loss"]])
    with pytest.raises(ValueError, match="no data rows"):
        viz.plot_training_log(path)


def test_plot_pr_curves_one_line_per_class_with_data():
    precisions = [np.array([1.0, 0.5, 0.67]), None, np.array([1.0])]
    recalls = [np.array([0.5, 0.5, 1.0]), None, np.array([0.25])]
    ax = viz.plot_pr_curves(precisions, recalls, ["cat", "dog", "cow"], aps=[0.8, np.nan, 0.25])
    assert [line.get_label() for line in ax.lines] == ["cat (AP 0.800)", "cow (AP 0.250)"]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0.5, 0.5, 1.0])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1.0, 0.5, 0.67])
    with pytest.raises(ValueError, match="one precision and recall array per class"):
        viz.plot_pr_curves(precisions, recalls, ["cat", "dog"])
    with pytest.raises(ValueError, match="3 precisions but 2 recalls"):
        viz.plot_pr_curves([np.ones(3)], [np.ones(2)], ["cat"])


# --- saving ----------------------------------------------------------------------------------


def test_save_figure_writes_a_png_atomically(tmp_path):
    ax = viz.plot_detections(_image(40, 40), np.array([[1, 1, 20, 20]]))
    path = tmp_path / "det.png"
    path.write_bytes(b"old")
    assert viz.save_figure(ax, path) == str(path)  # an Axes means its figure
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert os.listdir(tmp_path) == ["det.png"]  # no temporary file left
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


def test_save_figure_failure_keeps_the_old_file_and_no_temp(tmp_path):
    fig = plt.figure()
    path = tmp_path / "fig.png"
    path.write_bytes(b"old")
    with pytest.raises(TypeError, match="not_a_savefig_option"):
        viz.save_figure(fig, path, not_a_savefig_option=1)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["fig.png"]
    with pytest.raises(ValueError, match="unknown format 'xyz'"):
        viz.save_figure(fig, tmp_path / "fig.xyz")
    assert os.listdir(tmp_path) == ["fig.png"]
    with pytest.raises(TypeError, match="Figure or Axes"):
        viz.save_figure("fig", tmp_path / "a.png")

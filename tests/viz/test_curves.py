"""Tests for gluon_ssd.viz.curves: training logs (CSV or dict) and precision-recall curves."""
import csv

import numpy as np
import pytest


from gluon_ssd import viz


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

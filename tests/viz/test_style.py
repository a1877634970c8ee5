"""Tests for gluon_ssd.viz.style: save_figure writes atomically and keeps the old file on failure."""
import os

import numpy as np
import pytest
from matplotlib import pyplot as plt

from tests.helpers import drawing

from gluon_ssd import viz


def test_save_figure_writes_a_png_atomically(tmp_path):
    ax = viz.plot_detections(drawing.image(40, 40), np.array([[1, 1, 20, 20]]))
    path = tmp_path / "det.png"
    path.write_bytes(b"old")
    assert viz.save_figure(ax, path) == str(path)  # an Axes means its figure
    assert path.read_bytes()[:8] == drawing.PNG_MAGIC
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

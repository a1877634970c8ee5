"""Windows over large images, boxes cut by windows (min_visible, the ignore rule), TiledDataset."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

from gluon_ssd.data import VOCDataset, generate_voc
from gluon_ssd.data.labels import IGNORE_CLASS_ID
from gluon_ssd.data.tiles import TiledDataset, cut_labels, tile_grid


def test_grid_steps_by_the_overlap_and_ends_flush_with_the_image():
    # 1000 px wide, tile 320, overlap 0.2: step round(320 * 0.8) = 256, starts 0, 256, 512 and
    # 768 -> 680 (= 1000 - 320, flush with the edge); 300 px high <= 320: one row of height 300.
    assert tile_grid(1000, 300, (320, 320), 0.2) == [
        (0, 0, 320, 300), (256, 0, 576, 300), (512, 0, 832, 300), (680, 0, 1000, 300)]
    assert tile_grid(200, 100, (320, 320)) == [(0, 0, 200, 100)]       # fits: the whole image
    covered = np.zeros((700, 900), bool)
    for x1, y1, x2, y2 in tile_grid(900, 700, (256, 256), 0.1):
        assert (x2 - x1, y2 - y1) == (256, 256)
        covered[y1:y2, x1:x2] = True
    assert covered.all()
    with pytest.raises(ValueError, match=r"overlap must be in \[0, 1\), got 1"):
        tile_grid(10, 10, (5, 5), 1)


def test_boxes_keep_their_visible_part_or_are_ignored():
    window = (100, 0, 200, 100)
    label = np.array([[120, 10, 140, 30, 1, 0],     # inside: shifted by -100 in x
                      [180, 40, 220, 60, 2, 0],     # 20 of 40 px wide inside: 0.5 -> kept
                      [190, 70, 230, 90, 0, 0],     # 10 of 40 inside: 0.25 -> ignored
                      [300, 0, 320, 20, 1, 0]],     # outside: dropped
                     np.float32)
    np.testing.assert_array_equal(cut_labels(label, window, min_visible=0.5), [
        [20, 10, 40, 30, 1, 0], [80, 40, 100, 60, 2, 0], [90, 70, 100, 90, IGNORE_CLASS_ID, 0]])
    # Evaluation marks the partly visible box difficult instead, keeping its class.
    np.testing.assert_array_equal(cut_labels(label, window, 0.5, partial="difficult")[2],
                                  [90, 70, 100, 90, 0, 1])
    # A stricter min_visible ignores the half-visible box too.
    assert cut_labels(label, window, min_visible=0.6)[1, 4] == IGNORE_CLASS_ID


def test_tiled_dataset_items_are_windows_of_every_image():
    image = np.arange(120 * 200 * 3, dtype=np.uint8).reshape(120, 200, 3)
    small = np.zeros((50, 60, 3), np.uint8)
    items = [(mx.nd.array(image, dtype="uint8"), np.array([[90, 10, 110, 30, 0, 0]], np.float32)),
             (mx.nd.array(small, dtype="uint8"), np.zeros((0, 6), np.float32))]
    tiled = TiledDataset(gluon.data.SimpleDataset(items), (100, 100), overlap=0.0)
    # 200 x 120 in 100 px tiles, no overlap: x starts 0, 100; y starts 0, 20 (flush): 4 windows,
    # plus the small image whole: 5.
    assert len(tiled) == 5 and tiled.num_images == 2
    assert tiled.windows[:2] == [(0, (0, 0, 100, 100)), (0, (100, 0, 200, 100))]
    crop, label = tiled[1]
    np.testing.assert_array_equal(crop.asnumpy(), image[0:100, 100:200])
    # The box x 90..110 is half in window 0 and half in window 1: kept in both (0.5 >= 0.5).
    np.testing.assert_array_equal(label, [[0, 10, 10, 30, 0, 0]])
    np.testing.assert_array_equal(tiled[0][1], [[90, 10, 100, 30, 0, 0]])
    assert tiled[4][0].shape == (50, 60, 3) and tiled[4][1].shape == (0, 6)


def test_tiled_dataset_reads_sizes_from_file_headers(tmp_path):
    generate_voc(str(tmp_path), 2, 1, image_size=(96, 160), seed=1, progress=False)
    voc = VOCDataset(str(tmp_path), ("circle", "square", "triangle"))
    tiled = TiledDataset(voc, (64, 64), overlap=0.25)
    # 160 wide: step 48, starts 0, 48, 96; 96 high: starts 0, 32 -> 6 windows per image.
    assert len(tiled) == 12 and tiled.classes == voc.classes
    crop, label = tiled[7]
    assert crop.shape == (64, 64, 3) and label.shape[1] == 6


def test_concatenated_datasets_are_tiled_from_their_file_headers(tmp_path):
    from gluon_ssd.data import ConcatDataset
    generate_voc(str(tmp_path), 1, 1, image_size=(64, 128), seed=2, progress=False)
    classes = ("circle", "square", "triangle")
    both = ConcatDataset([VOCDataset(str(tmp_path), classes, split=s) for s in ("train", "val")])
    assert both.image_path(1).endswith("000001.jpg")
    # 128 x 64 in 64 px tiles without overlap: 2 windows per image.
    assert len(TiledDataset(both, (64, 64), overlap=0.0)) == 4

"""Tests for gluon_ssd.data.synthetic: the seeded generator of shapes, its tight boxes, VOC layout."""
import os

import numpy as np
import pytest
from PIL import Image

from gluon_ssd.data import generate_image, generate_voc
from gluon_ssd.data import synthetic
from gluon_ssd.data.synthetic import CLASSES


def _tree_bytes(root):
    """{relative path: bytes} of every file under root."""
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def test_generate_voc_is_byte_identical_for_a_seed_and_differs_across_seeds(tmp_path):
    a = generate_voc(str(tmp_path / "a"), 4, 2, image_size=(96, 128), seed=3, progress=False)
    generate_voc(str(tmp_path / "b"), 4, 2, image_size=(96, 128), seed=3, progress=False)
    generate_voc(str(tmp_path / "c"), 4, 2, image_size=(96, 128), seed=4, progress=False)
    files_a, files_b = _tree_bytes(tmp_path / "a"), _tree_bytes(tmp_path / "b")
    # 6 images + 6 annotations + train.txt + val.txt
    assert len(files_a) == 14
    assert files_a == files_b
    files_c = _tree_bytes(tmp_path / "c")
    assert files_c.keys() == files_a.keys()
    assert all(files_c[k] != files_a[k] for k in files_a if k.endswith(".jpg"))
    assert a["num_images"] == {"train": 4, "val": 2}


def test_generate_voc_writes_voc_layout_and_summary(tmp_path):
    summary = generate_voc(str(tmp_path), 3, 2, image_size=(64, 80), progress=False)
    with open(tmp_path / "ImageSets" / "Main" / "train.txt") as f:
        assert f.read() == "000000\n000001\n000002\n"
    with open(tmp_path / "ImageSets" / "Main" / "val.txt") as f:
        assert f.read() == "000003\n000004\n"
    for k in range(5):
        assert (tmp_path / "JPEGImages" / f"{k:06d}.jpg").is_file()
        assert (tmp_path / "Annotations" / f"{k:06d}.xml").is_file()
        with Image.open(tmp_path / "JPEGImages" / f"{k:06d}.jpg") as img:
            assert img.size == (80, 64) and img.mode == "RGB"     # PIL size is (width, height)
    assert summary["split_files"]["val"] == str(tmp_path / "ImageSets" / "Main" / "val.txt")
    assert summary["classes"] == CLASSES
    # 1-4 objects per image.
    assert 3 <= summary["num_objects"]["train"] <= 12 and 2 <= summary["num_objects"]["val"] <= 8


def test_generated_boxes_are_tight_boxes_of_the_visible_pixels():
    short = 200
    counts = set()
    for seed in range(40):
        image, label, masks = generate_image(seed, (short, 240), return_masks=True)
        assert image.shape == (short, 240, 3) and image.dtype == np.uint8
        assert label.dtype == np.float32 and label.shape[1] == 6
        assert 1 <= len(label) <= 4 and masks.shape == (len(label), short, 240)
        counts.add(len(label))
        assert masks.sum(axis=0).max() == 1                 # an object pixel has one owner
        for row, mask in zip(label, masks):
            ys, xs = np.nonzero(mask)
            # Re-derived tight box: first/last visible column and row, 0-based inclusive.
            assert row[:4].tolist() == [xs.min(), ys.min(), xs.max(), ys.max()]
            assert row[4] in (0, 1, 2) and row[5] == 0
            # Every visible pixel of an object was painted in one colour, then uniform noise of
            # amplitude <= 12 was added: a spread of at most 2 * 12 grey levels per channel.
            pixels = image[mask].astype(int)
            assert (pixels.max(axis=0) - pixels.min(axis=0)).max() <= 24
        # The last object is on top, so it is whole. Its longer side is 0.15-0.6 of the short side
        # (30-120 px), times 1-1.25 for a rectangle's aspect, 0.9-1.1 for a triangle.
        w, h = label[-1, 2] - label[-1, 0] + 1, label[-1, 3] - label[-1, 1] + 1
        assert 0.15 * short * 0.9 - 1 <= max(w, h) <= 0.6 * short * 1.25 + 1
    assert counts == {1, 2, 3, 4}


def test_shape_masks_by_hand():
    rng = np.random.default_rng(0)
    circle = synthetic._shape_mask("circle", 11, rng)
    # Pixel centres within 5.5 of the centre (5, 5): per row offset dy, |dx| <= sqrt(30.25 - dy^2):
    # dy 0, +-1, +-2 -> 11 each; +-3 -> 9; +-4 -> 7; +-5 -> 5: 11 + 2 * (11 + 11 + 9 + 7 + 5) = 97.
    assert circle.shape == (11, 11) and circle.sum() == 97
    assert circle[0].tolist() == [False] * 3 + [True] * 5 + [False] * 3
    square = synthetic._shape_mask("square", 40, rng)
    assert square.all() and square.shape[1] == 40 and 32 <= square.shape[0] <= 50   # aspect .8-1.25
    triangle = synthetic._shape_mask("triangle", 50, rng)
    # Cropped to its tight window: the shape touches all four sides. A triangle touching all
    # four sides of a rectangle covers at most half of it (plus the boundary pixels, counted in
    # full); a near-equilateral one (120 +- 17 degrees apart) covers over 40%.
    assert triangle[0].any() and triangle[-1].any()
    assert triangle[:, 0].any() and triangle[:, -1].any()
    assert 0.4 < triangle.mean() <= 0.55


def test_single_class_images_hold_rectangles_and_circles_fill_pi_over_4():
    for seed in range(10):
        _, label, masks = generate_image(seed, (128, 128), classes=("square",), return_masks=True)
        assert (label[:, 4] == 0).all()
        # The last object drawn is not occluded: a rectangle fills its whole box.
        x1, y1, x2, y2 = label[-1, :4].astype(int)
        assert masks[-1].sum() == (x2 - x1 + 1) * (y2 - y1 + 1)
        _, label, masks = generate_image(seed, (128, 128), classes=("circle",), return_masks=True)
        x1, y1, x2, y2 = label[-1, :4].astype(int)
        # A disc fills pi / 4 = 0.785 of its box (pixelisation: within 0.06 at >= 19 px).
        assert abs(masks[-1].sum() / ((x2 - x1 + 1) * (y2 - y1 + 1)) - np.pi / 4) < 0.06


def test_generator_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="hexagon"):
        generate_image(0, classes=("circle", "hexagon"))
    with pytest.raises(TypeError, match="classes"):
        generate_image(0, classes="circle")
    with pytest.raises(ValueError, match="image_size height must be >= 32, got 16"):
        generate_image(0, image_size=(16, 64))
    with pytest.raises(ValueError, match="num_val"):
        generate_voc(str(tmp_path), 1, -1, progress=False)

"""The large-scene generator: sizes, object counts, boxes that match the drawn pixels, files."""
import numpy as np
import pytest
from scipy import ndimage

from gluon_ssd.data import VOCDataset, YOLODataset
from gluon_ssd.data import synthetic_scenes
from gluon_ssd.data.synthetic import CLASSES
from gluon_ssd.data.synthetic_scenes import generate_scene, generate_scenes

SMALL = (200, 260)


def _sorted_rows(rows):
    rows = np.asarray(rows, np.float64)
    return rows[np.lexsort(rows.T[::-1])]


def test_default_scenes_are_1_to_4_megapixels_with_small_objects():
    for seed in (0, 1):
        image, label = generate_scene(seed)
        height, width = image.shape[:2]
        assert image.dtype == np.uint8 and image.shape[2] == 3
        assert 1000 <= height <= 2000 and 1000 <= width <= 2000     # 1-4 MP
        sides = np.maximum(label[:, 2] - label[:, 0], label[:, 3] - label[:, 1]) + 1
        assert sides.min() >= 10 and sides.max() <= 60      # size_range's default
        assert 0.5 < np.mean(sides < 32) < 0.8      # log-uniform 10-60: ln(3.2) / ln(6) = 0.65
        assert set(np.unique(label[:, 4])) <= {0, 1, 2} and len(np.unique(label[:, 4])) == 3
        assert (label[:, 5] == 0).all()


def test_box_count_follows_the_density():
    # 50 objects per megapixel on a 1000 x 1000 image: 50 attempted, a few may find no room.
    _, label = generate_scene(3, image_size=(1000, 1000), objects_per_mp=(50, 50))
    assert 45 <= len(label) <= 50
    _, none = generate_scene(3, image_size=(300, 300), objects_per_mp=(0, 0))
    assert none.shape == (0, 6)


def test_boxes_are_inside_and_match_the_drawn_objects(monkeypatch):
    # A flat background (no texture, no noise): every pixel off the background colour belongs
    # to an object, and objects never touch, so the connected components' tight boxes are the
    # boxes the generator must return.
    monkeypatch.setattr(synthetic_scenes, "_TEXTURE", ((64, 0.0),))
    monkeypatch.setattr(synthetic_scenes, "_PIXEL_NOISE", 0)
    image, label = generate_scene(5, image_size=(400, 500), objects_per_mp=(200, 200))
    assert len(label) >= 20
    assert (label[:, :2] >= 0).all() and (label[:, 2] <= 499).all() and (label[:, 3] <= 399).all()
    foreground = (image != image[0, 0]).any(axis=2)
    components, count = ndimage.label(foreground)
    found = [(s[1].start, s[0].start, s[1].stop - 1, s[0].stop - 1)
             for s in ndimage.find_objects(components)]
    assert count == len(label)
    np.testing.assert_array_equal(_sorted_rows(found), _sorted_rows(label[:, :4]))


def test_same_seed_same_scene_and_scene_k_independent_of_count(tmp_path):
    a_image, a_label = generate_scene(np.random.default_rng([7, 1]), SMALL)
    b_image, b_label = generate_scene(np.random.default_rng([7, 1]), SMALL)
    c_image, _ = generate_scene(np.random.default_rng([8, 1]), SMALL)
    np.testing.assert_array_equal(a_image, b_image)
    np.testing.assert_array_equal(a_label, b_label)
    assert (a_image != c_image).any()
    one = generate_scenes(tmp_path / "one", 2, 0, SMALL, seed=7, layouts="voc")
    two = generate_scenes(tmp_path / "two", 3, 1, SMALL, seed=7, layouts="voc")
    with open(one["images"]["train"][1], "rb") as f1, open(two["images"]["train"][1], "rb") as f2:
        assert f1.read() == f2.read()


def test_voc_and_yolo_layouts_in_png_and_tiff(tmp_path):
    summary = generate_scenes(tmp_path, 2, 1, SMALL, seed=4, objects_per_mp=(300, 300))
    assert [p[-4:] for p in summary["images"]["train"]] == [".png", ".tif"]
    voc = VOCDataset(str(tmp_path), CLASSES, split="train")
    yolo = YOLODataset(summary["data_yaml"], split="train")
    assert len(voc) == len(yolo) == 2 and list(yolo.classes) == list(CLASSES)
    assert summary["num_objects"]["train"] == sum(len(voc.label(k)) for k in range(2))
    for k in range(2):
        expected_image, expected = generate_scene(np.random.default_rng([4, k]), SMALL,
                                                  objects_per_mp=(300, 300))
        assert len(expected) >= 5
        for dataset in (voc, yolo):
            image, label = dataset[k]
            np.testing.assert_array_equal(image.asnumpy(), expected_image)    # lossless files
        np.testing.assert_array_equal(voc[k][1][:, :5], expected[:, :5])
        # YOLO rows cover whole pixels: x2 + 1, y2 + 1 (6 decimals of normalised coordinates).
        covering = expected[:, :4] + np.array([0, 0, 1, 1], np.float32)
        np.testing.assert_allclose(yolo[k][1][:, :4], covering, atol=2e-3)
        np.testing.assert_array_equal(yolo[k][1][:, 4], expected[:, 4])
    val = VOCDataset(str(tmp_path), CLASSES, split="val")
    assert val.ids == ["000002"] and val.image_path(0).endswith("000002.png")


@pytest.mark.parametrize("kwargs, match", [
    ({"layouts": ("coco",)}, "layouts must be a non-empty subset"),
    ({"formats": ("jpg",)}, "formats must be a non-empty subset"),
    ({"image_size": (32, 100)}, "image_size height must be >= 64, got 32"),
    ({"size_range": (60, 10)}, "size_range must be a"),
    ({"seed": -1}, "seed must be >= 0, got -1"),
])
def test_bad_arguments_are_named(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_scenes(tmp_path, 1, 0, **{"image_size": SMALL, **kwargs})

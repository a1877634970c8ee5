"""YOLODataset: data.yaml forms, label rows to pixel boxes, background, malformed rows, clipping."""
import os

import numpy as np
import pytest
from PIL import Image

from gluon_ssd.data import YOLOAnnotationWarning, YOLODataset
from gluon_ssd.data.yolo import label_path_of


def _image(path, width=100, height=50):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full((height, width, 3), 120, np.uint8)).save(path)


def _dataset(root, yaml_text, labels):
    """``labels``: {image path relative to root: label text or None (no file)}."""
    for rel, text in labels.items():
        _image(os.path.join(root, rel))
        if text is not None:
            path = label_path_of(os.path.join(root, rel))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
    with open(os.path.join(root, "data.yaml"), "w") as f:
        f.write(yaml_text)
    return os.path.join(root, "data.yaml")


def test_rows_become_pixel_boxes_and_names_the_classes(tmp_path):
    data = _dataset(str(tmp_path), "path: .\ntrain: images/train\nval: images/val\n"
                    "names: [tree, car]\n",
                    {"images/train/a.png": "1 0.5 0.5 0.2 0.4\n0 0.1 0.2 0.2 0.2\n",
                     "images/train/b.jpg": None, "images/val/c.tif": ""})
    train = YOLODataset(data, "train")
    assert train.classes == ("tree", "car") and len(train) == 2
    image, label = train[0]
    assert image.shape == (50, 100, 3)
    # 100 x 50 image: car at cx 50, cy 25, w 20, h 20 -> [40, 15, 60, 35];
    # tree at cx 10, cy 10, w 20, h 10 -> [0, 5, 20, 15].
    np.testing.assert_allclose(label, [[40, 15, 60, 35, 1, 0], [0, 5, 20, 15, 0, 0]], atol=1e-4)
    assert train.label_path(0) == os.path.join(str(tmp_path), "labels", "train", "a.txt")
    assert train[1][1].shape == (0, 6)              # no label file: background
    val = YOLODataset(data, "val")
    assert len(val) == 1 and val[0][1].shape == (0, 6)   # empty label file: background


def test_names_as_a_map_list_files_and_lists_of_entries(tmp_path):
    root = tmp_path / "set"
    data = _dataset(str(root), "names: {0: tree, 1: car}\nnc: 2\n"
                    "train: [train.txt, images/extra]\nval: images/extra\n",
                    {"images/one/a.png": "0 0.5 0.5 0.5 0.5\n", "images/extra/b.png": None})
    (root / "train.txt").write_text("./images/one/a.png\n\n")
    dataset = YOLODataset(data, "train")
    assert dataset.classes == ("tree", "car")
    assert [os.path.basename(dataset.image_path(i)) for i in range(2)] == ["a.png", "b.png"]
    np.testing.assert_allclose(dataset[0][1], [[25, 12.5, 75, 37.5, 0, 0]])


def test_the_root_defaults_to_the_yaml_folder_and_a_missing_split_is_named(tmp_path):
    data = _dataset(str(tmp_path), "train: images\nnames: [a]\n", {"images/x.png": None})
    assert len(YOLODataset(data)) == 1
    with pytest.raises(ValueError, match=r"data.yaml: no split 'val'; it lists \['train'\]"):
        YOLODataset(data, "val")


@pytest.mark.parametrize("row, message", [
    ("0 0.5 0.5 0.2", r"a\.txt:2: 4 fields, expected 5 numbers"),
    ("0 0.5 0.5 0.2 x", r"a\.txt:2: .* holds a non-number"),
    ("2 0.5 0.5 0.2 0.2", r"a\.txt:2: class '2' is not a class id in \[0, 2\)"),
    ("0.5 0.5 0.5 0.2 0.2", r"a\.txt:2: class '0.5' is not a class id"),
    ("0 0.5 0.5 -0.2 0.2", r"a\.txt:2: negative width or height"),
    ("0 nan 0.5 0.2 0.2", r"a\.txt:2: .* non-finite")])
def test_a_malformed_row_names_file_and_line(tmp_path, row, message):
    data = _dataset(str(tmp_path), "train: images\nnames: [a, b]\n",
                    {"images/a.png": f"0 0.5 0.5 0.1 0.1\n{row}\n"})
    with pytest.raises(ValueError, match=message):
        YOLODataset(data)


def test_coordinates_outside_are_clipped_with_a_warning_naming_the_file(tmp_path):
    data = _dataset(str(tmp_path), "train: images\nnames: [a]\n",
                    {"images/a.png": "0 0.95 0.5 0.2 0.2\n0 1.5 0.5 0.2 0.2\n"})
    with pytest.warns(YOLOAnnotationWarning) as record:
        dataset = YOLODataset(data)
    messages = [str(w.message) for w in record]
    assert any(m.endswith("a.txt: 2 box(es) reach outside [0, 1]; clipped") for m in messages)
    assert any(m.endswith("a.txt: dropped 1 box(es) with no area") for m in messages)
    # x from 0.85..1.05 -> clipped 0.85..1 -> 85..100 px; the second (1.4..1.6) has no area left.
    np.testing.assert_allclose(dataset[0][1], [[85, 20, 100, 30, 0, 0]], atol=1e-4)


@pytest.mark.parametrize("names, message", [
    ("names: []", "names must be a list"), ("names: {0: a, 2: b}", r"0..1 without gaps"),
    ("names: [a, b]\nnc: 3", "nc is 3 but names has 2")])
def test_bad_names_are_refused_naming_the_yaml(tmp_path, names, message):
    data = _dataset(str(tmp_path), f"train: images\n{names}\n", {"images/a.png": None})
    with pytest.raises(ValueError, match=message):
        YOLODataset(data)

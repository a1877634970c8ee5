"""Fuzzing the COCO JSON reader (gluon_ssd.data.COCODataset) with mutated instances files: each
one loads with finite boxes inside its image entry and known classes, or is refused with a
ValueError naming the file (tests/helpers/fuzz.py). The regression cases are what a run of 3,000
mutated files once ended in: TypeError (unhashable ids and names) and OverflowError (1e309)."""
import json
import math

import numpy as np
import pytest
from hypothesis import given
from tests.helpers.fuzz import (fuzz_settings, load_or_refuse, mutated_bytes, mutated_json,
                                write_bytes)

from gluon_ssd.data import COCODataset

# Category ids are not 1..C (dog 3 < cat 17 by id: classes ('dog', 'cat')); image 12 is empty,
# annotation 4 a crowd region.
VALID = {
    "images": [{"id": 10, "file_name": "a.png", "width": 64, "height": 48},
               {"id": 11, "file_name": "b.png", "width": 32, "height": 32},
               {"id": 12, "file_name": "sub/c.png", "width": 16, "height": 8}],
    "annotations": [
        {"id": 1, "image_id": 10, "category_id": 3, "bbox": [4, 6, 20, 16]},
        {"id": 2, "image_id": 10, "category_id": 17, "bbox": [30.5, 20, 24, 20], "iscrowd": 0,
         "area": 480.0},
        {"id": 3, "image_id": 11, "category_id": 17, "bbox": [10, 10, 30, 30]},
        {"id": 4, "image_id": 11, "category_id": 3, "bbox": [0, 0, 8, 8], "iscrowd": 1}],
    "categories": [{"id": 17, "name": "cat"}, {"id": 3, "name": "dog"}],
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("coco_fuzz")
    (folder / "images").mkdir()
    return folder


def _load(folder, data):
    path = write_bytes(folder / "instances.json", data)
    dataset = load_or_refuse(lambda: COCODataset(path, str(folder / "images")), path)
    if dataset is not None:
        _check_loaded(dataset)
    return dataset


def _check_loaded(dataset):
    assert len(dataset.classes) == len(dataset.category_ids) >= 1
    assert all(isinstance(name, str) and name for name in dataset.classes)
    for k in range(len(dataset)):
        entry = dataset._images[k]
        width, height = entry["width"], entry["height"]
        assert math.isfinite(width) and math.isfinite(height) and width >= 1 and height >= 1
        label = dataset.label(k)
        assert label.dtype == np.float32 and label.shape[1] == 6
        assert np.isfinite(label).all()
        assert set(label[:, 4].tolist()) <= set(range(len(dataset.classes)))
        assert set(label[:, 5].tolist()) <= {0}     # use_crowd=False: crowd boxes left out
        assert (label[:, 0:4] >= 0).all()
        assert (label[:, 2] <= width).all() and (label[:, 3] <= height).all()
        assert (label[:, 2] > label[:, 0]).all() and (label[:, 3] > label[:, 1]).all()


def test_the_valid_file_loads(folder):
    dataset = _load(folder, json.dumps(VALID).encode())
    assert dataset.classes == ("dog", "cat") and dataset.category_ids == (3, 17)
    # [x, y, w, h] -> [x, y, x + w, y + h]; the cat of image 10 ([30.5, 20, 54.5, 40]) fits
    # the 64x48 image; image 11's cat [10, 10, 40, 40] is clipped to its 32x32 entry.
    np.testing.assert_array_equal(dataset.label(0), [[4, 6, 24, 22, 0, 0],
                                                     [30.5, 20, 54.5, 40, 1, 0]])
    np.testing.assert_array_equal(dataset.label(1), [[10, 10, 32, 32, 1, 0]])
    assert dataset.label(2).shape == (0, 6)


@fuzz_settings(300)
@given(data=mutated_json(VALID))
def test_mutated_entries_load_or_are_refused(folder, data):
    _load(folder, data)


@fuzz_settings(100)
@given(data=mutated_bytes(json.dumps(VALID).encode()))
def test_mutated_bytes_load_or_are_refused(folder, data):
    _load(folder, data)


def _set(key, k, field, value):
    def mutate(doc):
        doc[key][k][field] = value
    return mutate


# What a run of 3,000 mutated files ended in (TypeError: unhashable type 'list' / 'dict',
# OverflowError: cannot convert float infinity to integer), and their neighbours.
@pytest.mark.parametrize("mutate, message", [
    (_set("images", 0, "id", [10]), r"images\[0\]: id \[10\] is not an integer or a string"),
    (_set("images", 0, "id", {"k": 10}), r"images\[0\]: id \{'k': 10\} is not an integer"),
    (_set("categories", 0, "id", [17]), r"categories\[0\]: id \[17\] is not an integer"),
    (_set("categories", 1, "id", {"k": 3}), r"categories\[1\]: id \{'k': 3\} is not an int"),
    (_set("categories", 0, "name", ["cat"]), r"categories\[0\]: name \['cat'\] is not a "),
    (_set("categories", 0, "name", {"k": "cat"}), r"categories\[0\]: name \{'k': 'cat'\} is"),
    (_set("images", 0, "width", "1e309"), r"image id 10: width is inf, expected a positive"),
    (_set("images", 1, "height", "1e309"), r"image id 11: height is inf, expected a positive"),
    (_set("annotations", 0, "image_id", [10]), r"annotation id 1: image_id \[10\] is not in"),
    (_set("annotations", 0, "category_id", {"k": 3}), r"annotation id 1: category_id \{'k'"),
    (_set("annotations", 0, "id", [1]), r"annotations\[0\]: id \[1\] is not an integer"),
    (_set("annotations", 0, "bbox", [4, 6, 10 ** 400, 16]), r"annotation id 1: bbox \[4, 6, "),
    (_set("annotations", 0, "area", "x"), r"annotation id 1: area 'x' is not a finite number"),
    (_set("categories", 0, "name", " cat"), r"categories: class names must be non-empty string"),
    (_set("images", 0, "file_name", "a\x00.png"), r"image id 10: file_name 'a\\x00.png'"),
])
def test_regressions_are_refused_naming_the_file_and_entry(folder, mutate, message):
    doc = json.loads(json.dumps(VALID))
    mutate(doc)
    text = json.dumps(doc).replace('"1e309"', "1e309")   # the number, as a file holds it
    path = write_bytes(folder / "instances.json", text.encode())
    with pytest.raises(ValueError, match=message) as err:
        COCODataset(path, str(folder / "images"))
    assert str(err.value).startswith(path)

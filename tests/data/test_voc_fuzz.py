"""Fuzzing the VOC XML reader (gluon_ssd.data.voc.parse_annotation) with mutated annotations:
each one loads with finite boxes inside ``<size>`` and known classes, or is refused with a
ValueError naming the file (tests/helpers/fuzz.py)."""
import numpy as np
import pytest
from hypothesis import given
from tests.helpers.fuzz import (fuzz_settings, load_or_refuse, mutated_bytes, mutated_xml,
                                write_bytes)

from gluon_ssd.data.voc import parse_annotation

CLASSES = ("cat", "dog")
INDEX = {name: i for i, name in enumerate(CLASSES)}

# A valid annotation: a 64x48 image, a cat and a difficult dog (VOC boxes are 1-based).
VALID = """<annotation>
  <filename>a.jpg</filename>
  <size><width>64</width><height>48</height><depth>3</depth></size>
  <object><name>cat</name><difficult>0</difficult>
    <bndbox><xmin>5</xmin><ymin>7</ymin><xmax>25</xmax><ymax>23</ymax></bndbox></object>
  <object><name>dog</name><difficult>1</difficult>
    <bndbox><xmin>31</xmin><ymin>21</ymin><xmax>64</xmax><ymax>48</ymax></bndbox></object>
</annotation>"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("voc_fuzz")


def _check_loaded(loaded):
    label, size = loaded
    assert label.dtype == np.float32 and label.shape[1] == 6
    assert np.isfinite(label).all()
    assert set(label[:, 4].tolist()) <= set(range(len(CLASSES)))
    assert set(label[:, 5].tolist()) <= {0, 1}
    assert (label[:, 2] > label[:, 0]).all() and (label[:, 3] > label[:, 1]).all()
    if size is not None:
        width, height = size
        assert isinstance(width, int) and isinstance(height, int) and width >= 1 and height >= 1
        # 0-based pixel indices: inside [0, width - 1] x [0, height - 1].
        assert (label[:, 0:4] >= 0).all()
        assert (label[:, 2] <= width - 1).all() and (label[:, 3] <= height - 1).all()


def _parse(folder, data):
    path = write_bytes(folder / "a.xml", data)
    loaded = load_or_refuse(lambda: parse_annotation(path, INDEX), path)
    if loaded is not None:
        _check_loaded(loaded)
    return loaded


def test_the_valid_annotation_loads(folder):
    label, size = _parse(folder, VALID.encode())
    # VOC 1-based -> 0-based: cat [5, 7, 25, 23] - 1; the dog's xmax 64 / ymax 48 are the last
    # pixel of the 64x48 image, index 63 / 47.
    assert size == (64, 48)
    np.testing.assert_array_equal(label, [[4, 6, 24, 22, 0, 0], [30, 20, 63, 47, 1, 1]])


@fuzz_settings(300)
@given(data=mutated_xml(VALID))
def test_mutated_elements_load_or_are_refused(folder, data):
    _parse(folder, data)


@fuzz_settings(200)
@given(data=mutated_bytes(VALID.encode()))
def test_mutated_bytes_load_or_are_refused(folder, data):
    _parse(folder, data)


@pytest.mark.parametrize("field, value, message", [
    ("<width>64</width>", "<width>1e309</width>", "<width> is '1e309', not a finite number"),
    ("<width>64</width>", "<width>1e39</width>", "<width> is '1e39', beyond the float32 range"),
    ("<xmin>5</xmin>", "<xmin>-1e39</xmin>", "<xmin> is '-1e39', beyond the float32 range"),
    ("<xmax>25</xmax>", f"<xmax>{'9' * 40}</xmax>", "<xmax> is '9999.*', beyond the float32"),
])
def test_sizes_and_coordinates_out_of_range_are_refused(folder, field, value, message):
    # float32 holds up to ~3.4e38: a larger coordinate would become inf in the label.
    path = write_bytes(folder / "a.xml", VALID.replace(field, value, 1).encode())
    with pytest.raises(ValueError, match=message) as err:
        parse_annotation(path, INDEX)
    assert str(err.value).startswith(path)


def test_boxes_that_collapse_in_float32_are_dropped(folder):
    # The cat's xmin 5 and xmax 5.0000001 become 0-based 4 and 4.0000001, equal in float32
    # (its spacing at 4 is 2 ** -21 ~ 4.8e-7): a box with no area in the label.
    xml = VALID.replace("<xmax>25</xmax>", "<xmax>5.0000001</xmax>", 1)
    label, _ = _parse(folder, xml.encode())
    np.testing.assert_array_equal(label[:, 4], [1])     # only the dog is left

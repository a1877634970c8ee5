"""Tests for gluon_ssd.data.concat: several datasets with one class list as one."""
import numpy as np
import pytest

from gluon_ssd.data import VOCDataset, generate_voc
from gluon_ssd.data.synthetic import CLASSES


def test_concat_dataset_maps_indices_and_refuses_other_class_lists(tmp_path):
    from gluon_ssd.data import ConcatDataset
    generate_voc(str(tmp_path / "a"), 3, 1, image_size=(32, 32), seed=1, progress=False)
    generate_voc(str(tmp_path / "b"), 2, 1, image_size=(32, 32), seed=2, progress=False)
    a, b = (VOCDataset(str(tmp_path / n), CLASSES) for n in ("a", "b"))
    both = ConcatDataset([a, b])
    assert len(both) == 5 and both.classes == CLASSES and not both.use_crowd
    # Item 3 is b's item 0, item -1 is b's item 1.
    np.testing.assert_array_equal(both[3][1], b[0][1])
    np.testing.assert_array_equal(both[-1][0].asnumpy(), b[1][0].asnumpy())
    np.testing.assert_array_equal(both[2][1], a[2][1])
    with pytest.raises(IndexError, match="index 5 out of range for 5 items"):
        both[5]
    with pytest.raises(ValueError, match="has classes"):
        ConcatDataset([a, VOCDataset(str(tmp_path / "b"), CLASSES + ("hexagon",))])
    with pytest.raises(ValueError, match="at least one"):
        ConcatDataset([])

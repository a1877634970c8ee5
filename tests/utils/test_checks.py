"""Tests for gluon_ssd.utils.checks: the shared argument checks and name suggestions."""
import numpy as np
import pytest

from gluon_ssd.utils.checks import (check_data_shape, check_int, check_positive, close_matches,
                                    is_int)


def test_check_int_returns_a_plain_int_and_names_the_argument():
    assert check_int("stride", 2, 1) == 2
    value = check_int("stride", np.int64(3), 1)
    assert value == 3 and type(value) is int
    assert check_int("pad", 0, 0) == 0  # the minimum itself is allowed
    with pytest.raises(ValueError, match=r"pad must be >= 0, got -1"):
        check_int("pad", -1, 0)
    for bad in (True, 2.0, "2", None):
        with pytest.raises(TypeError, match=r"^stride must be an int, got " + type(bad).__name__):
            check_int("stride", bad, 1)


def test_is_int_takes_python_and_numpy_integers_and_no_bool():
    assert is_int(3) and is_int(np.int32(3)) and is_int(-1)
    assert not any(is_int(v) for v in (True, 3.0, "3", None, np.float32(3)))


def test_check_int_maximum():
    assert check_int("layer", 5, 0, 5) == 5  # the maximum itself is allowed
    with pytest.raises(ValueError, match=r"layer must be <= 5, got 6"):
        check_int("layer", 6, 0, 5)
    assert check_int("seed", -7) == -7  # no bound given, none applied


def test_check_data_shape_names_the_side_and_keeps_type_and_range_apart():
    assert check_data_shape([300, np.int64(512)]) == (300, 512)
    with pytest.raises(ValueError, match=r"image_size width must be >= 32, got 16"):
        check_data_shape((64, 16), "image_size", minimum=32)
    with pytest.raises(TypeError, match=r"data_shape height must be an int, got float"):
        check_data_shape((300.0, 300))
    for bad in (300, "300", (300, 300, 3)):
        with pytest.raises(TypeError, match=r"data_shape must be a \(height, width\) pair"):
            check_data_shape(bad)


def test_check_positive():
    assert check_positive("ratio", 0.5) == 0.5
    assert check_positive("ratio", 3) == 3.0
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="ratio must be > 0"):
            check_positive("ratio", bad)
    for bad in (True, "1", None):
        with pytest.raises(TypeError, match="ratio must be a number"):
            check_positive("ratio", bad)


def test_close_matches_suggests_similar_names_best_first():
    names = ["ssd_300_vgg16_atrous_voc", "ssd_512_vgg16_atrous_voc", "ssd_300_mobilenet0.25_voc"]
    found = close_matches("ssd_300_vgg16_voc", names)
    assert found[0] == "ssd_300_vgg16_atrous_voc" and "ssd_512_vgg16_atrous_voc" in found
    assert close_matches("resnet", names) == []  # nothing alike: no suggestion
    assert close_matches("ssd_300_vgg16_voc", names, n=1) == ["ssd_300_vgg16_atrous_voc"]

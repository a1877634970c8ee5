"""Tests for gluon_ssd.data.classes: the one check of class-name lists."""
import pytest

from gluon_ssd.data.classes import check_class_names


def test_a_good_list_comes_back_as_a_tuple():
    assert check_class_names(["cat", "dog"]) == ("cat", "dog")
    assert check_class_names(("square",), allowed=("circle", "square")) == ("square",)


@pytest.mark.parametrize("classes, error, match", [
    ("cat", TypeError, "sequence"), (None, TypeError, "sequence"), ([], ValueError, "empty"),
    (["cat", ""], ValueError, "non-empty"), (["cat", " dog"], ValueError, "white space"),
    (["cat", 3], TypeError, r"class names must be strings, got \[3\]"),
    (["cat", "cat"], ValueError, "duplicate"),
])


def test_bad_lists_are_refused(classes, error, match):
    with pytest.raises(error, match=match):
        check_class_names(classes)


def test_names_outside_the_allowed_set_are_named():
    with pytest.raises(ValueError, match=r"\['hexagon'\]"):
        check_class_names(["square", "hexagon"], allowed=("circle", "square"))

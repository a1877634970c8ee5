"""Tests for gluon_ssd.utils.tables: the one plain-text table formatter."""
import pytest

from gluon_ssd.utils.tables import format_table


def test_columns_pad_to_the_widest_cell_left_or_right():
    lines = format_table([("class", "AP"), ("cat", "0.5000"), ("elephant", "n/a")],
                         align="<>", indent="  ")
    # Column 1 is 8 wide ("elephant"), column 2 is 6 wide ("0.5000"), two spaces between.
    assert lines == ["  class         AP",
                     "  cat       0.5000",
                     "  elephant     n/a"]


def test_left_aligned_last_column_has_no_trailing_space():
    assert format_table([("a", "long"), ("bb", "x")]) == ["a   long", "bb  x"]
    assert format_table([]) == []


def test_bad_rows_or_alignment_are_refused():
    with pytest.raises(ValueError, match=r"every row needs 2 cells, got rows of \[1, 2\]"):
        format_table([("a", "b"), ("c",)])
    with pytest.raises(ValueError, match=r"align needs one '<' or '>' per column \(2\)"):
        format_table([("a", "b")], align="<^")


def test_rule_under_the_header_spans_the_table():
    lines = format_table([("model", "ms"), ("vgg", "385.0")], align="<>", gap=" ", rule=True)
    # widths 5 ("model") and 5 ("385.0") plus one gap: an 11-character rule.
    assert lines == ["model    ms", "-----------", "vgg   385.0"]

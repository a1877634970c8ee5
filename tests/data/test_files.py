"""Tests for gluon_ssd.data.files: find_images expands files, folders and glob patterns."""
import pytest

from gluon_ssd.inference import find_images


def test_find_images(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.JPG", "a.png", "notes.txt", "sub/c.png"):
        (tmp_path / name).write_bytes(b"x")
    folder = find_images(str(tmp_path))
    assert folder == [str(tmp_path / "a.png"), str(tmp_path / "b.JPG")]  # no .txt, no sub-folder
    assert find_images(str(tmp_path / "**" / "*.png")) == [str(tmp_path / "a.png"),
                                                            str(tmp_path / "sub" / "c.png")]
    # An explicit file is taken whatever its name (it fails later, by name); duplicates go.
    both = find_images([str(tmp_path / "notes.txt"), str(tmp_path), str(tmp_path / "a.png")])
    assert both == [str(tmp_path / "notes.txt")] + folder
    with pytest.raises(ValueError, match="nothing.jpg"):
        find_images([str(tmp_path / "nothing.jpg")])
    with pytest.raises(ValueError, match=r"no file matches .*\*\.bmp"):
        find_images(str(tmp_path / "*.bmp"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty.*no image"):
        find_images(str(tmp_path / "empty"))

"""Tests for gluon_ssd.utils.fileio: atomic writes, confined record paths, file digests."""
import hashlib
import json
import os

import pytest

from gluon_ssd.utils.fileio import atomic_write, atomic_write_json, contained_path, file_digest


def test_atomic_write_writes_through_a_temporary_file_in_the_same_folder(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    seen = []

    def write(tmp):
        seen.append(tmp)
        assert not os.path.exists(tmp) and target.read_bytes() == b"old"  # not replaced yet
        with open(tmp, "wb") as f:
            f.write(b"new content")

    assert atomic_write(target, write) == str(target)
    assert target.read_bytes() == b"new content"
    # A hidden name in the destination's folder (os.replace is atomic within a file system).
    assert os.path.dirname(seen[0]) == str(tmp_path)
    assert os.path.basename(seen[0]).startswith(".out.bin.") and seen[0].endswith(".tmp")
    assert os.listdir(tmp_path) == ["out.bin"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def half_then_fail(tmp):
        with open(tmp, "wb") as f:
            f.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left on device"):
        atomic_write(str(target), half_then_fail)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_atomic_write_json_round_trips(tmp_path):
    record = {"epoch": 3, "name": "r\u00e9sum\u00e9", "values": [0.5, None]}
    path = atomic_write_json(record, tmp_path / "r.json", indent=2)
    assert json.loads(open(path, encoding="utf-8").read()) == record
    assert open(path, encoding="utf-8").read().startswith('{\n  "epoch": 3')  # indent 2


@pytest.mark.parametrize("name", ["../x.params", "sub/x.params", "/abs/x.params", "", ".", "..",
                                  "a\\b", 3, None])
def test_contained_path_refuses_names_that_leave_the_folder(tmp_path, name):
    with pytest.raises(ValueError, match=r"^run/latest\.json entry 'params' = .* is not a plain "
                                         r"file name inside"):
        contained_path(str(tmp_path), name, "run/latest.json entry 'params' =")


def test_contained_path_follows_symlinks_only_inside(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "a.params").write_bytes(b"a")
    (tmp_path / "outside.params").write_bytes(b"o")
    assert contained_path(str(folder), "a.params", "x") == str(folder / "a.params")
    os.symlink("a.params", folder / "alias.params")
    assert contained_path(str(folder), "alias.params", "x") == str(folder / "alias.params")
    os.symlink(tmp_path / "outside.params", folder / "leak.params")
    with pytest.raises(ValueError, match=r"'leak\.params' is a symlink to .*outside\.params, "
                                         r"outside"):
        contained_path(str(folder), "leak.params", "x")


def test_file_digest_equals_hashlib_across_read_chunks(tmp_path):
    data = os.urandom((3 << 20) + 5)  # 3 MiB + 5 bytes: four 1 MiB reads
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert file_digest(str(path)) == hashlib.sha256(data).hexdigest()
    assert file_digest(str(path), "sha1") == hashlib.sha1(data).hexdigest()

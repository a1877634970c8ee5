"""Hostile or broken bundle files (issue 13): manifest entries confined to the bundle folder,
params MXNet cannot decode, and an export whose disk write fails.
"""
import errno
import json
import os
import re

import mxnet as mx
import pytest

from deploy_fixtures import SIZE, make_net, noise_images, normalized
from detections import assert_same_detections

from gluon_ssd import deploy
from gluon_ssd.fileio import file_digest


@pytest.fixture(scope="module")
def net():
    return make_net()


@pytest.fixture
def bundle(net, tmp_path):
    out = tmp_path / "bundle"
    deploy.export(net, str(out), SIZE, name="m")
    return out


def _list_in_manifest(bundle, entry, path):
    """Add ``entry`` to the manifest's files, with ``path``'s right size and sha256."""
    manifest_path = bundle / deploy.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["files"][entry] = {"sha256": file_digest(str(path)),
                                "size": os.path.getsize(path)}
    manifest_path.write_text(json.dumps(manifest))


@pytest.mark.parametrize("kind", ["parent", "subfolder", "absolute", "symlink"])
def test_manifest_may_only_name_plain_files_inside_the_bundle(bundle, tmp_path, kind):
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"secret\n")
    (bundle / "sub").mkdir()
    (bundle / "sub" / "inner.bin").write_bytes(b"inner\n")
    entry = {"parent": "../outside.bin", "subfolder": "sub/inner.bin",
             "absolute": str(outside), "symlink": "link.bin"}[kind]
    if kind == "symlink":
        os.symlink(outside, bundle / "link.bin")
    # The entry's size and sha256 are right: only its location is wrong.
    _list_in_manifest(bundle, entry, outside if kind != "subfolder" else bundle / "sub/inner.bin")
    with pytest.raises(ValueError, match=re.escape(f"entry {entry!r}")):
        deploy.verify_bundle(str(bundle))
    with pytest.raises(ValueError, match=re.escape(f"entry {entry!r}")):
        deploy.load(str(bundle), verify=False)  # checked even without the sha256 pass


def test_a_symlink_inside_the_bundle_to_a_file_inside_is_fine(bundle):
    os.symlink("m-symbol.json", bundle / "alias.json")
    _list_in_manifest(bundle, "alias.json", bundle / "m-symbol.json")
    assert "alias.json" in deploy.verify_bundle(str(bundle))["files"]


def test_a_variant_must_name_a_listed_file(bundle):
    manifest_path = bundle / deploy.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["variants"]["fp32"]["params"] = "other.params"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="variant 'fp32' names 'other.params'"):
        deploy.load(str(bundle))


def test_params_mxnet_cannot_decode_is_a_value_error_naming_the_file(bundle):
    params = bundle / "m-0000.params"
    params.write_bytes(os.urandom(4096))
    _list_in_manifest(bundle, "m-0000.params", params)  # the manifest matches the bad file
    with pytest.raises(ValueError, match=r"m-0000\.params is not an MXNet parameters file"):
        deploy.load(str(bundle))


def test_params_of_another_graph_is_a_value_error_naming_the_file(bundle):
    params = bundle / "m-0000.params"
    mx.nd.save(str(params), {"arg:unrelated_weight": mx.nd.zeros((2, 2))})
    _list_in_manifest(bundle, "m-0000.params", params)
    with pytest.raises(ValueError, match=r"m-0000\.params does not hold the weights of "):
        deploy.load(str(bundle))


def test_a_failed_disk_write_keeps_the_previous_bundle(net, bundle, monkeypatch):
    before = deploy.load(str(bundle))
    files_before = {f: file_digest(str(bundle / f)) for f in os.listdir(bundle)}

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(mx.nd, "save", disk_full)  # the params write of the export
    with pytest.raises(OSError, match=r"export to .* failed while writing its files .*No space "
                                      r"left.* previous bundle there, if any, is unchanged"):
        deploy.export(net, str(bundle), SIZE, name="m")
    monkeypatch.undo()
    # Same files, same bytes, no temporary folder left; it loads and detects as before.
    assert {f: file_digest(str(bundle / f)) for f in os.listdir(bundle)} == files_before
    x = normalized(noise_images(40, 1), net)
    assert_same_detections(before(x), deploy.load(str(bundle))(x))

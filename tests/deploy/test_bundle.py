"""Tests for gluon_ssd.deploy.bundle: the manifest and its checks. Hostile or broken bundle files
(manifest entries confined to the bundle folder, params MXNet cannot decode, truncated, altered or
missing files, a damaged manifest), an export whose disk write fails, and the layer records the
manifest carries against its graph.
"""
import errno
import json
import os
import re

import mxnet as mx
import pytest

from tests.helpers.deploy_fixtures import CLASSES, SIZE, noise_images, normalized
from tests.helpers.detections import assert_same_detections

from gluon_ssd import deploy
from gluon_ssd.deploy import bundle as bundle_module
from gluon_ssd.utils.fileio import file_digest


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


def _edit_manifest(bundle, edit):
    """Rewrite the manifest through ``edit(manifest)`` (the manifest is in no sha256 list)."""
    manifest_path = bundle / deploy.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    edit(manifest)
    manifest_path.write_text(json.dumps(manifest))


def test_the_manifest_records_the_layer_specs_the_graph_has(net, bundle):
    manifest = deploy.verify_bundle(str(bundle))
    assert manifest["base_size"] == net.base_size == 300
    assert manifest["layers"] == [spec.to_dict() for spec in net.layers]
    # Read back off the graph alone: mobilenet0.25 SSD300 taps at strides 16 and 32 (128 and
    # 256 channels: 512 and 1024 times 0.25), ceil(300 / 16) = 19 and 10 cells, 4 and 6 anchors.
    graph = bundle_module.graph_layers(str(bundle / "m-symbol.json"), 300, False)
    assert graph[:2] == [{"step": 16.0, "num_anchors": 4, "channels": 128, "map_size": [19, 19]},
                         {"step": 32.0, "num_anchors": 6, "channels": 256, "map_size": [10, 10]}]
    assert [g["map_size"] for g in graph] == [list(s.map_size) for s in net.layers]
    assert [g["num_anchors"] for g in graph] == [s.num_anchors for s in net.layers]
    assert [g["channels"] for g in graph] == [s.channels for s in net.layers]
    assert [g["step"] for g in graph] == [s.step for s in net.layers]
    # At another input size the graph's maps follow (any-size graph): ceil(160 / 16) = 10.
    assert bundle_module.graph_layers(str(bundle / "m-symbol.json"), 160, False)[0]["map_size"] \
        == [10, 10]


@pytest.mark.parametrize("field, value, real", [("channels", 64, 128), ("step", 15.0, 16.0),
                                                ("map_size", [20, 20], [19, 19]),
                                                ("num_anchors", 6, 4)])


def test_a_manifest_whose_layers_disagree_with_its_graph_is_refused(bundle, field, value, real):
    def edit(manifest):
        manifest["layers"][0][field] = value
    _edit_manifest(bundle, edit)
    message = (rf"manifest\.json: layer 0 \(.*\) has {field} {re.escape(repr(value))}, the "
               rf"graph m-symbol\.json has {re.escape(repr(real))}")
    with pytest.raises(ValueError, match=message):
        deploy.verify_bundle(str(bundle))
    with pytest.raises(ValueError, match=message):
        deploy.load(str(bundle))


def test_manifest_layers_malformed_or_absent(bundle, net):
    def malformed(manifest):
        manifest["layers"][1]["num_anchors"] = "6"
    _edit_manifest(bundle, malformed)
    with pytest.raises(ValueError, match=r"manifest\.json: layers\[1\]: 'num_anchors' must be an "
                                         r"int"):
        deploy.load(str(bundle), verify=False)  # a structural check, even without verify

    def older(manifest):  # a bundle exported before manifests carried the layers
        del manifest["layers"], manifest["base_size"]
    _edit_manifest(bundle, older)
    detector = deploy.load(str(bundle))
    images = noise_images(0, 1)
    assert_same_detections(net(normalized(images, net)), detector(normalized(images, net)),
                           score_atol=1e-4, box_atol=1e-2)


def test_graph_layers_of_a_preprocessing_float16_graph(net, tmp_path):
    # uint8 NHWC input and float16 layers: the anchor generators see a Cast of each map.
    out = tmp_path / "half"
    manifest = deploy.export(net, str(out), SIZE, name="h", preprocess=True, dtype="float16")
    assert "fp32" not in manifest["variants"] and manifest["layers"][0]["channels"] == 128
    deploy.verify_bundle(str(out))  # checked against the float16 graph
    graph = bundle_module.graph_layers(str(out / "h-symbol.json"), 300, True)
    assert [g["map_size"] for g in graph] == [list(s.map_size) for s in net.layers]


def test_truncated_or_altered_files_are_refused(net, tmp_path):
    out = str(tmp_path)
    deploy.export(net, out, SIZE, name="m")
    params, symbol = os.path.join(out, "m-0000.params"), os.path.join(out, "m-symbol.json")
    with open(params, "rb") as f:
        original = f.read()
    with open(params, "wb") as f:
        f.write(original[:-100])
    with pytest.raises(ValueError, match=r"m-0000\.params has \d+ bytes.*truncated"):
        deploy.load(out)
    with open(params, "wb") as f:  # same size, one byte changed
        f.write(original[:1000] + bytes([original[1000] ^ 1]) + original[1001:])
    with pytest.raises(ValueError, match=r"m-0000\.params sha256 .* altered"):
        deploy.load(out)
    assert deploy.load(out, verify=False).manifest["name"] == "m"  # the check can be skipped
    with open(params, "wb") as f:
        f.write(original)
    assert deploy.load(out).classes == CLASSES
    with open(symbol) as f:
        text = f.read()
    with open(symbol, "w") as f:
        f.write(text.replace('"0.45"', '"0.95"', 1) if '"0.45"' in text else text + " ")
    with pytest.raises(ValueError, match=r"m-symbol\.json"):
        deploy.load(out)
    os.remove(symbol)
    with pytest.raises(FileNotFoundError, match=r"m-symbol\.json is listed .* missing"):
        deploy.load(out)


def test_missing_or_damaged_manifest(net, tmp_path):
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        deploy.load(str(tmp_path))
    out = str(tmp_path / "b")
    deploy.export(net, out, SIZE)
    path = os.path.join(out, deploy.MANIFEST)
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text[: len(text) // 2])
    with pytest.raises(ValueError, match="not valid JSON"):
        deploy.load(out)
    os.remove(path)
    with pytest.raises(FileNotFoundError, match="did not finish"):
        deploy.load(out)

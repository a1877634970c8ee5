"""Fuzzing the bundle manifest (gluon_ssd.deploy.verify_bundle, which reads manifest.json with
read_manifest, checks each listed file and the layers against the graph) with mutated manifests
of a real export: each one verifies, and the loader's view of it (runtimes and precisions
available, classes, input) can be computed; or it is refused with a ValueError naming the
manifest (tests/helpers/fuzz.py)."""
import json

import pytest
from hypothesis import given
from tests.helpers.fuzz import (fuzz_settings, load_or_refuse, mutated_bytes, mutated_json,
                                write_bytes)

from gluon_ssd import SSDConfig, deploy, zoo
from gluon_ssd.deploy.loader import available


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A real bundle of a small random SSD (mobilenet0.25 taps at strides 16 and 32, 64 px) and
    its manifest as exported."""
    config = SSDConfig(backbone="mobilenet0.25", base_size=64, from_layers=(16, 32),
                       num_filters=(-1, -1), strides=(-1, -1), pads=(-1, -1),
                       sizes=(16, 32, 64), ratios=((1, 2),) * 2)
    net = zoo.build_ssd(config, ["cat", "dog"], pretrained_base=False)
    net.initialize()
    out = tmp_path_factory.mktemp("bundle_fuzz")
    deploy.export(net, str(out), (64, 64), name="m")
    return out, json.loads((out / deploy.MANIFEST).read_text())


def _verify(out, data):
    write_bytes(out / deploy.MANIFEST, data)
    # Messages name the manifest, or the bundle folder and the file the manifest lists.
    manifest = load_or_refuse(lambda: deploy.verify_bundle(str(out)), str(out))
    if manifest is not None:
        # What deploy.load and its Detector read next, before opening a graph.
        options = available(manifest)
        assert all(isinstance(usable, bool) for usable, _, _ in options.values())
        assert all(isinstance(c, str) and c for c in manifest["classes"])
        assert isinstance(manifest["input"]["preprocess"], bool)
    return manifest


def test_the_exported_manifest_verifies(bundle):
    out, valid = bundle
    manifest = _verify(out, json.dumps(valid).encode())
    assert manifest["classes"] == ["cat", "dog"] and ("mxnet", "fp32") in available(manifest)


# The manifest is drawn from a document fixed at import: the export's, less its digests (which
# vary with the random weights); the test puts the real ones back in.
def _manifest_template():
    return {"format": "gluon_ssd-bundle", "format_version": 1, "model_name": None, "name": "m",
            "base_size": 64,
            "layers": [{"source": "relu22_fwd", "channels": 128, "stride": 16, "step": 16.0,
                        "map_size": [4, 4], "num_anchors": 3},
                       {"source": "relu26_fwd", "channels": 256, "stride": 32, "step": 32.0,
                        "map_size": [2, 2], "num_anchors": 3}],
            "classes": ["cat", "dog"], "num_classes": 2,
            "input": {"name": "data", "preprocess": False, "layout": "NCHW",
                      "dtype": "float32", "shape": [1, 3, 64, 64], "any_size": True},
            "variants": {
                "fp32": {"symbol": "m-symbol.json", "params": "m-0000.params",
                         "dtype": "float32"},
                # Entries of the shape int8 and ONNX exports write, naming the listed files
                # (verify_bundle checks files, not what they hold).
                "int8": {"symbol": "m-symbol.json", "params": "m-0000.params",
                         "agreement": {"map": 0.95, "min_required": 0.9}},
                "onnx": {"file": "m-symbol.json", "input": {"shape": ["B", 3, "H", "W"]},
                         "precisions": {"fp32": {}, "bf16": {"agreement": 0.99,
                                                             "min_required": 0.95},
                                        # as onnx_int8 writes it: the graph's description
                                        # beside one agreement record per runtime
                                        "int8": {"file": "m-0000.params", "format": "QDQ",
                                                 "calib_mode": "naive", "num_calib_images": 4,
                                                 "onnxruntime": {"agreement": 0.97,
                                                                 "min_required": 0.95}}}}},
            "optimizations": {"batchnorm_folded": 27, "cpu_backend": "MKLDNN"},
            "files": {"m-symbol.json": {"sha256": "SYMBOL", "size": -1},
                      "m-0000.params": {"sha256": "PARAMS", "size": -2}}}


def _with_real_digests(data, valid):
    files = valid["files"]
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    for name, key, size in (("m-symbol.json", "SYMBOL", -1), ("m-0000.params", "PARAMS", -2)):
        text = text.replace(f'"{key}"', json.dumps(files[name]["sha256"]))
        text = text.replace(f'"size": {size}', f'"size": {files[name]["size"]}')
    return text.encode()


def test_the_template_is_the_export(bundle):
    out, valid = bundle
    template = json.loads(_with_real_digests(json.dumps(_manifest_template()).encode(), valid))
    assert {k: template[k] for k in ("layers", "classes", "files", "base_size")} == \
        {k: valid[k] for k in ("layers", "classes", "files", "base_size")}
    assert _verify(out, json.dumps(template).encode()) is not None


@fuzz_settings(150)
@given(data=mutated_json(_manifest_template()))
def test_mutated_manifests_verify_or_are_refused(bundle, data):
    out, valid = bundle
    _verify(out, _with_real_digests(data, valid))


@fuzz_settings(50)
@given(data=mutated_bytes(json.dumps(_manifest_template()).encode()))
def test_mutated_manifest_bytes_verify_or_are_refused(bundle, data):
    out, valid = bundle
    _verify(out, _with_real_digests(data, valid))


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["files"]["m-0000.params"].update(size="1"), r"files entry 'm-0000\.params'"),
    (lambda m: m["variants"]["fp32"].update(symbol=["m-symbol.json"]), r"variant 'fp32' names"),
    (lambda m: m.update(classes=[["cat"]]), r"classes: class names must be non-empty strings"),
    (lambda m: m["input"].update(preprocess="no"), r"input must be a mapping with preprocess"),
    (lambda m: m.update(base_size=1e309), r"base_size must be an int >= 1 or null, got inf"),
    (lambda m: m["variants"].update(fp32=["m-symbol.json"]), r"variant 'fp32' must be a mapp"),
    (lambda m: m["variants"]["fp32"].pop("symbol"), r"variant 'fp32' must be a mapping with sym"),
])
def test_wrong_types_are_refused_naming_the_manifest_and_entry(bundle, edit, message):
    out, valid = bundle
    manifest = json.loads(json.dumps(valid))
    edit(manifest)
    write_bytes(out / deploy.MANIFEST, json.dumps(manifest).encode())
    with pytest.raises(ValueError, match=message) as err:
        deploy.verify_bundle(str(out))
    assert str(err.value).startswith(str(out / deploy.MANIFEST))

"""Fuzzing the checkpoint records a run folder holds (gluon_ssd.training.checkpoint:
load_checkpoint reads ``latest.json``, read_best ``best.json``) with mutated JSON: each one loads
with every field of its documented type, or is refused with a ValueError naming the file
(tests/helpers/fuzz.py)."""
import dataclasses
import hashlib
import json
import math

import pytest
from hypothesis import given
from tests.helpers.fuzz import (fuzz_settings, load_or_refuse, mutated_bytes, mutated_json,
                                write_bytes)

from gluon_ssd import SSDConfig, zoo
from gluon_ssd.model.layers import LayerSpec
from gluon_ssd.training import TrainConfig
from gluon_ssd.training.checkpoint import load_checkpoint, read_best
from gluon_ssd.utils.fileio import file_digest

PARAMS, STATES = b"weights of epoch 0", b"optimizer states of epoch 0"


def _ssd_config():
    config, _ = zoo.get_config("ssd_300_mobilenet0.25_voc")
    return json.loads(json.dumps(dataclasses.asdict(config)))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoint_fuzz")
    (folder / "epoch-0000.params").write_bytes(PARAMS)
    (folder / "epoch-0000.states").write_bytes(STATES)
    (folder / "best.params").write_bytes(PARAMS)
    return folder


def _valid_latest():
    """A record as save_checkpoint writes it (one epoch done, two layers of an SSD300)."""
    return {
        "epoch": 0, "params": "epoch-0000.params", "states": "epoch-0000.states",
        "params_sha256": hashlib.sha256(PARAMS).hexdigest(),
        "states_sha256": hashlib.sha256(STATES).hexdigest(),
        "config": json.loads(json.dumps(TrainConfig(epochs=2).to_dict())),
        "history": [{"epoch": 0, "loss": 1.5, "lr": 0.001}], "partial": None,
        "classes": ["cat", "dog"], "model_name": "ssd_300_mobilenet0.25_voc",
        "ssd_config": _ssd_config(),
        "layers": [{"source": "16", "channels": 128, "stride": 16, "step": 16.0,
                    "map_size": [19, 19], "num_anchors": 4},
                   {"source": "32", "channels": 256, "stride": 32, "step": 32.0,
                    "map_size": [10, 10], "num_anchors": 6}],
    }


VALID_BEST = {"epoch": 3, "metric": "val_voc07_map", "score": 0.5, "params": "best.params",
              "params_sha256": "0" * 64}


def _check_latest(record):
    assert isinstance(record["epoch"], int) and record["epoch"] >= -1
    assert isinstance(record["params"], str)
    assert all(isinstance(row, dict) for row in record["history"])
    assert all(isinstance(v, int) for v in record["config"]["data_shape"])
    if "ssd_config" in record:
        SSDConfig.from_dict(record["ssd_config"])
    for layer in record.get("layers") or ():
        LayerSpec.from_dict(layer)


def _load_latest(folder, data):
    path = write_bytes(folder / "latest.json", data)
    record = load_or_refuse(lambda: load_checkpoint(str(folder)), "latest.json")
    if record is not None:
        _check_latest(record)
    return record, path


def _load_best(folder, data):
    path = write_bytes(folder / "best.json", data)
    record = load_or_refuse(lambda: read_best(str(folder)), path)
    if record is not None:
        assert isinstance(record["metric"], str) and math.isfinite(record["score"])
        assert isinstance(record["epoch"], int) and record["epoch"] >= 0
    return record


def test_the_valid_records_load(folder):
    record, _ = _load_latest(folder, json.dumps(VALID_LATEST).encode())
    assert record["classes"] == ["cat", "dog"] and record["epoch"] == 0
    # The digests are those of the files the fixture wrote.
    assert record["params_sha256"] == file_digest(str(folder / "epoch-0000.params"))
    assert _load_best(folder, json.dumps(VALID_BEST).encode())["score"] == 0.5


VALID_LATEST = _valid_latest()


@fuzz_settings(200)
@given(data=mutated_json(VALID_LATEST))
def test_mutated_latest_records_load_or_are_refused(folder, data):
    _load_latest(folder, data)


@fuzz_settings(50)
@given(data=mutated_bytes(json.dumps(VALID_LATEST).encode()))
def test_mutated_latest_bytes_load_or_are_refused(folder, data):
    _load_latest(folder, data)


@fuzz_settings(100)
@given(data=mutated_json(VALID_BEST))
def test_mutated_best_records_load_or_are_refused(folder, data):
    _load_best(folder, data)


@pytest.mark.parametrize("key, value, message", [
    ("epoch", "0", r"latest\.json: epoch must be an int >= -1, got '0'"),
    ("history", {"k": 1}, r"latest\.json: history must be a list of log rows"),
    ("partial", {"epoch": 1, "batch": 1e309}, r"latest\.json: partial must be null or"),
    ("classes", [["cat"]], r"latest\.json: class names must be non-empty strings"),
    ("ssd_config", {"backbone": 1}, r"latest\.json: unknown config keys|missing config keys"),
    ("layers", [{"channels": 1}], r"latest\.json: layers\[0\] must be a dict of the fields"),
    ("params", ["epoch-0000.params"], r"latest\.json: params must be a file name"),
])
def test_wrong_types_in_latest_are_refused_naming_the_file_and_field(folder, key, value,
                                                                      message):
    record = json.loads(json.dumps(VALID_LATEST))
    record[key] = value
    write_bytes(folder / "latest.json", json.dumps(record).encode())   # 1e309: Infinity
    with pytest.raises(ValueError, match=message):
        load_checkpoint(str(folder))


def test_a_best_record_with_a_score_of_another_type_is_refused(folder):
    write_bytes(folder / "best.json", json.dumps(dict(VALID_BEST, score=[0.5])).encode())
    with pytest.raises(ValueError, match=r"best\.json: score must be a finite number, got "
                                         r"\[0\.5\]; delete it"):
        read_best(str(folder))

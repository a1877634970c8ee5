"""Fuzzing ``gluon-ssd train --config FILE`` (gluon_ssd.cli.train.parse_arguments, which reads the
file, checks its ``train`` entries and builds its ``ssd`` SSDConfig and the TrainConfig before any
data is read) with mutated JSON and YAML files: each one is accepted with a valid TrainConfig and
SSDConfig, or refused with a ValueError naming ``--config FILE`` (tests/helpers/fuzz.py)."""
import json

import pytest
import yaml
from hypothesis import given
from tests.helpers.fuzz import (fuzz_settings, load_or_refuse, mutated_bytes, mutated_json,
                                mutated_yaml, write_bytes)

from gluon_ssd import SSDConfig
from gluon_ssd.cli import train as train_cli
from gluon_ssd.training import TrainConfig

# A small VGG-11 SSD (the one of tests/test_train_script.py) and a training section.
VALID = {
    "train": {"epochs": 12, "batch_size": 4, "lr": 0.02, "optimizer": "sgd",
              "lr_schedule": "step", "lr_steps": [8, 10], "warmup_epochs": 0.5,
              "data_shape": [64, 64], "augment": "flip", "thread_pool": False,
              "val_metric": None},
    "ssd": {"backbone": "vgg11", "base_size": 64, "from_layers": [16, 32, ""],
            "num_filters": [-1, -1, 64], "strides": [-1, -1, 2], "pads": [-1, -1, 1],
            "sizes": [16, 32, 48, 64], "ratios": [[1, 2, 0.5]] * 3, "extra_bn": False,
            "steps": [16, 32, 64], "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("config_fuzz")


def _parse(folder, name, data):
    path = write_bytes(folder / name, data)
    argv = ["--config", path, "--coco-annotations", "a.json", "--coco-images", "img",
            "--out", str(folder / "out")]
    parsed = load_or_refuse(lambda: train_cli.parse_arguments(argv), f"--config {path}")
    if parsed is not None:
        _, args, ssd = parsed
        assert ssd is not None     # no --model: the network is the file's
        config = SSDConfig.from_dict(ssd)
        train = train_cli._train_config(args, config, "voc07")
        assert isinstance(train, TrainConfig) and train.lr > 0 and min(train.data_shape) >= 1
    return parsed


@pytest.mark.parametrize("name, dump", [("c.json", json.dumps), ("c.yaml", yaml.safe_dump)])
def test_the_valid_file_is_read(folder, name, dump):
    _, args, ssd = _parse(folder, name, dump(VALID).encode())
    assert (args.epochs, args.lr, args.lr_steps, args.data_shape) == (12, 0.02, [8, 10], [64, 64])
    assert SSDConfig.from_dict(ssd).backbone == "vgg11"


@fuzz_settings(250)
@given(data=mutated_json(VALID))
def test_mutated_json_is_read_or_refused(folder, data):
    _parse(folder, "c.json", data)


@fuzz_settings(250)
@given(data=mutated_yaml(VALID))
def test_mutated_yaml_is_read_or_refused(folder, data):
    _parse(folder, "c.yaml", data)


@fuzz_settings(100)
@given(data=mutated_bytes(yaml.safe_dump(VALID).encode()))
def test_mutated_yaml_bytes_are_read_or_refused(folder, data):
    _parse(folder, "c.yaml", data)


@pytest.mark.parametrize("section, key, value, message", [
    ("train", "data_shape", [1e309, 64], r"train\.data_shape must be a list of ints, got \[inf"),
    ("train", "epochs", "12", r"train\.epochs must be an int, got '12'"),
    ("train", "lr", [0.1], r"train\.lr must be a finite number, got \[0\.1\]"),
    ("train", "lr_steps", "ab", r"train\.lr_steps must be a list of finite numbers"),
    ("train", 7, 1, r"unknown train keys \[7\]"),
    ("ssd", "sizes", [16, 32, 48, 10 ** 400], r"ssd: sizes must be a list of finite numbers"),
    ("ssd", "from_layers", 5, r"ssd: from_layers must be a list of tap names"),
    ("ssd", "ratios", [[1, [2]]] * 3, r"ssd: ratios must be a list of lists of finite numbers"),
    ("ssd", "base_size", 64.0, r"ssd: base_size must be an int, got 64\.0"),
    ("ssd", "backbone", None, r"ssd: backbone must be a str, got None"),
])
def test_wrong_types_are_refused_naming_the_file_and_entry(folder, section, key, value,
                                                           message):
    doc = json.loads(json.dumps(VALID))
    doc[section][key] = value
    path = write_bytes(folder / "c.yaml", yaml.safe_dump(doc).encode())
    with pytest.raises(ValueError, match=message) as err:
        train_cli.parse_arguments(["--config", path, "--data-root", "voc", "--out", "o"])
    assert str(err.value).startswith(f"--config {path}: ")


def test_values_out_of_range_name_the_file(folder):
    doc = json.loads(json.dumps(VALID))
    doc["train"]["warmup_epochs"] = 20.0    # more than the 12 epochs
    path = write_bytes(folder / "c.json", json.dumps(doc).encode())
    with pytest.raises(ValueError, match=r"warmup_epochs must be in \[0, epochs\) = \[0, 12\), "
                                         r"got 20\.0; .* \(from --config .*c\.json or a flag\)"):
        train_cli.parse_arguments(["--config", path, "--data-root", "voc", "--out", "o"])


def test_the_command_prints_one_line_for_a_bad_config(folder, capsys, monkeypatch):
    monkeypatch.delenv("GLUON_SSD_TRACEBACK", raising=False)
    path = write_bytes(folder / "c.json", b'{"train": {"data_shape": [1e309, 64]}}')
    argv = ["--config", path, "--data-root", "voc", "--model", "ssd_300_mobilenet0.25_voc",
            "--out", "o"]
    assert train_cli.run(train_cli.main, argv, prog="train") == 2
    assert capsys.readouterr().err == (f"train: error: --config {path}: train.data_shape must "
                                       f"be a list of ints, got [inf, 64]\n")

"""Tests for gluon_ssd.training.checkpoint and the stops of gluon_ssd.training.fit: confined
records, files that are not what they claim, a full disk, foreign pickles, SIGTERM / SIGINT
mid-epoch, the layer records of a run."""
import errno
import json
import os
import signal

import mxnet as mx
import numpy as np
import pytest

from tests.helpers.signals import SHAPE, interrupted_fit, small_config, small_net
from tests.helpers.training_fixtures import squares

from gluon_ssd.training import fit, load_checkpoint, load_trained
from gluon_ssd.training import checkpoint
from gluon_ssd.training.checkpoint import CheckpointWriteError
from gluon_ssd.utils import fileio

QUIET = dict(progress=False, log=lambda *a: None)
_net, _config = small_net, small_config


def _params(net):
    return {k: v.data().asnumpy() for k, v in net._collect_params_with_prefix().items()}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished one-epoch run (epoch-0000.params/.states, latest.json)."""
    out = tmp_path_factory.mktemp("run")
    fit(_net(), squares(16), _config(epochs=1), str(out), **QUIET)
    return out


def _forged(run_dir, tmp_path, **changes):
    """A copy of the run whose latest.json has ``changes`` (file entries get their real sha256)."""
    out = tmp_path / "forged"
    out.mkdir()
    for f in run_dir.iterdir():
        if f.is_file():
            (out / f.name).write_bytes(f.read_bytes())
    record = json.loads((out / "latest.json").read_text())
    for key, name in changes.items():
        record[key] = name
        target = os.path.join(str(out), name)
        if os.path.isfile(target):
            record[f"{key}_sha256"] = fileio.file_digest(target)
    (out / "latest.json").write_text(json.dumps(record))
    return out


@pytest.mark.parametrize("name", ["../outside.params", "/tmp/outside.params", "sub/x.params",
                                  "..", ""])


def test_a_record_naming_a_file_outside_its_folder_is_refused(run_dir, tmp_path, name):
    # The named files exist with the right digest: only where they lie is wrong.
    (tmp_path / "outside.params").write_bytes((run_dir / "epoch-0000.params").read_bytes())
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.params").write_bytes((run_dir / "epoch-0000.params").read_bytes())
    out = _forged(run_dir, tmp_path, params=name)
    (out / "sub").mkdir()
    (out / "sub" / "x.params").write_bytes((run_dir / "epoch-0000.params").read_bytes())
    with pytest.raises(ValueError, match="is not a plain file name"):
        load_checkpoint(str(out))


def test_a_symlink_leaving_the_folder_is_refused(run_dir, tmp_path):
    outside = tmp_path / "elsewhere.params"
    outside.write_bytes((run_dir / "epoch-0000.params").read_bytes())
    out = _forged(run_dir, tmp_path)
    (out / "link.params").symlink_to(outside)
    record = json.loads((out / "latest.json").read_text())
    record["params"] = "link.params"  # same bytes, so the sha256 would match
    (out / "latest.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="symlink"):
        load_checkpoint(str(out))


def test_random_bytes_with_a_matching_digest_are_not_params(run_dir, tmp_path):
    out = _forged(run_dir, tmp_path)
    (out / "junk.params").write_bytes(np.random.RandomState(0).bytes(4096))
    record = json.loads((out / "latest.json").read_text())
    record["params"], record["params_sha256"] = "junk.params", \
        fileio.file_digest(str(out / "junk.params"))
    (out / "latest.json").write_text(json.dumps(record))
    assert load_checkpoint(str(out))["params"] == "junk.params"  # the digest checks out
    with pytest.raises(ValueError, match=r"junk\.params.*MXNet parameters"):
        load_trained(str(out))


def test_params_of_another_class_count_name_the_parameter_and_shapes(run_dir, tmp_path):
    other = _net(("a", "b", "c"))
    other.initialize()
    other(mx.nd.zeros((1, 3) + SHAPE))
    out = _forged(run_dir, tmp_path)
    other.save_parameters(str(out / "other.params"))
    record = json.loads((out / "latest.json").read_text())
    record["params"], record["params_sha256"] = "other.params", \
        fileio.file_digest(str(out / "other.params"))
    (out / "latest.json").write_text(json.dumps(record))
    # A class predictor of mobilenet0.25's first head: anchors x (classes + 1) output channels,
    # 4 anchors there (ratios 1, 2, 0.5 and the extra size): 4 * 2 = 8 rows for one class, 16 for 3.
    with pytest.raises(ValueError, match=r"other\.params.*'heads\.0\.cls_pred\.weight' is "
                                         r"\(8, .*\(16, "):
        load_trained(str(out))


def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    real = checkpoint.atomic_write
    calls = []

    def full_disk(path, write):
        calls.append(os.path.basename(path))
        if "epoch-0001" in path and path.endswith(".states"):  # weights written, then ENOSPC
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, write)

    monkeypatch.setattr(checkpoint, "atomic_write", full_disk)
    with pytest.raises(CheckpointWriteError, match="No space left.*epoch-0000|latest.json still "
                                                   "names the previous"):
        fit(_net(), squares(16), _config(), str(tmp_path), **QUIET)
    assert "epoch-0001.states" in calls
    record = load_checkpoint(str(tmp_path))  # verified: the previous checkpoint stands
    assert record["epoch"] == 0
    assert not (tmp_path / "epoch-0001.params").exists()  # no half checkpoint left behind
    assert not list(tmp_path.glob(".*.tmp"))


def test_states_of_another_user_are_not_unpickled(tmp_path, monkeypatch):
    data = squares(16)
    fit(_net(), data, _config(epochs=1), str(tmp_path), **QUIET)
    owner = os.stat(tmp_path / "epoch-0000.states").st_uid
    monkeypatch.setattr(checkpoint.os, "geteuid", lambda: owner + 1)  # another user's folder
    with pytest.raises(ValueError, match="weights only"):
        fit(_net(), data, _config(), str(tmp_path), resume=True, **QUIET)
    assert load_checkpoint(str(tmp_path))["epoch"] == 0  # nothing trained, nothing written
    lines = []
    history = fit(_net(), data, _config(), str(tmp_path), resume="weights", progress=False,
                  log=lines.append)
    assert [r["epoch"] for r in history] == [1, 2]
    assert any("weights only" in line for line in lines)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_epoch_checkpoints_and_resume_continues_exactly(tmp_path, signum):
    data = squares(32, seed=1)  # 4 batches of 8 per epoch
    straight = _net()
    fit(straight, data, _config(), str(tmp_path / "a"), **QUIET)

    # Load 32 + 8 + 8 + 3: the signal lands while batch 3 of epoch 2 loads (no loader workers:
    # items load in order, one batch at a time). The check before training batch 3 stops the run
    # (the loaded batch is dropped, re-drawn on resume): epoch 1 complete, 2 batches of epoch 2.
    # The interrupted run is a process of its own, as a user's `gluon-ssd train` is
    # (tests/helpers/signals.py says why); the same net, data and config as the straight run.
    stopped = interrupted_fit(tmp_path / "b", int(signum), at=32 + 8 + 8 + 3)
    assert stopped["returncode"] == 0, stopped["stderr"][-2000:]
    assert stopped["exit_code"] == 128 + signum and "--resume" in stopped["message"]
    assert stopped["handler_restored"]  # handlers put back
    record = load_checkpoint(str(tmp_path / "b"))
    assert record["epoch"] == 0 and record["partial"]["epoch"] == 1
    assert record["partial"]["batch"] == 2

    resumed = _net()
    history = fit(resumed, data, _config(), str(tmp_path / "b"), resume=True, **QUIET)
    assert [row["epoch"] for row in history] == [1, 2]
    assert not (tmp_path / "b" / "interrupted.params").exists()  # the full checkpoint replaced it
    a, b = _params(straight), _params(resumed)
    for k in a:  # what an unbroken run has (float noise of a re-run: 1e-4)
        np.testing.assert_allclose(b[k], a[k], rtol=1e-4, atol=1e-5, err_msg=k)


def _edited_record(run_dir, tmp_path, edit):
    """A copy of the run whose latest.json went through ``edit(record)``."""
    tmp_path.mkdir(exist_ok=True)
    out = _forged(run_dir, tmp_path)
    record = json.loads((out / "latest.json").read_text())
    edit(record)
    (out / "latest.json").write_text(json.dumps(record))
    return out


def test_the_record_carries_the_layer_specs_and_reloads_them(run_dir):
    record = json.loads((run_dir / "latest.json").read_text())
    # Plain JSON, one record per prediction layer of mobilenet0.25 SSD300: taps at strides 16
    # and 32 (128 and 256 channels: 512 and 1024 times 0.25), 19x19 and 10x10 at 300 px.
    assert [r["stride"] for r in record["layers"]] == [16, 32, 64, 128, 256, 512]
    assert [r["channels"] for r in record["layers"][:2]] == [128, 256]
    assert [r["map_size"] for r in record["layers"][:2]] == [[19, 19], [10, 10]]
    net, _ = load_trained(str(run_dir))
    assert [spec.to_dict() for spec in net.layers] == record["layers"]
    assert net.layers == _net().layers


def test_a_record_whose_layers_disagree_names_the_file_and_the_field(run_dir, tmp_path):
    def edit(record):
        record["layers"][2]["stride"] = 32  # hand-edited: extra2 is at 64
    out = _edited_record(run_dir, tmp_path, edit)
    with pytest.raises(ValueError, match=r"latest\.json: layer 2 \(extra2\) has stride 32, the "
                                         r"network rebuilt from its ssd_config has 64"):
        load_trained(str(out))
    # Resuming into a network of another build is refused the same way, before any training.
    with pytest.raises(ValueError, match=r"latest\.json: layer 2 .* the network being trained"):
        fit(_net(), squares(16), _config(epochs=2), str(out), resume=True, **QUIET)


def test_a_record_with_malformed_or_missing_layers(run_dir, tmp_path):
    def malformed(record):
        record["layers"][0]["channels"] = "128"
    with pytest.raises(ValueError, match=r"latest\.json: layers\[0\]: 'channels' must be an int"):
        load_trained(str(_edited_record(run_dir, tmp_path / "a", malformed)))

    def fewer(record):
        record["layers"].pop()
    with pytest.raises(ValueError, match=r"latest\.json records 5 prediction layers, the network "
                                         r"rebuilt from its ssd_config has 6"):
        load_trained(str(_edited_record(run_dir, tmp_path / "b", fewer)))

    def older(record):  # a record written before records carried the layers
        del record["layers"]
    net, _ = load_trained(str(_edited_record(run_dir, tmp_path / "c", older)))
    assert net.layers == _net().layers

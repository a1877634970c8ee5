"""Tests for gluon_ssd.training: config checks, schedule, resume, NaN stop, atomic checkpoints, devices."""
import json

import mxnet as mx
import numpy as np
import pytest
from tests.helpers.training_fixtures import no_bn_net, squares

from gluon_ssd import zoo
from gluon_ssd.training import (TrainConfig, TrainingDiverged, fit, learning_rate, load_checkpoint,
                             load_trained)
from gluon_ssd.cli import parse_ctx

SHAPE = (128, 128)


def _small_net():
    config, _ = zoo.get_config("ssd_300_mobilenet0.25_voc")
    return zoo.build_ssd(config, ["square"])


def _params(net):
    """Parameters by structural name (what save_parameters writes), comparable across instances."""
    return {k: v.data().asnumpy() for k, v in net._collect_params_with_prefix().items()}


def _config(**kw):
    base = dict(epochs=2, batch_size=8, lr=1e-3, data_shape=SHAPE, seed=3)
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("kwargs, match", [
    (dict(epochs=0), "epochs"), (dict(batch_size=2.5), "batch_size"), (dict(lr=-1), "lr"),
    (dict(optimizer="rmsprop"), "optimizer"), (dict(lr_schedule="poly"), "lr_schedule"),
    (dict(lr_schedule="step"), "lr_steps"), (dict(lr_steps=(5, 3), lr_schedule="step"), "increase"),
    (dict(warmup_epochs=10, epochs=10), "warmup"), (dict(augment="mixup"), "augment")])
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_learning_rate_schedules():
    # 10 epochs of 100 iterations, lr 0.1.
    cos = TrainConfig(epochs=10, lr=0.1, lr_schedule="cosine", warmup_epochs=2)
    assert learning_rate(cos, 0, 100) == pytest.approx(0.1 / 200)  # warm-up: (i + 1) / 200
    assert learning_rate(cos, 199, 100) == pytest.approx(0.1)
    # cosine over the 800 updates after warm-up (MXNet counts updates from 1: iteration i is
    # update i + 1): update 600 is halfway, lr / 2; the last update (1000) reaches 0
    assert learning_rate(cos, 599, 100) == pytest.approx(0.05)
    assert learning_rate(cos, 999, 100) == pytest.approx(0.0, abs=1e-12)
    step = TrainConfig(epochs=10, lr=0.1, lr_schedule="step", lr_steps=(4, 8))
    assert [learning_rate(step, i, 100) for i in (399, 400, 799, 800)] == pytest.approx(
        [0.1, 0.01, 0.01, 0.001])
    assert learning_rate(TrainConfig(lr=0.3, lr_schedule="constant"), 12345, 10) == 0.3


def test_parse_ctx():
    assert parse_ctx("cpu") == [mx.cpu(0)]
    assert parse_ctx("gpu0,gpu1") == [mx.gpu(0), mx.gpu(1)]
    with pytest.raises(ValueError, match="tpu0"):
        parse_ctx("tpu0")


def test_training_lowers_the_loss_and_writes_logs(tmp_path):
    data = squares(32)
    history = fit(_small_net(), data, _config(epochs=3, lr=2e-3), str(tmp_path), val_dataset=data,
                  progress=False, log=lambda *a: None)
    assert len(history) == 3 and history[-1]["loss"] < history[0]["loss"]
    assert 0 <= history[-1]["val_voc07_map"] <= 1
    lines = (tmp_path / "log.csv").read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith("epoch,")
    assert (tmp_path / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Only the last keep_checkpoints=2 epochs stay.
    assert sorted(p.name for p in tmp_path.glob("epoch-*")) == [
        "epoch-0001.params", "epoch-0001.states", "epoch-0002.params", "epoch-0002.states"]
    assert not list(tmp_path.glob("*.tmp"))
    net, record = load_trained(str(tmp_path))
    assert record["epoch"] == 2 and net.classes == ("square",)
    ids, scores, bboxes = net(mx.nd.zeros((1, 3) + SHAPE))
    assert bboxes.shape == (1, 100, 4)


class _Stop(Exception):
    pass


def test_resume_continues_exactly(tmp_path):
    """A run stopped after epoch 1 and resumed ends with the weights of a run never stopped."""
    data = squares(24, seed=1)
    straight = _small_net()
    fit(straight, data, _config(), str(tmp_path / "a"), progress=False, log=lambda *a: None)

    def stop(row):
        if row["epoch"] == 1:
            raise _Stop

    with pytest.raises(_Stop):
        fit(_small_net(), data, _config(), str(tmp_path / "b"), progress=False,
            log=lambda *a: None, on_epoch_end=stop)
    assert load_checkpoint(str(tmp_path / "b"))["epoch"] == 0
    resumed = _small_net()
    history = fit(resumed, data, _config(), str(tmp_path / "b"), resume=True, progress=False,
                  log=lambda *a: None)
    assert [row["epoch"] for row in history] == [1, 2]
    a, b = _params(straight), _params(resumed)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-4, atol=1e-5, err_msg=k)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    net = _small_net()

    def poison(row):  # after epoch 1 is saved, break a weight: epoch 2's loss is NaN
        if row["epoch"] == 1:
            p = net.heads[0].box_pred.collect_params()
            w = next(v for k, v in p.items() if k.endswith("weight"))
            w.set_data(w.data() * float("nan"))

    with pytest.raises(TrainingDiverged, match="epoch-0000.params") as err:
        fit(net, squares(16), _config(), str(tmp_path), progress=False, log=lambda *a: None,
            on_epoch_end=poison)
    assert "epoch 2" in str(err.value)
    record = load_checkpoint(str(tmp_path))  # still the good epoch, hashes verified
    assert record["epoch"] == 0
    good = mx.nd.load(str(tmp_path / record["params"]))
    assert all(np.isfinite(v.asnumpy()).all() for v in good.values())


def test_a_kill_while_writing_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    net = _small_net()
    calls = []

    def dying_save(path, *args, **kwargs):  # writes half a file, then the process "dies"
        calls.append(path)
        if len(calls) == 2:
            with open(path, "wb") as f:
                f.write(b"\x12" * 100)
            raise KeyboardInterrupt
        return original(path, *args, **kwargs)

    original = net.save_parameters
    monkeypatch.setattr(net, "save_parameters", dying_save)
    with pytest.raises(KeyboardInterrupt):
        fit(net, squares(16), _config(), str(tmp_path), progress=False, log=lambda *a: None)
    record = load_checkpoint(str(tmp_path))
    assert record["epoch"] == 0  # epoch 1's save died: "latest" is still epoch 0, verified
    assert not list(tmp_path.glob("*.tmp"))  # the partial temporary file is gone
    assert not (tmp_path / "epoch-0001.params").exists()


def test_corrupt_checkpoint_is_refused(tmp_path):
    fit(_small_net(), squares(16), _config(epochs=1), str(tmp_path), progress=False,
        log=lambda *a: None)
    params = tmp_path / "epoch-0000.params"
    params.write_bytes(params.read_bytes()[:1000])
    with pytest.raises(ValueError, match="epoch-0000.params"):
        load_checkpoint(str(tmp_path))
    (tmp_path / "latest.json").write_text("{")
    with pytest.raises(ValueError, match="latest.json"):
        fit(_small_net(), squares(16), _config(epochs=1), str(tmp_path), resume=True,
            progress=False, log=lambda *a: None)


def test_two_devices_equal_one(tmp_path):
    """The batch split over cpu(0) and cpu(1) gives the weights of one device (no BatchNorm)."""
    data = squares(16, seed=4, side=64)
    # SGD: the update is linear in the gradient (Adam turns float noise on ~0 gradients into
    # +-lr steps), so the weights agree to float noise.
    config = _config(epochs=1, data_shape=(64, 64), lr=0.01, optimizer="sgd")
    one, two = no_bn_net(), no_bn_net()
    one.initialize(mx.init.Xavier())
    one(mx.nd.zeros((1, 3, 64, 64)))  # materialise the weights, then give both nets the same
    start = _params(one)
    one.save_parameters(str(tmp_path / "init.params"))
    two.load_parameters(str(tmp_path / "init.params"))
    fit(one, data, config, str(tmp_path / "one"), progress=False, log=lambda *a: None)
    fit(two, data, config, str(tmp_path / "two"), ctx=[mx.cpu(0), mx.cpu(1)], progress=False,
        log=lambda *a: None)
    a, b = _params(one), _params(two)
    # Tolerance: the two halves are summed in another order (float noise, seen up to 4e-6); the
    # update itself is far larger (checked below), so a wrong split cannot hide in it.
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-4, atol=2e-5, err_msg=k)
    moved = [np.abs(a[k] - start[k]).max() for k in a]
    assert sum(m > 1e-3 for m in moved) > len(a) // 2


def test_batch_must_split_evenly(tmp_path):
    with pytest.raises(ValueError, match="split evenly"):
        fit(_small_net(), squares(16), _config(batch_size=7), str(tmp_path),
            ctx=[mx.cpu(0), mx.cpu(1)], progress=False, log=lambda *a: None)
    with pytest.raises(ValueError, match="fewer than one batch"):
        fit(_small_net(), squares(4), _config(), str(tmp_path), progress=False,
            log=lambda *a: None)


def _with_background(data, every):
    """``data`` with the label of every ``every``-th item emptied (a background image)."""
    items = [(img, np.zeros((0, 6), np.float32) if k % every == 0 else label)
             for k, (img, label) in enumerate(data)]
    return mx.gluon.data.SimpleDataset(items)


@pytest.mark.parametrize("every", [2, 1])  # half the images without objects; none with any
def test_background_images_train_with_a_finite_loss(tmp_path, every):
    # Before: every=2 -> TrainingDiverged (NaN) at batch 1; every=1 -> MXNet "_copyto inferring
    # shapes failed" on the (B, 0, 6) label batch.
    history = fit(_small_net(), _with_background(squares(8, seed=5), every),
                  _config(epochs=1, batch_size=2), str(tmp_path), progress=False,
                  log=lambda *a: None)
    row = history[0]
    assert np.isfinite(row["loss"]) and row["cls_loss"] > 0
    if every == 1:
        assert row["box_loss"] == 0   # no positive anywhere: no box term


def test_a_mixed_batch_has_the_gradient_of_its_images_apart():
    """Per-image normalisation: the batch [objects, background] has the summed gradient of the two
    images run alone; the background image's own gradient is finite and non-zero (its
    min_negatives hard negatives)."""
    from gluon_ssd.training.loss import SSDMultiBoxLoss, SSDTargets
    from gluon_ssd.data.transforms import batchify
    net = no_bn_net()
    net.initialize(mx.init.Xavier())
    (img, label), = squares(1, seed=6, side=64)
    background = mx.nd.array(np.random.RandomState(7).rand(64, 64, 3) * 80, dtype="uint8")
    items = [(img.transpose((2, 0, 1)).astype("float32") / 255, label),
             (background.transpose((2, 0, 1)).astype("float32") / 255, np.zeros((0, 6), "f"))]
    targets, loss_fn = SSDTargets(), SSDMultiBoxLoss()

    def grads(batch):
        data, labels = batchify()(batch)
        with mx.autograd.record():
            cls_p, box_p, anchors = net(data)
            total, _, _ = loss_fn(cls_p, box_p, *targets(anchors, labels))
        total.backward()
        return [p.grad().asnumpy().copy() for p in net.collect_params().values()
                if p.grad_req != "null"]

    both, alone = grads(items), [grads([item]) for item in items]
    assert all(np.isfinite(g).all() for g in alone[1])
    assert max(np.abs(g).max() for g in alone[1]) > 0
    for g, a, b in zip(both, *alone):
        np.testing.assert_allclose(g, a + b, rtol=1e-4, atol=1e-6)


def test_best_params_follow_the_validation_score_and_survive_a_resume(tmp_path, monkeypatch):
    import gluon_ssd.training as train_module
    from gluon_ssd.utils.fileio import file_digest
    scores = iter([0.2, 0.5, 0.4, 0.45])   # epochs 1-3, then epoch 4 after a resume
    monkeypatch.setattr(train_module, "evaluate",
                        lambda *a, **k: {"voc07_map": next(scores)})
    data = squares(8)
    fit(_small_net(), data, _config(epochs=3), str(tmp_path), val_dataset=data, progress=False,
        log=lambda *a: None)
    best = json.loads((tmp_path / "best.json").read_text())
    # Epoch index 1 scored 0.5, the highest: best.params is byte for byte epoch-0001.params.
    assert (best["epoch"], best["score"], best["metric"]) == (1, 0.5, "val_voc07_map")
    assert file_digest(str(tmp_path / "best.params")) == best["params_sha256"] == \
        file_digest(str(tmp_path / "epoch-0001.params"))
    # Resumed for a 4th epoch scoring 0.45 < 0.5: best stays epoch 1.
    fit(_small_net(), data, _config(epochs=4), str(tmp_path), val_dataset=data, resume=True,
        progress=False, log=lambda *a: None)
    assert json.loads((tmp_path / "best.json").read_text())["epoch"] == 1

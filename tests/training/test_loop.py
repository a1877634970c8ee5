"""Tests for gluon_ssd.training.loop (fit): training lowers the loss and logs, resume continues
exactly, a NaN loss or a kill mid-write keeps the last good checkpoint, devices and dist_sync
workers equal one process, the best weights follow validation."""
import json

import mxnet as mx
import numpy as np
import pytest

from tests.helpers import cluster
from tests.helpers.coco_fixtures import write_coco
from tests.helpers.paths import REPO
from tests.helpers.training_fixtures import no_bn_net, squares

from gluon_ssd import zoo
from gluon_ssd.data import COCODataset
from gluon_ssd.evaluation import evaluate
from gluon_ssd.training import TrainConfig, TrainingDiverged, fit, load_checkpoint, load_trained
from gluon_ssd.training import loop
from gluon_ssd.utils.fileio import file_digest

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


def test_training_lowers_the_loss_and_writes_logs(tmp_path):
    data = squares(32)
    trained = _small_net()
    history = fit(trained, data, _config(epochs=3, lr=2e-3), str(tmp_path), val_dataset=data,
                  progress=False, log=lambda *a: None)
    assert len(history) == 3 and history[-1]["loss"] < history[0]["loss"]
    # The last epoch's validation is evaluate() of the final weights on the same data.
    again = evaluate(trained, data, SHAPE, progress=False)
    assert history[-1]["val_voc07_map"] == pytest.approx(again["voc07_map"], abs=1e-6)
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
            raise _Stop("stopped after epoch 1")

    with pytest.raises(_Stop, match="^stopped after epoch 1$"):
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
            raise KeyboardInterrupt("killed while writing")
        return original(path, *args, **kwargs)

    original = net.save_parameters
    monkeypatch.setattr(net, "save_parameters", dying_save)
    with pytest.raises(KeyboardInterrupt, match="^killed while writing$"):
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


def test_best_params_follow_the_validation_score_and_survive_a_resume(tmp_path, monkeypatch):
    scores = iter([0.2, 0.5, 0.4, 0.45])   # epochs 1-3, then epoch 4 after a resume
    monkeypatch.setattr(loop, "evaluate",
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


# Distributed training: two ``dist_sync`` workers (a parameter server on 127.0.0.1, see
# tests/helpers/cluster.py) end with the weights of fit in this process with kvstore='local' on
# the same data, start weights and global batch.
@pytest.mark.dist
@pytest.mark.slow
@pytest.mark.timeout(480)
def test_two_dist_sync_workers_equal_one_local_process(tmp_path):
    init = tmp_path / "init.params"
    local = cluster.make_net()
    local.initialize(mx.init.Xavier())
    # Materialise the weights, then save them for all.
    local(mx.nd.zeros((1, 3, cluster.SIDE, cluster.SIDE)))
    local.save_parameters(str(init))
    start = cluster.params(local)

    script = tmp_path / "worker.py"
    script.write_text(cluster.WORKER.format(repo=REPO, tmp=str(tmp_path), init=str(init)))
    cluster.run_cluster(tmp_path, script)

    history = fit(local, cluster.dataset(), cluster.train_config(), str(tmp_path / "local"),
                  progress=False, log=lambda *a: None)
    assert len(history) == 1
    expected = cluster.params(local)

    # Rank 0 wrote the checkpoint (weights, optimizer states, latest.json), rank 1 nothing. The
    # scheduler gives ranks in the order workers connect, so either process may be rank 0.
    runs = [tmp_path / f"worker-{i}" / "run" for i in (0, 1)]
    assert sorted(run.exists() for run in runs) == [False, True], "exactly one writer expected"
    writer = 0 if runs[0].exists() else 1
    record = load_checkpoint(str(runs[writer]))
    assert record is not None and record["epoch"] == 0
    checkpoint = cluster.loaded(runs[writer] / record["params"])
    worker0 = cluster.loaded(tmp_path / f"worker-{writer}" / "final.params")
    worker1 = cluster.loaded(tmp_path / f"worker-{1 - writer}" / "final.params")

    # Tolerance: each worker's half-batch gradient is summed with the other's in another order
    # than in one process: float32 noise, seen up to 1.4e-6 in a weight. The SGD update itself is
    # above 1e-3 for most tensors (checked below), and the errors this test exists for are far
    # larger: workers whose learning rate stays at its first value (a schedule set on the workers'
    # optimizer, which the servers' copy never sees) end up to 1.3e-2 away.
    assert expected.keys() == checkpoint.keys() == worker1.keys()
    for k in expected:
        np.testing.assert_allclose(checkpoint[k], expected[k], rtol=1e-4, atol=2e-5, err_msg=k)
        np.testing.assert_allclose(worker1[k], expected[k], rtol=1e-4, atol=2e-5, err_msg=k)
        np.testing.assert_array_equal(worker0[k], checkpoint[k], err_msg=k)
    moved = [np.abs(expected[k] - start[k]).max() for k in expected]
    assert sum(m > 1e-3 for m in moved) > len(moved) // 2


def test_the_trainer_gets_the_parameters_in_the_networks_own_order(tmp_path, monkeypatch):
    # MXNet's Trainer, given a dict, orders parameters by full name, and names carry process-wide
    # counters (ssdextralayer9_ vs ssdextralayer10_ before the SSD's own prefix held them all):
    # optimizer states are stored by that index, so a net whose names sort otherwise than the
    # one that saved them gets them on other parameters (an MXNetError at the first update, or
    # silently wrong when the shapes agree). fit hands the Trainer a list in structural order.
    seen = []
    real = loop.gluon.Trainer

    def spy(params, *args, **kwargs):
        seen.append(params)
        return real(params, *args, **kwargs)

    monkeypatch.setattr(loop.gluon, "Trainer", spy)
    net = _small_net()
    fit(net, squares(8, seed=2), _config(epochs=1), str(tmp_path), progress=False,
        log=lambda *a: None)
    assert isinstance(seen[0], list)
    assert [p.name for p in seen[0]] == [p.name for p in net.collect_params().values()]


def test_fit_refuses_crowd_boxes_as_targets(tmp_path):
    path, images = write_coco(str(tmp_path))
    with pytest.raises(ValueError, match="use_crowd=True"):
        fit(None, COCODataset(path, images, use_crowd=True), {"epochs": 1}, str(tmp_path / "o"))

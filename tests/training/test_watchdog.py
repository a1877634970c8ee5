"""Tests for gluon_ssd.training.watchdog: the heartbeat bookkeeping on a clock we drive, then a real
cluster (tests/helpers/cluster.py) whose worker is killed mid-epoch.
"""
import json
import time

import mxnet as mx
import pytest

from tests.helpers import cluster
from tests.helpers.paths import REPO
from tests.helpers import paths

from gluon_ssd.training import TrainConfig, fit, load_checkpoint
from gluon_ssd.training.watchdog import Watchdog, node_timeout


def _beat(folder, name, count, state="running", role="worker", rank=1):
    (folder / f"{name}.json").write_text(json.dumps(
        {"role": role, "rank": rank, "host": "h", "pid": 42, "count": count, "state": state}))


def _watchdog(folder):
    folder.mkdir(exist_ok=True)
    return Watchdog("worker", str(folder), timeout=10, rank=0, on_lost=None)


def _started(dog):
    """start() (the snapshot of files already there, the own beat), then the thread stopped at
    once, its node left "running": the test drives check() with its own clock alone."""
    dog.start()
    dog.stop(state="running")
    return dog


def test_a_peer_that_stops_beating_is_lost_after_the_timeout(tmp_path):
    dog = _started(_watchdog(tmp_path / "nodes"))
    _beat(tmp_path / "nodes", "worker-1", 1)  # a peer starting after this node: counts at once
    assert dog.check(now=0) is None
    _beat(tmp_path / "nodes", "worker-1", 2)
    assert dog.check(now=1) is None          # it beats: last change at t=1
    assert dog.check(now=10.5) is None       # 9.5 s silent < 10 s
    message = dog.check(now=11.5)            # 10.5 s silent
    assert message and "lost worker 1 (host h, pid 42" in message and "--resume" in message


def test_files_left_by_an_earlier_run_are_not_lost_nodes(tmp_path):
    # A killed run leaves "running" files that never change again; a resumed run in the same
    # folder must not stop because of them.
    _watchdog(tmp_path / "nodes")
    _beat(tmp_path / "nodes", "server-h-7", 5, role="server", rank=None)
    dog = _started(_watchdog(tmp_path / "nodes"))
    assert dog.check(now=0) is None
    assert dog.check(now=1000) is None
    _beat(tmp_path / "nodes", "server-h-7", 6, role="server", rank=None)  # it was alive after all
    assert dog.check(now=1001) is None
    assert "lost server" in dog.check(now=1012)


def test_a_peer_that_ended_on_purpose_is_not_lost(tmp_path):
    dog = _started(_watchdog(tmp_path / "nodes"))
    _beat(tmp_path / "nodes", "worker-1", 1)
    dog.check(now=0)
    _beat(tmp_path / "nodes", "worker-1", 2, state="done")
    dog.check(now=1)
    assert dog.check(now=100) is None


def test_a_step_that_does_not_finish_stops_the_worker(tmp_path):
    dog = _started(_watchdog(tmp_path / "nodes"))
    before = time.monotonic()
    dog.step_started()
    after = time.monotonic()
    assert dog.check(now=before + 19.9) is None  # twice the 10 s heartbeat timeout: 20 s
    message = dog.check(now=after + 20.1)
    assert message and "no training step finished" in message
    dog.step_done()
    assert dog.check(now=after + 1000) is None


def test_the_timeout_is_checked():
    with pytest.raises(ValueError, match="GLUON_SSD_NODE_TIMEOUT"):
        node_timeout(0)


@pytest.mark.dist
@pytest.mark.slow
@pytest.mark.timeout(480)
def test_a_lost_worker_stops_every_other_node_and_the_run_resumes(tmp_path):
    """Kill a worker mid-epoch: the other worker, the server and the scheduler stop within the
    node timeout naming it (exit 3), rank 0's last checkpoint is intact and resumes."""
    init = tmp_path / "init.params"
    net = cluster.make_net()
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 3, cluster.SIDE, cluster.SIDE)))
    net.save_parameters(str(init))
    script = tmp_path / "worker.py"
    script.write_text(cluster.KILLED_WORKER.format(repo=REPO, tmp=str(tmp_path), init=str(init)))
    timeout = 6  # seconds without a heartbeat: a lost node (120 by default)
    # The server starts as MXNet's launcher starts every node: the workers' command, here
    # scripts/train.py, which runs a server role under the watchdog.
    train_py = paths.script("train.py")
    # Every node must end by itself within the deadline (a hang fails there): the survivors
    # with the watchdog's exit code 3, the killed worker with SIGKILL's -9.
    nodes = cluster.run_cluster(tmp_path, script, expected_codes=(3, 3, 3, -9), deadline_s=120,
                                server=(train_py, "--out", str(tmp_path / "server-out")),
                                GLUON_SSD_NODE_TIMEOUT=str(timeout))
    dead_pid = nodes["worker1"][1]
    for name in ("scheduler", "server", "worker0"):
        lines = [line for line in nodes[name][2].read_text().splitlines() if "dist_sync" in line]
        assert lines and "lost worker" in lines[0] and f"pid {dead_pid}," in lines[0], \
            f"{name}: {cluster.tail(nodes[name][2])}"

    # Rank 0 is whichever worker connected first: the survivor, or the killed one.
    runs = [tmp_path / f"worker-{i}" / "run" for i in (0, 1)]
    writer = next(run for run in runs if (run / "latest.json").exists())
    record = load_checkpoint(str(writer))  # intact, verified
    assert record["epoch"] == 0 and record["partial"] is None
    resumed = cluster.make_net()
    config = TrainConfig(**dict(cluster.train_config().to_dict(), epochs=3))
    history = fit(resumed, cluster.dataset(), config, str(writer), resume=True, progress=False,
                  log=lambda *a: None)
    assert [row["epoch"] for row in history] == [1, 2, 3]

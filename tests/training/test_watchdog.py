"""Tests for gluon_ssd.training.watchdog without a cluster: the heartbeat bookkeeping, on a clock we drive.

The cluster test (tests/test_dist.py) kills a real worker; these check the rules it rests on.
"""
import json

import pytest

from gluon_ssd.training.watchdog import Watchdog, node_timeout


def _beat(folder, name, count, state="running", role="worker", rank=1):
    (folder / f"{name}.json").write_text(json.dumps(
        {"role": role, "rank": rank, "host": "h", "pid": 42, "count": count, "state": state}))


def _watchdog(folder):
    folder.mkdir(exist_ok=True)
    return Watchdog("worker", str(folder), timeout=10, rank=0, on_lost=None)


def _started(dog):
    """start() without the thread: the snapshot of files already there, and the own beat."""
    dog._before = {name: peer["count"] for name, peer in dog._peers().items()}
    dog._write("running")
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
    dog.step_started()
    start = dog._step_since
    assert dog.check(now=start + 19) is None  # twice the 10 s heartbeat timeout
    message = dog.check(now=start + 21)
    assert message and "no training step finished" in message
    dog.step_done()
    assert dog.check(now=start + 1000) is None


def test_the_timeout_is_checked():
    with pytest.raises(ValueError, match="GLUON_SSD_NODE_TIMEOUT"):
        node_timeout(0)

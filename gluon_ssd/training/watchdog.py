"""Lost nodes of a ``dist_sync`` run: every node stops within a bounded time, naming the lost one.

MXNet's parameter server (ps-lite) blocks the others forever when a worker or a server dies: a
``dist_sync`` push waits for every worker, and nothing times out. ps-lite's own heartbeats only
tell the scheduler which node is gone (a worker can ask about the scheduler alone), so each node
runs a :class:`Watchdog` thread instead:

- **Heartbeats**: every ``timeout / 4`` s the node rewrites ``NODES_DIR/<node>.json`` (role, rank,
  host, pid, a counter, its state). A peer whose counter has not changed for ``timeout`` s of the
  watcher's own clock (no clock is compared across machines) is lost. A file already there when
  the watcher starts counts only once its counter changes, so the files of an earlier (killed)
  run in the same folder are never taken for lost nodes of a resumed one. ``NODES_DIR`` is a folder
  every node sees: the run's ``--out`` on a shared filesystem (``OUT/.nodes``, the default for
  workers), or ``$GLUON_SSD_NODES_DIR``.
- **Stalls**: a worker whose training step has not finished for ``STALL_FACTOR * timeout`` s
  stops too, naming what it knows (this catches a hung peer, and peers whose heartbeats it cannot
  see). Twice the heartbeat timeout: a dead peer is named by its silence first, even when it was
  slow before it died (the step waits from the peer's last progress, the silence from its death).
- **Stopping**: the thread prints one line naming the lost node and ends the process with exit
  code :data:`EXIT_LOST_NODE` (3); the main thread is blocked inside MXNet and cannot be woken
  otherwise. Checkpoints are written atomically, so the last one is intact: restart the nodes
  and ``--resume``.

Workers get their watchdog from :func:`gluon_ssd.training.fit`; servers and the scheduler through this
module's launcher, which starts one before MXNet runs the role::

    DMLC_ROLE=server ... python -m gluon_ssd.training.watchdog     # instead of: python -c "import mxnet"

``GLUON_SSD_NODE_TIMEOUT`` (seconds, default 120) sets the timeout for every node; it must exceed
the longest pause of a healthy run (rank 0 writing a checkpoint while the others wait).
"""
import json
import os
import socket
import sys
import threading
import time

from ..utils.fileio import atomic_write_json

__all__ = ["Watchdog", "EXIT_LOST_NODE", "DEFAULT_TIMEOUT_S", "nodes_dir", "node_timeout",
           "run_node"]

EXIT_LOST_NODE = 3
DEFAULT_TIMEOUT_S = 120.0
STALL_FACTOR = 2  # a step may take this many heartbeat timeouts (module docstring: Stalls)


def node_timeout(timeout=None):
    """``timeout`` or ``$GLUON_SSD_NODE_TIMEOUT`` or 120 s, checked."""
    if timeout is None:
        timeout = float(os.environ.get("GLUON_SSD_NODE_TIMEOUT", DEFAULT_TIMEOUT_S))
    if not timeout > 0:
        raise ValueError(f"node timeout must be > 0 seconds, got {timeout!r} "
                         f"(GLUON_SSD_NODE_TIMEOUT)")
    return float(timeout)


def nodes_dir(default=None):
    """``$GLUON_SSD_NODES_DIR`` or ``default``."""
    return os.environ.get("GLUON_SSD_NODES_DIR") or default


def _exit_lost(message):
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    os._exit(EXIT_LOST_NODE)


class Watchdog:
    """Heartbeats for this node, and a thread that stops the process when a peer is lost.

    Parameters
    ----------
    role : str
        ``'worker'``, ``'server'`` or ``'scheduler'``.
    folder : str
        The shared heartbeat folder (created if missing).
    timeout : float
        Seconds without a peer's heartbeat (or without finishing a step) before stopping.
    rank : int, optional
        A worker's rank (names it ``worker-R``); other nodes are named by host and pid.
    on_lost : callable, optional
        Called with the message; default prints it and ends the process with exit code 3.
    """

    def __init__(self, role, folder, timeout, rank=None, on_lost=_exit_lost):
        self.role, self.folder, self.timeout = role, folder, node_timeout(timeout)
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.name = f"{role}-{rank}" if rank is not None else f"{role}-{self.host}-{self.pid}"
        self.rank, self._on_lost = rank, on_lost
        self._interval = max(0.2, self.timeout / 4)
        # peer -> (counter, local time it last changed, seen beating since this node started)
        self._count, self._seen = 0, {}
        self._step_since, self._stop, self._before = None, threading.Event(), {}
        self._thread = threading.Thread(target=self._loop, name="gluon_ssd-watchdog", daemon=True)

    def start(self):
        os.makedirs(self.folder, exist_ok=True)
        # Files already there may be left by an earlier (killed) run: they count once they change.
        self._before = {name: peer["count"] for name, peer in self._peers().items()}
        self._write("running")
        self._thread.start()
        return self

    def step_started(self):
        """A training step began: it must end (:meth:`step_done`) within the timeout."""
        self._step_since = time.monotonic()

    def step_done(self):
        self._step_since = None

    def stop(self, state="done"):
        """Stop watching and tell the peers this node ended on purpose."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._interval * 4)
        self._write(state)

    def _write(self, state):
        self._count += 1
        record = {"role": self.role, "rank": self.rank, "host": self.host, "pid": self.pid,
                  "count": self._count, "state": state}
        atomic_write_json(record, os.path.join(self.folder, f"{self.name}.json"))

    def _peers(self):
        peers = {}
        for entry in os.listdir(self.folder):
            if entry.startswith(".") or not entry.endswith(".json") or \
                    entry == f"{self.name}.json":
                continue
            try:
                with open(os.path.join(self.folder, entry)) as f:
                    peers[entry[:-5]] = json.load(f)
            except (OSError, ValueError):
                continue  # replaced while read: next round
        return peers

    def check(self, now=None):
        """The message for a lost peer or a stalled step, or None (also updates the records)."""
        now = time.monotonic() if now is None else now
        lost = []
        for name, peer in self._peers().items():
            if name not in self._seen:  # first sight: new since start, or changed since then
                alive = self._before.get(name, -1) != peer["count"]
                self._seen[name] = (peer["count"], now, alive)
                continue
            counter, since, alive = self._seen[name]
            if peer["count"] != counter:
                self._seen[name] = (peer["count"], now, True)
            elif alive and peer["state"] == "running" and now - since > self.timeout:
                what = f"worker {peer['rank']}" if peer["role"] == "worker" else peer["role"]
                lost.append(f"{what} (host {peer['host']}, pid {peer['pid']}, no heartbeat for "
                            f"{now - since:.0f} s)")
        if lost:
            return (f"dist_sync: lost {', '.join(lost)}; stopping {self.name} (timeout "
                    f"{self.timeout:g} s). The last checkpoint is intact: restart every node and "
                    f"--resume.")
        if self._step_since is not None and now - self._step_since > STALL_FACTOR * self.timeout:
            seen = ", ".join(sorted(n for n, (_, _, alive) in self._seen.items() if alive)) \
                or f"none (is {self.folder} shared by the nodes?)"
            return (f"dist_sync: no training step finished in {now - self._step_since:.0f} s "
                    f"(timeout {STALL_FACTOR * self.timeout:g} s): a node is lost or hangs; peers "
                    f"with heartbeats: {seen}; stopping {self.name}. The last checkpoint is intact: "
                    f"restart every node and --resume.")
        return None

    def _loop(self):
        while not self._stop.wait(self._interval):
            self._write("running")
            message = self.check()
            if message is not None:
                self._on_lost(message)
                return


def run_node(default_dir=None):
    """Run this process's server or scheduler role under a watchdog (MXNet must not be imported).

    A watchdog thread starts first, then ``import mxnet`` runs MXNet's loop for ``$DMLC_ROLE``
    until the workers finish. The heartbeat folder is ``$GLUON_SSD_NODES_DIR`` or
    ``default_dir``.
    """
    role = os.environ.get("DMLC_ROLE")
    if role not in ("server", "scheduler"):
        sys.exit(f"python -m gluon_ssd.training.watchdog runs a server or scheduler: set DMLC_ROLE to "
                 f"server or scheduler (got {role!r}); workers run scripts/train.py")
    if "mxnet" in sys.modules:
        sys.exit("run_node must start before MXNet is imported (its import runs the role)")
    folder = nodes_dir(default_dir)
    if not folder:
        sys.exit("set GLUON_SSD_NODES_DIR to the heartbeat folder the workers use (OUT/.nodes)")
    watchdog = Watchdog(role, folder, node_timeout()).start()
    try:
        # Importing MXNet runs the role's loop until the workers finish, then exits.
        import mxnet  # noqa: F401
    finally:
        watchdog.stop()


if __name__ == "__main__":
    run_node()

"""A parameter-server cluster on 127.0.0.1 for the distributed-training tests, and what its
workers and the test process share (not a test module).

:func:`run_cluster` starts MXNet's scheduler, one server and two workers, each a ``python``
subprocess configured by the ``DMLC_*`` environment, with a deadline, so a hung parameter server
fails the test instead of blocking CI; all of them are killed in a ``finally``. The worker scripts
(:data:`WORKER`, :data:`KILLED_WORKER`) import this module (``from tests.helpers import cluster``,
the repository root on ``sys.path``) for the data, network and config the test process uses too.
"""
import os
import socket
import subprocess
import sys
import textwrap
import time

from tests.helpers.paths import REPO
from tests.helpers.training_fixtures import no_bn_net, squares

from gluon_ssd.training import TrainConfig

DEADLINE_S = 240
SIDE = 64  # no_bn_net's input size

# Everything both sides need comes from these functions: the workers import this module.


def dataset():
    """24 images of noise with one or two bright squares: 3 global batches of 8."""
    return squares(24, seed=5, side=SIDE)


# A VGG11 SSD without BatchNorm: its gradient does not depend on how a batch is split.
make_net = no_bn_net


def train_config():
    # SGD: the update is linear in the gradient, so float noise in the gradient sum stays float
    # noise in the weights (Adam would turn noise on ~0 gradients into +-lr steps). Cosine: the
    # learning rate changes every iteration, so a worker whose rate is not updated is caught.
    # No random augmentation: each worker transforms only its slice of the batch.
    return TrainConfig(epochs=1, batch_size=8, lr=0.02, optimizer="sgd", lr_schedule="cosine",
                       data_shape=(SIDE, SIDE), augment="none", seed=3)


# Worker 1 starts 3 s after worker 0, as machines do. When the workers updated the weights
# themselves (servers only summing gradients), a late worker made the run diverge (loss ~3e5) in
# about 1 of 3 runs with this skew (1 of ~12 without it); with the optimizer on the servers
# (MXNet's default, what fit() does) 18 of 18 runs passed.
WORKER = textwrap.dedent("""\
    import os, sys, time
    time.sleep(3.0 if os.environ["WORKER_ID"] == "1" else 0.0)
    sys.path.insert(0, {repo!r})
    import mxnet as mx
    from tests.helpers import cluster as spec
    from gluon_ssd.training import fit

    rank_dir = os.path.join({tmp!r}, "worker-" + os.environ["WORKER_ID"])
    net = spec.make_net()
    net.load_parameters({init!r})
    fit(net, spec.dataset(), spec.train_config(), os.path.join(rank_dir, "run"),
        kvstore="dist_sync", progress=False, log=lambda *a: None)
    os.makedirs(rank_dir, exist_ok=True)
    net.save_parameters(os.path.join(rank_dir, "final.params"))  # every worker's own copy
    print("worker done")
    """)


def params(net):
    """Parameters by structural name (what save_parameters writes)."""
    return {k: v.data().asnumpy() for k, v in net._collect_params_with_prefix().items()}


def loaded(path):
    net = make_net()
    net.load_parameters(str(path))
    return params(net)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, chars=3000):
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no output)"


def run_cluster(tmp_path, script, expected_codes=(0, 0, 0, 0), deadline_s=DEADLINE_S,
                 server=("-m", "gluon_ssd.training.watchdog"), **env):
    """Start scheduler, server and two workers; wait for all with a deadline; kill leftovers.

    Returns ``{name: (exit code, pid, log path)}`` for scheduler, server, worker0, worker1 and
    checks each exit code against ``expected_codes`` (same order).
    """
    port = free_port()
    # DMLC_NODE_HOST: every node announces 127.0.0.1 instead of guessing a network interface.
    # GLUON_SSD_NODES_DIR: the heartbeat folder of gluon_ssd.training.watchdog, shared by all four.
    base = dict(os.environ, DMLC_PS_ROOT_URI="127.0.0.1", DMLC_PS_ROOT_PORT=str(port),
                DMLC_NODE_HOST="127.0.0.1",
                DMLC_NUM_SERVER="1", DMLC_NUM_WORKER="2", OMP_NUM_THREADS="1",
                GLUON_SSD_NODES_DIR=str(tmp_path / "nodes"),
                PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]), **env)
    base.pop("DMLC_ROLE", None)
    # The scheduler and the server run MXNet's loop for their role under gluon_ssd's watchdog
    # (python -m gluon_ssd.training.watchdog: a heartbeat thread, then `import mxnet`, which runs the loop
    # until the workers finish).
    node = ["-m", "gluon_ssd.training.watchdog"]
    roles = [("scheduler", None, node), ("server", None, list(server)),
             ("worker", "0", [str(script)]), ("worker", "1", [str(script)])]
    procs, logs, names = [], [], []
    try:
        for role, wid, what in roles:
            env = dict(base, DMLC_ROLE=role)
            if wid is not None:
                env["WORKER_ID"] = wid
            log = tmp_path / f"{role}{wid or ''}.log"
            with open(log, "wb") as out:
                procs.append(subprocess.Popen([sys.executable, *what], env=env, cwd=REPO,
                                              stdout=out, stderr=subprocess.STDOUT))
            logs.append(log)
            names.append(f"{role}{wid or ''}")
        deadline = time.monotonic() + deadline_s
        codes = {}
        for proc, log in zip(reversed(procs), reversed(logs)):  # workers first
            try:
                codes[log] = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise AssertionError(f"{log.name} still running after {deadline_s} s (hung "
                                     f"parameter server?); its output:\n{tail(log)}") from None
        for log, expected in zip(logs, expected_codes):
            assert codes[log] == expected, f"{log.name} exited with {codes[log]}, expected " \
                                           f"{expected}:\n{tail(log)}"
        return {name: (codes[log], proc.pid, log) for name, proc, log in zip(names, procs, logs)}
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


# Worker 1 is SIGKILLed (no chance to say goodbye) while it loads item 4 of its 2nd epoch: its
# share of the global batch is 4 items, so after epoch 1's 3 batches (12 items) and 1 batch of
# epoch 2 (4 items): load 12 + 4 + 4 = 20 is inside batch 2 of epoch 2.
KILLED_WORKER = textwrap.dedent("""\
    import os, signal, sys, time
    sys.path.insert(0, {repo!r})
    import mxnet as mx
    from tests.helpers import cluster as spec
    from gluon_ssd.training import TrainConfig, fit

    class Dying(mx.gluon.data.Dataset):
        def __init__(self, data):
            self.data, self.loads = data, 0
        def __len__(self):
            return len(self.data)
        def __getitem__(self, i):
            self.loads += 1
            if os.environ["WORKER_ID"] == "1" and self.loads == 20:
                time.sleep(4)  # heartbeats of a node that ran a while (every timeout / 4 s)
                os.kill(os.getpid(), signal.SIGKILL)
            return self.data[i]

    rank_dir = os.path.join({tmp!r}, "worker-" + os.environ["WORKER_ID"])
    net = spec.make_net()
    net.load_parameters({init!r})
    config = TrainConfig(**dict(spec.train_config().to_dict(), epochs=3))
    fit(net, Dying(spec.dataset()), config, os.path.join(rank_dir, "run"), kvstore="dist_sync",
        progress=False, log=lambda *a: None)
    print("worker done")
    """)

"""Signals sent to a process of their own: a training run (``python -m tests.helpers.signals``)
or a block of code, each in a fresh interpreter started from the repository root.

A signal that a test sent to the pytest process itself crashed the whole suite once a thousand
tests had run in that process: a segmentation fault inside the interpreter's C signal handler,
in the dynamic linker's lazy symbol resolution (gdb), with the same alternate signal stack as in
a fresh process; the same tests pass alone or after any one test folder. A fresh interpreter is
also what a user's ``gluon-ssd train`` is when SIGTERM reaches it. Not a test module.
"""
import json
import os
import signal
import subprocess
import sys

from mxnet import gluon

from gluon_ssd import zoo
from gluon_ssd.training import TrainConfig, TrainingInterrupted, fit

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHAPE = (128, 128)


def small_net(classes=("square",)):
    """The mobilenet0.25 SSD300 design the checkpoint tests train."""
    config, _ = zoo.get_config("ssd_300_mobilenet0.25_voc")
    return zoo.build_ssd(config, list(classes))


def small_config(**kw):
    """Two epochs, batch 8 at 128 px, seed 3 (``kw`` overrides)."""
    return TrainConfig(**dict(dict(epochs=2, batch_size=8, lr=1e-3, data_shape=SHAPE, seed=3),
                              **kw))


class KillAt(gluon.data.Dataset):
    """``data`` that sends ``signum`` to this process when the ``at``-th item loads."""

    def __init__(self, data, signum, at):
        self.data, self.signum, self.at, self.loads = data, signum, at, 0

    def __len__(self):
        return len(self.data)

    def __getitem__(self, idx):
        self.loads += 1
        if self.loads == self.at:
            os.kill(os.getpid(), self.signum)
        return self.data[idx]


def run_python(code, timeout=600):
    """Run ``code`` in a fresh interpreter from the repository root; the CompletedProcess."""
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def interrupted_fit(out, signum, at, timeout=600):
    """Train :func:`small_net` on ``squares(32, seed=1)`` in a fresh interpreter, ``signum``
    sent when item ``at`` loads.

    Returns
    -------
    dict
        ``returncode`` of the interpreter, ``stderr``, and what it printed: ``exit_code`` (of
        the :class:`TrainingInterrupted`), ``message``, ``handler_restored`` (SIGTERM's handler
        is the default again).
    """
    done = subprocess.run([sys.executable, "-m", "tests.helpers.signals", str(out), str(signum),
                           str(at)], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    lines = done.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return dict(report, returncode=done.returncode, stderr=done.stderr)


def _main(out, signum, at):
    from tests.helpers.training_fixtures import squares
    try:
        fit(small_net(), KillAt(squares(32, seed=1), int(signum), int(at)), small_config(), out,
            progress=False, log=lambda *a: None)
    except TrainingInterrupted as stop:
        print(json.dumps({"exit_code": stop.exit_code, "message": str(stop),
                          "handler_restored": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL}))
        return 0
    print(json.dumps({"exit_code": None}))
    return 1


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:4]))

"""The pieces of one training epoch: the step, the epoch loop, and stopping on a signal.

:func:`gluon_ssd.training.fit` runs :func:`train_epoch` once per epoch; :class:`TrainStep` is also what
``scripts/bench.py`` times. An epoch stopped by SIGINT / SIGTERM (:class:`StopOnSignal`) returns
an :class:`EpochProgress`, which the checkpoint records so that ``--resume`` continues from the
same batch.
"""
import dataclasses
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon
from tqdm import tqdm

from .errors import TrainingDiverged
from .loss import SSDMultiBoxLoss
from .targets import SSDTargets

__all__ = ["TrainStep", "EpochProgress", "StopOnSignal", "train_epoch", "seed_all"]

# Seeds of each epoch's randomness are spread by primes so that seed + epoch pairs never collide:
# the data order of epoch e draws from seed + ORDER_PRIME * e (1000003, the first prime above
# 10**6: more epochs than any run has), augmentation from seed + AUGMENT_PRIME * (e + 1).
ORDER_PRIME = 1000003
AUGMENT_PRIME = 7919


def seed_all(seed):
    """Python's, numpy's and MXNet's generators from one seed."""
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    mx.random.seed(seed % (2 ** 31))


class StopOnSignal:
    """SIGINT / SIGTERM ask the loop to stop after the current batch (main thread only).

    The first signal sets :attr:`signum` and puts the previous handlers back, so a second one acts
    at once (Ctrl-C twice: KeyboardInterrupt; SIGTERM twice: the process ends).
    """
    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self):
        self.signum, self._old = None, {}
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._old[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signum = signum
        self._restore()
        sys.stderr.write(f"\n{signal.Signals(signum).name}: finishing the current batch, then "
                         f"writing a checkpoint (send it again to stop at once)\n")

    def _restore(self):
        for signum, handler in self._old.items():
            signal.signal(signum, handler)
        self._old = {}

    def __exit__(self, *exc):
        self._restore()


class TrainStep:
    """One training step on a batch: split over devices, forward, targets, loss, backward, update.

    Returns the batch's summed ``(loss, cls_loss, box_loss)`` as numpy (one host sync, after the
    update).
    """

    def __init__(self, net, trainer, ctx, batch_size):
        self.net, self.trainer, self.ctx, self.batch_size = net, trainer, ctx, batch_size
        self.targets, self.loss = SSDTargets(), SSDMultiBoxLoss()
        self.loss.hybridize()

    def __call__(self, data, label):
        datas = gluon.utils.split_and_load(data, self.ctx, even_split=True)
        labels = gluon.utils.split_and_load(label, self.ctx, even_split=True)
        losses = []
        with autograd.record():
            for x, y in zip(datas, labels):
                cls_preds, box_preds, anchors = self.net(x)
                cls_t, box_t = self.targets(anchors, y)
                losses.append(self.loss(cls_preds, box_preds, cls_t, box_t))
        autograd.backward([total for total, _, _ in losses])
        self.trainer.step(self.batch_size)
        return np.array([sum(float(part.sum().asscalar()) for part in parts)
                         for parts in zip(*losses)])


@dataclass
class EpochProgress:
    """The running sums of an epoch stopped after ``batch`` batches."""
    epoch: int
    batch: int
    sums: list
    seen: int
    data_wait: float
    step_time: float

    def record(self):
        return dataclasses.asdict(self)


def train_epoch(step, loader, sampler, config, epoch, iters_per_epoch, lr_at, resumed, stop,
                watchdog, progress, last_good):
    """One epoch: its log row, or a :class:`EpochProgress` when ``stop`` was signalled inside it.

    ``lr_at(iteration)`` is the learning rate of an update (for the log; the optimizer owns the
    schedule). ``resumed`` (a :class:`EpochProgress` record) continues an interrupted epoch: its first batches are
    loaded and dropped, so the augmentation draws what an unbroken run draws.
    """
    sampler.epoch = epoch
    seed_all(config.seed + AUGMENT_PRIME * (epoch + 1))  # augmentation randomness of this epoch
    done = EpochProgress(epoch, 0, [0.0, 0.0, 0.0], 0, 0.0, 0.0) if resumed is None else \
        EpochProgress(**resumed)
    sums = np.array(done.sums)
    bar = tqdm(total=iters_per_epoch, initial=done.batch, unit="batch", leave=False,
               desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress)
    lr = lr_at(epoch * iters_per_epoch)
    tick = time.perf_counter()
    for i, (data, label) in enumerate(loader):
        if i < done.batch:  # done before the interruption
            tick = time.perf_counter()
            continue
        if stop.signum is not None:
            bar.close()
            return dataclasses.replace(done, sums=sums.tolist())
        ready = time.perf_counter()
        done.data_wait += ready - tick
        lr = lr_at(epoch * iters_per_epoch + i)
        if watchdog is not None:
            watchdog.step_started()
        batch_sums = step(data, label)
        if watchdog is not None:
            watchdog.step_done()
        if not np.all(np.isfinite(batch_sums)):
            bar.close()
            raise TrainingDiverged(
                f"loss became {batch_sums[0]} at epoch {epoch + 1}, batch {i + 1} (lr {lr:.3g});"
                f" last good checkpoint: {last_good or 'none (no epoch finished)'}. Lower the "
                f"learning rate or add warm-up, then --resume.")
        sums += batch_sums
        done.seen += data.shape[0]
        done.batch = i + 1
        tick = time.perf_counter()
        done.step_time += tick - ready
        bar.set_postfix(loss=f"{sums[0] / done.seen:.3f}", lr=f"{lr:.2g}")
        bar.update(1)
    bar.close()
    seen = max(done.seen, 1)
    return {"epoch": epoch + 1, "lr": lr, "loss": sums[0] / seen, "cls_loss": sums[1] / seen,
            "box_loss": sums[2] / seen,
            "train_images_per_s": done.seen / max(done.step_time, 1e-9),
            "data_images_per_s": done.seen / max(done.data_wait, 1e-9),
            "epoch_time_s": done.step_time + done.data_wait}

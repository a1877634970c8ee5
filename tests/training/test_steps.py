"""Tests for gluon_ssd.training.steps: one training step is targets + loss + backward + the
optimizer's update, a signal asks the loop to stop, one seed seeds every generator."""
import random

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from tests.helpers.signals import run_python
from tests.helpers.training_fixtures import no_bn_net, squares

from gluon_ssd.data.transforms import batchify
from gluon_ssd.training.loss import SSDMultiBoxLoss, SSDTargets
from gluon_ssd.training.steps import EpochProgress, TrainStep, seed_all

LR = 0.1


def _batch(n=2, seed=6):
    """``n`` 64 px images with squares, as a (data (n, 3, 64, 64), label (n, M, 6)) batch."""
    items = [(img.transpose((2, 0, 1)).astype("float32") / 255, label)
             for img, label in squares(n, seed=seed, side=64)]
    return batchify()(items)


def _net():
    net = no_bn_net()  # no BatchNorm: the forward does not depend on the mode or the batch split
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 3, 64, 64)))
    return net


def _weights(net):
    return {k: p.data().asnumpy().copy() for k, p in net.collect_params().items()
            if p.grad_req != "null"}


def test_a_step_is_the_loss_and_an_sgd_update_by_hand():
    net = _net()
    data, label = _batch()
    # By hand, on the same weights: targets from the anchors, the summed loss parts, gradients.
    with autograd.record():
        cls_preds, box_preds, anchors = net(data)
        cls_t, box_t = SSDTargets()(anchors, label)
        total, cls_loss, box_loss = SSDMultiBoxLoss()(cls_preds, box_preds, cls_t, box_t)
    total.backward()
    expected = [float(part.sum().asscalar()) for part in (total, cls_loss, box_loss)]
    grads = {k: p.grad().asnumpy().copy() for k, p in net.collect_params().items()
             if p.grad_req != "null"}
    before = _weights(net)
    # Plain SGD (no momentum, no weight decay): w <- w - lr * grad / batch size.
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": LR})
    sums = TrainStep(net, trainer, [mx.cpu()], batch_size=2)(data, label)
    np.testing.assert_allclose(sums, expected, rtol=1e-5)
    assert expected[0] == pytest.approx(expected[1] + expected[2], rel=1e-5)
    after = _weights(net)
    moved = 0
    for k in before:
        np.testing.assert_allclose(after[k], before[k] - LR * grads[k] / 2, rtol=1e-4,
                                   atol=1e-6, err_msg=k)
        moved += not np.array_equal(after[k], before[k])
    assert moved > len(before) // 2


STOP_ON_SIGNAL = """
import os, signal
from gluon_ssd.training.steps import StopOnSignal
original = signal.getsignal(signal.SIGTERM)
with StopOnSignal() as stop:
    assert stop.signum is None
    assert signal.getsignal(signal.SIGTERM) != original  # its own handler
    os.kill(os.getpid(), signal.SIGTERM)
    assert stop.signum == signal.SIGTERM
    # The first signal put the previous handlers back: a second one acts at once.
    assert signal.getsignal(signal.SIGTERM) == original
assert signal.getsignal(signal.SIGTERM) == original
print("checked")
"""


def test_stop_on_signal_records_the_first_signal_and_puts_handlers_back():
    # In an interpreter of its own, as a training process is (tests/helpers/signals.py).
    done = run_python(STOP_ON_SIGNAL)
    assert done.returncode == 0 and done.stdout.strip() == "checked", done.stderr[-2000:]
    assert "SIGTERM: finishing the current batch, then writing a checkpoint" in done.stderr


def test_seed_all_seeds_python_numpy_and_mxnet():
    def draws():
        return (random.random(), float(np.random.rand()),
                float(mx.nd.random.uniform(shape=(1,)).asscalar()))

    seed_all(7)
    first = draws()
    seed_all(7)
    assert draws() == first
    seed_all(8)
    assert all(a != b for a, b in zip(draws(), first))


def test_epoch_progress_records_plain_values():
    progress = EpochProgress(epoch=1, batch=2, sums=[3.0, 2.0, 1.0], seen=16, data_wait=0.5,
                             step_time=1.5)
    assert progress.record() == {"epoch": 1, "batch": 2, "sums": [3.0, 2.0, 1.0], "seen": 16,
                                 "data_wait": 0.5, "step_time": 1.5}
    assert EpochProgress(**progress.record()) == progress  # what a checkpoint stores, read back

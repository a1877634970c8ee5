"""Tests for gluon_ssd.training.config: TrainConfig's checks, learning-rate schedules by hand."""
import pytest

from gluon_ssd.training import TrainConfig, learning_rate


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

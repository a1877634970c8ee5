"""Tests for gluon_ssd.training.config: TrainConfig's checks, learning-rate schedules by hand."""
import pytest

from gluon_ssd.training import TrainConfig, learning_rate
from gluon_ssd.training.config import default_warmup


@pytest.mark.parametrize("kwargs, match", [
    (dict(epochs=0), "epochs must be >= 1, got 0"), (dict(lr=-1), "lr must be > 0"),
    (dict(num_workers=-1), "num_workers must be >= 0"),
    (dict(data_shape=(0, 64)), "data_shape height must be >= 1"),
    (dict(optimizer="rmsprop"), "optimizer"), (dict(lr_schedule="poly"), "lr_schedule"),
    (dict(lr_schedule="step"), "lr_steps"), (dict(lr_steps=(5, 3), lr_schedule="step"), "increase"),
    (dict(warmup_epochs=10, epochs=10), "warmup"), (dict(augment="mixup"), "augment")])
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(batch_size=2.5), "batch_size must be an int, got 2.5"),
    (dict(epochs=True), "epochs must be an int, got True"),
    (dict(data_shape=(64.5, 64)), r"data_shape must be a list of 2 ints \(height, width\), got \(64\.5, 64\)")])
def test_config_type_errors(kwargs, match):
    # A wrong type is a TypeError, a value out of range a ValueError (gluon_ssd.utils.checks).
    with pytest.raises(TypeError, match=match):
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


@pytest.mark.parametrize("epochs, expected", [(1, 0.1), (4, 0.4), (10, 1.0), (120, 1.0)])
def test_unset_warmup_is_one_epoch_at_most_a_tenth_of_the_run(epochs, expected):
    # min(1, epochs / 10): 1 -> 0.1, 4 -> 0.4, 10 and more -> 1.
    assert default_warmup(epochs) == pytest.approx(expected)
    assert TrainConfig(epochs=epochs, warmup_epochs=None).warmup_epochs == pytest.approx(expected)


def test_an_explicit_warmup_too_long_names_the_range_and_the_default():
    with pytest.raises(ValueError, match=r"warmup_epochs must be in \[0, epochs\) = \[0, 1\), "
                                         r"got 1.0; .*unset: 0.1 for 1 epochs"):
        TrainConfig(epochs=1, warmup_epochs=1.0)
    assert TrainConfig(epochs=2, warmup_epochs=1.5).warmup_epochs == 1.5   # given: kept


def test_steps_rounded_onto_one_update_move_to_the_next():
    from gluon_ssd.training.config import learning_rate
    # 1 epoch of 3 updates, steps at 2/3 and 5/6 of it: round(2.0) = 2 and round(2.5) = 2 ->
    # the second moves to update 3. MXNet counts updates from 1: update 2 (iteration 1) still
    # runs at lr, then /10 after update 2, /100 after update 3.
    config = TrainConfig(epochs=1, lr=1.0, lr_schedule="step", lr_steps=(0.67, 0.83),
                         warmup_epochs=None)
    rates = [learning_rate(config, i, 3) for i in range(4)]
    assert rates == pytest.approx([1.0, 1.0, 0.1, 0.01])

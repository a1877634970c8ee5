"""TrainConfig's warm-up default adapts to the run's length."""
import pytest

from gluon_ssd.training import TrainConfig
from gluon_ssd.training.config import default_warmup


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

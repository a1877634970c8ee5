"""What a training run is given: :class:`TrainConfig` (validated) and its learning-rate schedule."""
import dataclasses
import numbers
from dataclasses import dataclass
from typing import Optional, Tuple

import mxnet as mx

from ..data.transforms import AUGMENTATIONS
from ..utils.checks import is_finite_number

__all__ = ["TrainConfig", "TRAIN_FIELDS", "check_field_type", "default_warmup", "lr_scheduler",
           "learning_rate", "SCHEDULES", "OPTIMIZERS", "VAL_METRICS"]

SCHEDULES = ("constant", "step", "cosine")
OPTIMIZERS = ("sgd", "adam")
NEVER = 2 ** 31 - 1  # the largest update count MXNet's schedulers take (int32)
VAL_METRICS = {"voc07": "val_voc07_map", "coco": "val_coco_map"}
"""Validation metric -> the log column ``best.params`` is chosen by."""


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`fit` (validated on construction).

    ``batch_size`` is the global batch: split over the devices in ``ctx`` and over the workers of a
    distributed kvstore. ``lr_steps`` are epochs (for ``lr_schedule='step'``). ``data_shape`` is
    the network input ``(height, width)``. ``warmup_epochs`` of linear warm-up; None (the
    command line's default) is :func:`default_warmup`: one epoch, shortened for short runs, so
    ``epochs=1`` works. ``num_workers`` data loading workers: processes, or
    threads with ``thread_pool`` (cheap on a few cores: decoding and resizing release the GIL, and
    loading then overlaps the training step). ``val_metric``: ``'voc07'`` (VOC07 11-point mAP)
    or ``'coco'`` (COCO AP 0.50:0.95; needs a COCODataset to validate on).
    """
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    optimizer: str = "adam"
    lr_schedule: str = "cosine"
    lr_steps: Tuple[float, ...] = ()
    warmup_epochs: Optional[float] = 0.0
    momentum: float = 0.9
    wd: float = 5e-4
    data_shape: Tuple[int, int] = (300, 300)
    augment: str = "flip"
    seed: int = 0
    val_every: int = 1
    keep_checkpoints: int = 2
    num_workers: int = 0
    thread_pool: bool = False
    val_metric: str = "voc07"

    def __post_init__(self):
        for f in dataclasses.fields(self):
            if not (f.name == "warmup_epochs" and self.warmup_epochs is None):  # None: default
                check_field_type(f.name, getattr(self, f.name))
        self.lr_steps = tuple(self.lr_steps)
        self.data_shape = tuple(int(s) for s in self.data_shape)
        for name in ("epochs", "batch_size", "val_every", "keep_checkpoints"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {self.lr_schedule!r}")
        if self.lr_schedule == "step" and not self.lr_steps:
            raise ValueError("lr_schedule='step' needs lr_steps (epochs where lr is divided by 10)")
        if any(b <= a for a, b in zip(self.lr_steps, self.lr_steps[1:])):
            raise ValueError(f"lr_steps must increase, got {self.lr_steps}")
        if self.warmup_epochs is None:
            self.warmup_epochs = default_warmup(self.epochs)
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(f"warmup_epochs must be in [0, epochs) = [0, {self.epochs}), got "
                             f"{self.warmup_epochs}; lower it (or leave it unset: "
                             f"{default_warmup(self.epochs):g} for {self.epochs} epochs)")
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {self.augment!r}")
        if len(self.data_shape) != 2 or min(self.data_shape) < 1:
            raise ValueError(f"data_shape must be (height, width), got {self.data_shape}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")
        if self.val_metric not in VAL_METRICS:
            raise ValueError(f"val_metric must be one of {tuple(VAL_METRICS)}, got "
                             f"{self.val_metric!r}")

    def to_dict(self):
        return dataclasses.asdict(self)


def default_warmup(epochs):
    """Warm-up epochs when none are given: one (the paper recipe's), at most a tenth of the run.

    A run of 10 epochs or more warms up for one epoch; a shorter one for ``epochs / 10`` (0.1 of
    the single epoch of ``epochs=1``), so the warm-up never takes the run.
    """
    return min(1.0, epochs / 10)


TRAIN_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))
"""The field names of :class:`TrainConfig`."""


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_field_type(name, value):
    """Check that ``value`` has the type of the :class:`TrainConfig` field ``name``.

    The type is the default's: int (not a bool), finite number, str, bool, or a list of finite
    numbers (``lr_steps``) / ints (``data_shape``). Runs before any comparison or conversion, so
    that a config file's ``[1]`` or ``1e309`` reads as a wrong value, never as a ``TypeError`` or
    ``OverflowError`` from inside.

    Raises
    ------
    ValueError
        ``'NAME must be KIND, got VALUE'``.
    """
    kind = type(next(f.default for f in dataclasses.fields(TrainConfig) if f.name == name))
    if kind is tuple:
        check = _is_int if name == "data_shape" else is_finite_number
        ok = isinstance(value, (list, tuple)) and all(check(v) for v in value)
        expected = f"a list of {'ints' if name == 'data_shape' else 'finite numbers'}"
    elif kind is int:
        ok, expected = _is_int(value), "an int"
    elif kind is float:
        ok, expected = is_finite_number(value), "a finite number"
    else:
        ok, expected = isinstance(value, kind), f"a {kind.__name__}"
    if not ok:
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def lr_scheduler(config, iters_per_epoch):
    """``config``'s schedule as one of MXNet's own LRSchedulers, in updates.

    Linear warm-up over ``round(warmup_epochs * iters_per_epoch)`` updates, then constant, x0.1
    after each of ``lr_steps`` (epochs) or cosine to 0 at the last update. The optimizer owns it:
    it is pickled with the optimizer into checkpoints and to the parameter servers of a
    distributed store, which is why it is an MXNet class (the servers can unpickle it) and why
    the rate is a function of the update count only.
    """
    warmup = int(round(config.warmup_epochs * iters_per_epoch))
    common = dict(base_lr=config.lr, warmup_steps=warmup, warmup_begin_lr=0.0)
    if config.lr_schedule == "cosine":
        return mx.lr_scheduler.CosineScheduler(max(config.epochs * iters_per_epoch, warmup + 1),
                                               final_lr=0.0, **common)
    if config.lr_schedule == "step":
        steps = [int(round(s * iters_per_epoch)) for s in config.lr_steps]
        # A short run (few updates an epoch) can round two steps onto one update: each later
        # one moves to the next update, so every division by 10 still happens, in order.
        for k in range(1, len(steps)):
            steps[k] = max(steps[k], steps[k - 1] + 1)
        if steps[0] < 1 or steps[0] <= warmup:
            raise ValueError(f"lr_steps {config.lr_steps} must fall after the warm-up "
                             f"({config.warmup_epochs} epochs; {iters_per_epoch} updates per "
                             f"epoch)")
        return mx.lr_scheduler.MultiFactorScheduler(steps, factor=0.1, **common)
    # Constant after the warm-up: MXNet has no constant scheduler with warm-up; a FactorScheduler
    # whose factor is 1 never changes the rate (its step, the largest int32, is never reached).
    return mx.lr_scheduler.FactorScheduler(step=NEVER, factor=1.0, **common)


def learning_rate(config, iteration, iters_per_epoch):
    """The learning rate of update ``iteration`` (0-based) of a run with ``config``.

    Read off :func:`lr_scheduler` (MXNet counts updates from 1), so it is what the optimizer uses.
    """
    return lr_scheduler(config, iters_per_epoch)(iteration + 1)

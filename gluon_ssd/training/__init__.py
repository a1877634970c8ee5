"""Training: :func:`fit` (the epoch loop, schedules, validation), checkpoints, the loss and its
targets, signals and the distributed watchdog.

Names load on first use: ``python -m gluon_ssd.training.watchdog`` must start its heartbeat
before MXNet is imported.
"""
from ..utils.lazy import lazy_exports

_EXPORTS = {
    "TrainConfig": ".config", "fit": ".loop", "learning_rate": ".config",
    "lr_scheduler": ".config",
    "load_checkpoint": ".checkpoint", "load_trained": ".checkpoint",
    "CheckpointWriteError": ".checkpoint",
    "TrainingDiverged": ".errors", "TrainingInterrupted": ".errors",
    "SSDTargets": ".targets", "SSDMultiBoxLoss": ".loss",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

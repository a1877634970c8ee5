"""How a training run stops short: interrupted by a signal, or diverged.

The command-line runner (:func:`gluon_ssd.cli.run`) maps them to exit codes; they live apart from
the training loop so that it can do so without importing the loop.
"""
import signal

__all__ = ["TrainingInterrupted", "TrainingDiverged"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the last good checkpoint."""


class TrainingInterrupted(RuntimeError):
    """SIGINT / SIGTERM stopped the run after a batch; a checkpoint was written (by rank 0).

    ``exit_code`` is ``128 + signum`` (130 for Ctrl-C, 143 for SIGTERM), what a shell reports for
    a process ended by that signal.
    """

    def __init__(self, signum, checkpoint, out_dir, rank=0):
        self.signum, self.checkpoint, self.exit_code = signum, checkpoint, 128 + signum
        name = signal.Signals(signum).name
        if rank == 0:
            what = f"checkpoint {checkpoint} written" if checkpoint else "no epoch finished"
            super().__init__(f"stopped by {name}: {what}; continue with --resume (same --out "
                             f"{out_dir})")
        else:
            super().__init__(f"stopped by {name} (worker {rank}; rank 0 writes the checkpoints)")

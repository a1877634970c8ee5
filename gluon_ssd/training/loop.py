"""The SSD training loop: targets, loss, schedule, devices, kvstore, checkpoints, logs.

:func:`fit` trains a :class:`~gluon_ssd.SSD` on a detection dataset, one epoch at a time:

- **Data**: each epoch's order is a permutation drawn from ``seed + epoch``; augmentation uses
  numpy's generator seeded the same way, so a resumed run sees the data a run without a stop sees.
  With a distributed kvstore, worker ``r`` of ``n`` takes slice ``r`` of each global batch.
- **Step**: the batch is split over ``ctx``; forward in train mode, targets from the anchors the
  network made (:class:`~gluon_ssd.training.targets.SSDTargets`), :class:`~gluon_ssd.training.loss.SSDMultiBoxLoss`
  (per-image normalisation: split batches give the same gradient), ``trainer.step(global batch)``.
- **Schedule**: learning rate per update: linear warm-up, then constant, step (x0.1 at
  ``lr_steps``) or cosine to 0 (:func:`lr_scheduler`, an MXNet LRScheduler owned by the optimizer,
  so it runs wherever the optimizer runs: here, or on the parameter servers of ``dist_sync``); a
  function of the update count only, so ``--resume`` continues it.
- **Checkpoints** after every epoch, each file written to a temporary name and renamed:
  ``epoch-NNNN.params`` (weights), ``epoch-NNNN.states`` (optimizer), then ``latest.json``
  (epoch, file names and sha256, config, history). ``latest.json`` is replaced last, so a kill at
  any moment leaves the previous complete checkpoint as "latest".
- **Divergence**: a NaN/inf loss stops the run with :class:`TrainingDiverged`, naming the last
  good checkpoint; nothing is written for the broken epoch.
- **Validation** every ``val_every`` epochs and after the last one (VOC07 mAP, or COCO AP with
  ``val_metric='coco'`` on a :class:`~gluon_ssd.data.COCODataset`). The weights of the best
  validation score so far are also kept as ``best.params``, described by ``best.json`` (epoch,
  metric, score, sha256), both written atomically after the epoch's checkpoint; a resumed run
  continues from the score in ``best.json``.
- **Logs**: ``log.csv`` (one row per epoch: losses, learning rate, images/s of the training step and
  of the data pipeline, validation mAP) and ``training.png`` (curves), tqdm progress bars.
"""
import csv
import json
import os
import warnings
from dataclasses import dataclass

import mxnet as mx
import numpy as np
from mxnet import gluon

from .errors import TrainingInterrupted
from .checkpoint import (LATEST, CheckpointWriteError, check_layers, check_states_owner, keep_best,
                         load_checkpoint, load_trained, read_best, save_checkpoint)
from ..evaluation import evaluate
from ..utils.fileio import atomic_write
from ..weights.store import load_weights
from .steps import (ORDER_PRIME, EpochProgress, StopOnSignal, TrainStep,
                    seed_all, train_epoch)
from ..data.transforms import batchify, train_transform
from .errors import TrainingDiverged  # noqa: F401  (part of the training API)
from .config import VAL_METRICS, TrainConfig, learning_rate, lr_scheduler  # noqa: F401
from .watchdog import Watchdog, nodes_dir

__all__ = ["TrainConfig", "fit", "TrainingDiverged", "TrainingInterrupted", "load_checkpoint",
           "load_trained", "learning_rate", "lr_scheduler", "CheckpointWriteError"]

class _EpochSampler(gluon.data.Sampler):
    """Indices of this worker's share of each global batch, in an order fixed by seed + epoch."""

    def __init__(self, length, batch_size, seed, rank=0, num_ranks=1):
        if length < batch_size:
            raise ValueError(f"the dataset has {length} items, fewer than one batch of "
                             f"{batch_size}")
        self._length, self._batch, self._seed = length, batch_size, seed
        self._rank, self._ranks = rank, num_ranks
        self.epoch = 0

    def __iter__(self):
        order = np.random.RandomState(self._seed + ORDER_PRIME * self.epoch).permutation(self._length)
        local = self._batch // self._ranks
        for start in range(0, len(self) * self._ranks, self._batch):
            yield from order[start + self._rank * local:start + (self._rank + 1) * local].tolist()

    def __len__(self):
        # Whole global batches only (static shapes); this worker's share of them.
        return (self._length // self._batch) * (self._batch // self._ranks)


def _as_ctx_list(ctx):
    if ctx is None:
        return [mx.cpu()]
    return list(ctx) if isinstance(ctx, (list, tuple)) else [ctx]


@dataclass
class _Start:
    """Where a run starts: complete epochs' history, the epoch, batches of it already done."""
    history: list
    epoch: int = 0
    skip: int = 0
    record: dict = None
    partial: dict = None


def _resume_point(net, out_dir, config, ctx, resume, log):
    if not resume:
        return _Start([])
    record = load_checkpoint(out_dir)
    if record is None:
        log(f"resume: no checkpoint in {out_dir}, starting from scratch")
        return _Start([])
    if record["config"] != json.loads(json.dumps(config.to_dict())):
        changed = sorted(k for k, v in config.to_dict().items()
                         if json.loads(json.dumps(v)) != record["config"].get(k))
        log(f"resume: config differs from the checkpoint's in {changed}")
    check_layers(record, net, os.path.join(out_dir, LATEST), "the network being trained")
    load_weights(net, os.path.join(out_dir, record["params"]),
                 f"the weights named by {os.path.join(out_dir, LATEST)}", ctx=ctx)
    partial = record.get("partial")
    if partial:
        return _Start(record["history"], partial["epoch"], partial["batch"], record, partial)
    return _Start(record["history"], record["epoch"] + 1, 0, record)


def _make_trainer(net, config, kv, iters_per_epoch, start, out_dir, resume, trust_states, log):
    # The schedule belongs to the optimizer (see lr_scheduler): under a distributed store the
    # parameter servers run the optimizer (MXNet's default), and it goes into the checkpoints.
    opt_params = {"learning_rate": config.lr, "wd": config.wd,
                  "lr_scheduler": lr_scheduler(config, iters_per_epoch),
                  "begin_num_update": start.epoch * iters_per_epoch + start.skip}
    if config.optimizer == "sgd":
        opt_params["momentum"] = config.momentum
    # A list keeps the network's own (structural) order: given a dict, MXNet's Trainer sorts by
    # full name, and names carry global counters (ssdextralayer9_ vs ssdextralayer10_), so the
    # optimizer states of a net built second in a process would land on other parameters.
    trainer = gluon.Trainer(list(net.collect_params().values()), config.optimizer, opt_params,
                            kvstore=kv)
    record = start.record
    if record is None:
        return trainer
    states = record["states"] and os.path.join(out_dir, record["states"])
    if states and resume != "weights":
        if not trust_states:
            check_states_owner(states)
        trainer.load_states(states)
    how = ("" if states and resume != "weights" else
           " (weights only: fresh optimizer moments" + ("" if states else ", distributed run") + ")")
    where = f"batch {start.skip} of epoch {start.epoch + 1}" if start.partial else \
        f"epoch {record['epoch'] + 1}"
    log(f"resume: continuing after {where} from {record['params']}{how}")
    return trainer


def _start_watchdog(kv, out_dir, node_timeout):
    """A :class:`~gluon_ssd.training.watchdog.Watchdog` for a distributed worker, else None."""
    if isinstance(kv, str) or "dist" not in kv.type:
        return None
    folder = nodes_dir(os.path.join(out_dir, ".nodes"))
    return Watchdog("worker", folder, node_timeout, rank=kv.rank).start()


def fit(net, train_dataset, config, out_dir, val_dataset=None, ctx=None, kvstore="local",
        resume=False, progress=True, log=print, on_epoch_end=None, trust_states=False,
        node_timeout=None):
    """Train ``net`` on ``train_dataset``; see the module docstring for what happens when.

    Parameters
    ----------
    net : SSD
        The detector; parameters not yet initialised get ``mx.init.Xavier()`` (after seeding with
        ``config.seed``), initialised ones (e.g. a pretrained backbone) are kept.
    train_dataset, val_dataset : Dataset
        Items ``(image (H, W, 3) uint8 NDArray, label (M, >=5))``, rows ``[x1, y1, x2, y2,
        class_id, ...]`` in image pixels (e.g. :class:`gluon_ssd.data.VOCDataset`).
    config : TrainConfig or dict
    out_dir : str
        Checkpoints, ``log.csv``, ``training.png``.
    ctx : Context or list of Context, default CPU
        Devices the batch is split over.
    kvstore : str or KVStore
        ``'local'``, ``'device'`` or ``'dist_sync'`` (launched with MXNet's tracker / ``DMLC_*``
        environment; every worker runs this function, rank 0 writes the files; a lost node stops
        the others, see :mod:`gluon_ssd.training.watchdog`).
    resume : bool or 'weights'
        Continue from ``out_dir/latest.json``: same schedule, data order and optimizer state
        (``True``), or weights and schedule with fresh optimizer moments (``'weights'``: loads no
        pickle, see :mod:`gluon_ssd.training.checkpoint`).
    on_epoch_end : callable, optional
        Called with the epoch's log row (dict) after its checkpoint is written.
    trust_states : bool
        Unpickle optimizer states that another user wrote (refused by default).
    node_timeout : float, optional
        Seconds before a lost ``dist_sync`` node stops this worker (``$GLUON_SSD_NODE_TIMEOUT``).

    Returns
    -------
    list of dict: one row per epoch (what ``log.csv`` holds).

    Raises
    ------
    TrainingDiverged
        NaN / inf loss; nothing written for the broken epoch.
    TrainingInterrupted
        SIGINT / SIGTERM: the run stopped after its current batch with a checkpoint written.
    CheckpointWriteError
        A checkpoint could not be written (e.g. disk full); the previous one is intact.
    """
    config, ctx = _checked(config, train_dataset, resume, ctx)
    kv, rank, num_ranks = _kvstore(kvstore, config, ctx)
    if rank == 0:  # the writer
        os.makedirs(out_dir, exist_ok=True)
    _prepare_net(net, config, ctx)
    sampler, loader, iters_per_epoch = _make_loader(net, train_dataset, config, rank, num_ranks)
    start = _resume_point(net, out_dir, config, ctx, resume, log)
    trainer = _make_trainer(net, config, kv, iters_per_epoch, start, out_dir, resume,
                            trust_states, log)
    run = _Run(net, trainer, config, out_dir, rank, list(start.history),
               save_states=isinstance(kv, str) or "dist" not in kv.type,
               best=read_best(out_dir) if start.record is not None else None)
    step = TrainStep(net, trainer, ctx, config.batch_size)
    watchdog = _start_watchdog(kv, out_dir, node_timeout)
    try:
        with StopOnSignal() as stop:
            for epoch in range(start.epoch, config.epochs):
                row = train_epoch(step, loader, sampler, config, epoch, iters_per_epoch,
                                  lambda i: learning_rate(config, i, iters_per_epoch),
                                  start.partial if epoch == start.epoch else None, stop,
                                  watchdog, progress and rank == 0, run.last_good)
                if isinstance(row, EpochProgress):  # stopped by a signal inside the epoch
                    raise TrainingInterrupted(stop.signum, run.save(epoch - 1, row.record()),
                                              out_dir, rank)
                if val_dataset is not None and ((epoch + 1) % config.val_every == 0
                                                or epoch + 1 == config.epochs):
                    row.update(_validate(net, val_dataset, config, ctx[0], progress and rank == 0))
                run.end_epoch(epoch, row, on_epoch_end, log)
                if stop.signum is not None and epoch + 1 < config.epochs:
                    raise TrainingInterrupted(stop.signum, run.last_good, out_dir, rank)
    finally:
        if watchdog is not None:
            watchdog.stop()
    return run.history


def _checked(config, train_dataset, resume, ctx):
    """``(TrainConfig, list of Context)`` after the checks that need no network."""
    if isinstance(config, dict):
        config = TrainConfig(**config)
    if getattr(train_dataset, "use_crowd", False):
        raise ValueError("train_dataset keeps crowd boxes (COCODataset(use_crowd=True)), which "
                         "would become training targets; train on use_crowd=False")
    if resume not in (False, True, "weights"):
        raise ValueError(f"resume must be False, True or 'weights', got {resume!r}")
    return config, _as_ctx_list(ctx)


def _kvstore(kvstore, config, ctx):
    """``(kvstore, rank, number of ranks)``: the distributed workers (1 without a dist store).

    A distributed store is created here, for this worker's rank; a local one is left to the
    Trainer (which can then rebuild it when a parameter is reset).
    """
    kv = mx.kv.create(kvstore) if isinstance(kvstore, str) and "dist" in kvstore else kvstore
    rank, num_ranks = (0, 1) if isinstance(kv, str) else (kv.rank, kv.num_workers)
    if config.batch_size % (num_ranks * len(ctx)):
        raise ValueError(f"batch_size {config.batch_size} must split evenly over {num_ranks} "
                         f"worker(s) x {len(ctx)} device(s)")
    return kv, rank, num_ranks


def _prepare_net(net, config, ctx):
    """Seeded Xavier init of what is not initialised yet, on ``ctx``, hybridized statically."""
    seed_all(config.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "already initialized" for a pretrained backbone
        net.collect_params().initialize(mx.init.Xavier(), ctx=ctx)
    net.collect_params().reset_ctx(ctx)
    net.hybridize(static_alloc=True, static_shape=True)


def _make_loader(net, train_dataset, config, rank, num_ranks):
    """``(sampler, loader, updates per epoch)``: this worker's share of each global batch."""
    sampler = _EpochSampler(len(train_dataset), config.batch_size, config.seed, rank, num_ranks)
    transform = train_transform(config.data_shape, net.mean, net.std, config.augment)
    loader = gluon.data.DataLoader(
        train_dataset.transform(transform), batch_size=config.batch_size // num_ranks,
        sampler=sampler, batchify_fn=batchify(), last_batch="discard",
        num_workers=config.num_workers, thread_pool=config.thread_pool)
    return sampler, loader, len(train_dataset) // config.batch_size


class _Run:
    """What one run writes: the history, checkpoints, the best weights, the log (rank 0 only).

    A worker cannot save the servers' optimizer states (``save_states=False``): distributed
    checkpoints hold the weights, and a resumed distributed run restarts the optimizer's moments
    (the schedule continues from ``begin_num_update``).
    """

    def __init__(self, net, trainer, config, out_dir, rank, history, save_states, best):
        self.net, self.trainer, self.config, self.out_dir = net, trainer, config, out_dir
        self.writer, self.history, self.best = rank == 0, history, best
        self.save_states = save_states
        self.last_good = None if not history else \
            os.path.join(out_dir, f"epoch-{len(history) - 1:04d}.params")

    def save(self, epoch, partial=None):
        """A checkpoint after ``epoch`` (or inside the next one): its weights' path, or None."""
        if not self.writer:
            return None
        return save_checkpoint(self.net, self.trainer if self.save_states else None,
                               self.config, self.out_dir, epoch, self.history, partial)

    def end_epoch(self, epoch, row, on_epoch_end, log):
        """Record ``row``; checkpoint, best weights and log files; then tell the caller."""
        self.history.append(row)
        if self.writer:
            self.last_good = self.save(epoch)
            self.best = keep_best(self.net, self.out_dir, epoch,
                                  VAL_METRICS[self.config.val_metric], row, self.best)
            _write_log(self.out_dir, self.history)
        if on_epoch_end is not None:
            on_epoch_end(row)
        log(", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                      for k, v in row.items()))


def _validate(net, val_dataset, config, ctx, progress):
    """The validation columns of an epoch's log row (``VAL_METRICS[config.val_metric]`` first)."""
    if config.val_metric == "coco":
        result = evaluate(net, val_dataset, config.data_shape, batch_size=config.batch_size,
                          ctx=ctx, progress=progress, metric="coco")
        return {"val_coco_map": result["coco"]["AP"], "val_coco_map50": result["coco"]["AP50"]}
    result = evaluate(net, val_dataset, config.data_shape, batch_size=config.batch_size, ctx=ctx,
                      progress=progress)
    return {"val_voc07_map": result["voc07_map"]}


def _write_log(out_dir, history):
    columns = []
    for row in history:
        columns += [k for k in row if k not in columns]

    def write_csv(path):
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=columns)
            w.writeheader()
            w.writerows(history)

    atomic_write(os.path.join(out_dir, "log.csv"), write_csv)
    # A pyplot-free Figure: writing the plot must not switch the caller's backend (a notebook's).
    from matplotlib.figure import Figure

    from .. import viz
    curves = [k for k in ("epoch", "loss", "cls_loss", "box_loss", "val_voc07_map", "val_coco_map")
              if k in columns]
    ax, _ = viz.plot_training_log({k: [row.get(k) for row in history] for k in curves},
                                  ax=Figure(figsize=(7, 4.5)).add_subplot())
    ax.set_title("training loss and validation "
                 + ("COCO AP" if "val_coco_map" in columns else "VOC07 mAP"))
    viz.save_figure(ax.figure, os.path.join(out_dir, "training.png"))

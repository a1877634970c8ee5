"""Training checkpoints: what a run folder holds, written so that nothing is ever lost.

A run folder holds, after each epoch (all via :func:`gluon_ssd.utils.fileio.atomic_write`):

- ``epoch-NNNN.params``: weights (``net.save_parameters``);
- ``epoch-NNNN.states``: optimizer states (``Trainer.save_states``; none for ``dist_sync``, whose
  optimizer runs on the parameter servers);
- ``latest.json``: the record (epoch, file names and sha256, configs, classes, the network's
  LayerSpecs, history), replaced last, so a kill at any moment leaves the previous complete
  checkpoint as "latest".

A run stopped by SIGTERM / SIGINT writes ``interrupted.params|states`` and a record with a
``partial`` entry (the epoch it was in and the batches done): ``--resume`` continues from that
batch. The next full checkpoint removes them.

Safety of what a record names: a record may only name plain files inside its folder (no path
separator, no ``..``, not absolute, no symlink), so a crafted ``latest.json`` cannot make us read
(or unpickle) a file elsewhere. Optimizer states are **pickles**: MXNet's
``Trainer.load_states`` unpickles them, and unpickling runs code a file's author chose. They are
loaded only when the file belongs to the user running the process; otherwise resuming needs
``resume="weights"`` (weights and schedule, fresh optimizer moments) or ``trust_states=True``.
"""
import dataclasses
import os

from ..data.classes import check_class_names
from ..model.config import SSDConfig
from ..model.ssd import LayerSpec, check_saved_layers
from ..utils.checks import is_finite_number
from ..utils.fileio import (atomic_write, atomic_write_json, contained_path, file_digest,
                            read_json)
from ..weights.store import load_weights
from ..zoo import build_ssd
from .config import TRAIN_FIELDS, check_field_type

__all__ = ["LATEST", "load_trained", "CheckpointWriteError", "load_checkpoint", "save_checkpoint",
           "check_layers", "check_states_owner", "read_best", "keep_best"]

LATEST = "latest.json"
BEST = "best.json"
INTERRUPTED = "interrupted"


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (disk full, read-only folder); the previous one stands."""


def _is_int(value, minimum):
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_partial(value):
    return value is None or isinstance(value, dict) and _is_int(value.get("epoch"), 0) \
        and _is_int(value.get("batch"), 0)


# What each record field must be: (check, description). A record is refused (ValueError naming
# the file and the field) before any of its values is used.
_LATEST_FIELDS = {
    "epoch": (lambda v: _is_int(v, -1), "an int >= -1"),
    "params": (lambda v: isinstance(v, str), "a file name"),
    "states": (lambda v: v is None or isinstance(v, str), "a file name or null"),
    "config": (lambda v: isinstance(v, dict) and "data_shape" in v,
               "a mapping of TrainConfig fields with data_shape"),
    "history": (lambda v: isinstance(v, list) and all(isinstance(r, dict) for r in v),
                "a list of log rows (mappings)"),
    "partial": (_is_partial, "null or a mapping with ints epoch >= 0 and batch >= 0"),
    "classes": (lambda v: isinstance(v, list), "a list of class names"),
    "model_name": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "ssd_config": (lambda v: isinstance(v, dict), "a mapping of SSDConfig fields"),
    "layers": (lambda v: v is None or isinstance(v, list), "a list of layer records or null"),
}
_LATEST_REQUIRED = ("epoch", "params", "states", "config", "history")
_BEST_FIELDS = {
    "epoch": (lambda v: _is_int(v, 0), "an int >= 0"),
    "metric": (lambda v: isinstance(v, str), "a log column name"),
    "score": (is_finite_number, "a finite number"),
    "params": (lambda v: isinstance(v, str), "a file name"),
}


def _check_fields(record, path, fields, required, what):
    """``record`` as read from ``path``, if it has the ``required`` fields and each of ``fields``
    it has passes its check; else ValueError naming the file and the field."""
    if not isinstance(record, dict) or any(k not in record for k in required):
        raise ValueError(f"{path} is not a gluon_ssd {what} (needs {', '.join(required)})")
    for name, (check, description) in fields.items():
        if name in record and not check(record[name]):
            raise ValueError(f"{path}: {name} must be {description}, got {record[name]!r}")
    return record


def _check_latest(record, path):
    """Every field of a ``latest.json`` record, down to the SSDConfig, classes and layers."""
    _check_fields(record, path, _LATEST_FIELDS, _LATEST_REQUIRED, "checkpoint record")
    try:
        for name, value in record["config"].items():
            if name in TRAIN_FIELDS:
                check_field_type(name, value)
        if "classes" in record:
            check_class_names(record["classes"])
        if "ssd_config" in record:
            SSDConfig.from_dict(record["ssd_config"])
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: {err}") from None
    for k, layer in enumerate(record.get("layers") or ()):
        LayerSpec.from_dict(layer, f"{path}: layers[{k}]")
    return record


def load_checkpoint(out_dir):
    """The ``latest.json`` record of ``out_dir`` with its files verified, or None if there is none.

    Raises
    ------
    ValueError
        ``latest.json`` is not valid JSON, lacks a field or has one of the wrong type (see
        ``_LATEST_FIELDS``; its ``config``, ``classes``, ``ssd_config`` and ``layers`` are
        checked as TrainConfig types, a class list, an SSDConfig and LayerSpecs); it names a file
        outside ``out_dir`` (a path, ``..``, a symlink); a named file is missing or its sha256
        differs. The message names the file.
    """
    latest = os.path.join(out_dir, LATEST)
    if not os.path.exists(latest):
        return None
    record = _check_latest(read_json(latest), latest)
    for key in ("params", "states"):
        if record[key] is None:  # the states of a distributed run
            continue
        path = contained_path(out_dir, record[key], f"{latest} entry {key!r} =")
        if not os.path.isfile(path):
            raise ValueError(f"checkpoint file {path} named by {latest} is missing")
        if file_digest(path) != record.get(f"{key}_sha256"):
            raise ValueError(f"checkpoint file {path} does not match the sha256 in {latest} "
                             f"(truncated or altered)")
    return record


def check_layers(record, net, path, against="the network"):
    """Check the LayerSpecs a record saved against ``net.layers``.

    Parameters
    ----------
    record : dict
        A ``latest.json`` record (:func:`load_checkpoint`); one written before records carried
        ``layers`` passes unchecked.
    net : SSD
        The network the record's weights are about to be loaded into.
    path : str
        The record's file, for the message.
    against : str
        What ``net`` is, for the message (``'the network rebuilt from its ssd_config'``).

    Raises
    ------
    ValueError
        A malformed ``layers`` entry, or one that differs from ``net.layers``: the message names
        ``path``, the layer and the first differing field (channels, stride, step, map size at
        the base size, anchors per location).
    """
    if record.get("layers") is not None:
        check_saved_layers(record["layers"], net.layers, path, against)


def check_states_owner(path):
    """Refuse to unpickle optimizer states that another user wrote.

    Raises
    ------
    ValueError
        ``path`` belongs to another user than the one running this process; says how to resume
        without unpickling it.
    """
    owner = os.stat(path).st_uid
    if hasattr(os, "geteuid") and owner != os.geteuid():
        raise ValueError(
            f"refusing to load optimizer states {path}: the file belongs to uid {owner}, not to "
            f"this process's user (uid {os.geteuid()}), and MXNet unpickles it, which can run "
            f"code its author chose. Resume weights only (--resume-weights-only, "
            f"fit(resume='weights')) or, if you trust its author, trust_states=True")


def _remove_quietly(paths):
    for path in paths:
        if path and os.path.exists(path):
            os.remove(path)


def save_checkpoint(net, trainer, config, out_dir, epoch, history, partial=None):
    """Write weights, optimizer states (unless ``trainer`` is None), then ``latest.json``.

    Parameters
    ----------
    net : SSD
        Saved with ``save_parameters``; its ``classes``, ``model_name``, ``config`` (an
        :class:`~gluon_ssd.SSDConfig`) and ``layers`` (its LayerSpecs, checked on reload by
        :func:`check_layers`) go into the record, so any architecture reloads.
    trainer : mxnet.gluon.Trainer or None
    config : TrainConfig
    out_dir : str
    epoch : int
        The last complete epoch (0-based; -1 when interrupted inside the first one).
    history : list of dict
        The log rows of the complete epochs.
    partial : dict, optional
        For a run interrupted inside epoch ``epoch + 1``: ``{"epoch", "batch", ...}`` (written to
        ``interrupted.*`` files; the epoch files are left as they are).

    Returns
    -------
    str
        The path of the weights written.

    Raises
    ------
    CheckpointWriteError
        A file could not be written (e.g. the disk is full); nothing the previous ``latest.json``
        names was touched, and no file of the failed checkpoint is left behind.
    """
    stem = INTERRUPTED if partial is not None else f"epoch-{epoch:04d}"
    params, states = f"{stem}.params", None if trainer is None else f"{stem}.states"
    paths = [os.path.join(out_dir, params), states and os.path.join(out_dir, states)]
    try:
        atomic_write(paths[0], net.save_parameters)
        if states:
            atomic_write(paths[1], trainer.save_states)
        record = {"epoch": epoch, "params": params, "states": states,
                  "params_sha256": file_digest(paths[0]),
                  "states_sha256": states and file_digest(paths[1]),
                  "config": config.to_dict(), "history": history, "partial": partial,
                  "classes": list(net.classes), "model_name": getattr(net, "model_name", None),
                  "ssd_config": dataclasses.asdict(net.config),
                  "layers": [spec.to_dict() for spec in net.layers]}
        atomic_write_json(record, os.path.join(out_dir, LATEST))
    except OSError as err:
        _remove_quietly(paths)
        previous = os.path.join(out_dir, LATEST)
        kept = f"{previous} still names the previous checkpoint" if os.path.exists(previous) \
            else "no earlier checkpoint exists"
        raise CheckpointWriteError(
            f"could not write the checkpoint of epoch {epoch + 1} in {out_dir}: "
            f"{err.strerror or err}; {kept}. Free space or choose another --out, then "
            f"--resume") from err
    if partial is None:
        _prune(out_dir, epoch, config.keep_checkpoints)
    return paths[0]


def read_best(out_dir):
    """The ``best.json`` record of ``out_dir`` (epoch, metric, score, params), or None.

    Raises
    ------
    ValueError
        Not valid JSON, a field missing or of the wrong type; the message names the file.
    """
    path = os.path.join(out_dir, BEST)
    if not os.path.exists(path):
        return None
    advice = "; delete it to start the best-score record afresh"
    record = read_json(path, advice)
    try:
        return _check_fields(record, path, _BEST_FIELDS, tuple(_BEST_FIELDS), "best-score record")
    except ValueError as err:
        raise ValueError(f"{err}{advice}") from None


def keep_best(net, out_dir, epoch, key, row, best):
    """Write ``best.params`` / ``best.json`` when ``row[key]`` beats ``best``; the best record.

    ``best.params`` holds the weights of the epoch with the highest validation score ``key`` (a
    log column such as ``val_voc07_map``); the record (epoch, metric, score, sha256) is written
    after it, both atomically.
    """
    score = row.get(key)
    if score is None or (best is not None and best.get("metric") == key
                         and score <= best["score"]):
        return best
    path = os.path.join(out_dir, "best.params")
    atomic_write(path, net.save_parameters)
    best = {"epoch": epoch, "metric": key, "score": score, "params": "best.params",
            "params_sha256": file_digest(path)}
    atomic_write_json(best, os.path.join(out_dir, BEST))
    return best


def _prune(out_dir, epoch, keep):
    """Remove interrupted files and epoch files older than the ``keep`` newest."""
    _remove_quietly(os.path.join(out_dir, f"{INTERRUPTED}.{ext}") for ext in ("params", "states"))
    for old in range(epoch - keep, -1, -1):
        stale = [os.path.join(out_dir, f"epoch-{old:04d}.{ext}") for ext in ("params", "states")]
        if not any(os.path.exists(p) for p in stale):
            break
        _remove_quietly(stale)


def load_trained(out_dir, ctx=None):
    """The detector of a training run's latest checkpoint: ``(net, record)``.

    The architecture is rebuilt from the ``ssd_config`` and ``classes`` saved in ``latest.json``
    (so custom configs work too) and checked against the LayerSpecs the record saved (a
    ``ValueError`` naming the first differing field; records from before they were saved pass),
    then the verified weights are loaded (a file that does not fit the architecture is a
    ``ValueError`` naming the first parameter that differs).
    """
    record = load_checkpoint(out_dir)
    if record is None:
        raise ValueError(f"no checkpoint (latest.json) in {out_dir}")
    if "ssd_config" not in record or "classes" not in record:
        raise ValueError(f"{os.path.join(out_dir, LATEST)} has no ssd_config and classes to "
                         "rebuild the network from")
    net = build_ssd(SSDConfig.from_dict(record["ssd_config"]), record["classes"],
                    model_name=record.get("model_name"))
    check_layers(record, net, os.path.join(out_dir, LATEST),
                 "the network rebuilt from its ssd_config")
    load_weights(net, os.path.join(out_dir, record["params"]),
                 f"the weights named by {os.path.join(out_dir, LATEST)}", ctx=ctx)
    return net, record

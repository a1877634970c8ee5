"""Where gluon_ssd's own trained weights live: a model store like MXNet's model_zoo.

Files sit in a root folder (default ``$MXNET_HOME/models``) named ``{name}-{sha1[:8]}.params`` and are
checked against the registered sha1 before loading. gluon_ssd publishes no weights of its own, so
the table starts empty; :func:`register` adds an entry (weights you trained and want to load by
name with ``get_model(name, pretrained=True)``, which then prefers them). GluonCV's published SSD
weights are obtained through GluonCV's own store instead: see :mod:`gluon_ssd.weights.published`.
"""
import os

import mxnet as mx

from ..utils.fileio import file_digest

__all__ = ["get_model_file", "register", "published", "sha1_of", "default_root",
           "load_params_file", "load_weights"]

# name -> sha1 of the published .params file. Empty: no weights have been published.
_MODEL_SHA1 = {}


def default_root():
    """str: ``$MXNET_HOME/models``, MXNet's own model store folder."""
    return os.path.join(mx.base.data_dir(), "models")


def sha1_of(path):
    """Hex sha1 of a file (the model store's checksum)."""
    return file_digest(path, "sha1")


def load_params_file(path, expected):
    """``{name: NDArray}`` from an MXNet ``.params`` file, or a clear error naming the file.

    Parameters
    ----------
    path : str
        The file.
    expected : str
        What the file should be, for the messages (e.g. ``'a GluonCV SSD checkpoint'``).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        The file is truncated, corrupt, not a params file, or holds no named parameters.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no params file at {path} (expected {expected})")
    try:
        loaded = mx.nd.load(path)
    except mx.base.MXNetError as err:
        raise ValueError(f"cannot read {path} as MXNet parameters (truncated, corrupt or not a "
                         f"params file): {str(err).splitlines()[0]}") from err
    if not isinstance(loaded, dict) or not loaded:
        raise ValueError(f"{path} holds no named parameters; expected {expected}")
    return loaded


def load_weights(net, path, expected, ctx=None):
    """Load a ``save_parameters`` file into ``net`` after checking that it fits.

    Every parameter of ``net`` must be in the file with the same shape (dimensions not yet known,
    0 in a deferred shape, match anything), and the file must hold nothing else: so a file of
    another architecture or class count is refused naming the first parameter that differs,
    before anything is loaded.

    Parameters
    ----------
    net : mxnet.gluon.Block
    path : str
        A ``.params`` file written by ``net.save_parameters``.
    expected : str
        What the file should be, for the messages (e.g. ``'the weights of run/latest.json'``).
    ctx : Context or list of Context, optional
        Where the weights go; default CPU.

    Raises
    ------
    FileNotFoundError, ValueError
        From :func:`load_params_file`; ``ValueError`` naming the file and the first missing,
        unexpected or differently shaped parameter (both shapes).
    """
    loaded = load_params_file(path, expected)
    # save_parameters strips MXNet's "arg:" / "aux:" prefixes only for Block files: both forms.
    loaded = {k.split(":", 1)[1] if k.startswith(("arg:", "aux:")) else k: v
              for k, v in loaded.items()}
    params = net._collect_params_with_prefix()
    for name, param in params.items():
        if name not in loaded:
            raise ValueError(f"{path} does not fit this model ({expected}): parameter {name!r} "
                             f"{param.shape} is missing from the file")
        saved = loaded[name].shape
        if len(saved) != len(param.shape) or any(
                p not in (0, s) for p, s in zip(param.shape, saved)):
            raise ValueError(f"{path} does not fit this model ({expected}): parameter {name!r} "
                             f"is {param.shape} in the model, {saved} in the file (another "
                             f"architecture or class count?)")
    extra = sorted(set(loaded) - set(params))
    if extra:
        raise ValueError(f"{path} does not fit this model ({expected}): the file holds "
                         f"{len(extra)} parameters the model lacks, e.g. {extra[0]!r}")
    net.load_parameters(path, ctx=ctx or mx.cpu())
    return net


def published():
    """sorted list of str: model names that have weights in the store's table."""
    return sorted(_MODEL_SHA1)


def register(name, sha1):
    """Record the sha1 of the weights file for ``name`` (file ``{name}-{sha1[:8]}.params``)."""
    if len(sha1) != 40 or any(c not in "0123456789abcdef" for c in sha1.lower()):
        raise ValueError(f"sha1 must be 40 hex digits, got {sha1!r}")
    _MODEL_SHA1[name] = sha1.lower()


def get_model_file(name, root=None):
    """Path of the verified weights file of model ``name``.

    Parameters
    ----------
    name : str
        Model name, e.g. ``'ssd_300_vgg16_atrous_voc'``.
    root : str, optional
        Store folder; default :func:`default_root`.

    Raises
    ------
    ValueError
        No weights are published for ``name``, the file is missing, or its sha1 does not match
        (a truncated or altered file is never loaded).
    """
    if name not in _MODEL_SHA1:
        raise ValueError(
            f"no published weights for {name!r} (models with weights: {published() or 'none'}). "
            f"Use pretrained=False and train it, or convert GluonCV weights with "
            f"gluon_ssd.weights.convert.from_gluoncv")
    sha1 = _MODEL_SHA1[name]
    root = os.path.expanduser(root if root is not None else default_root())
    path = os.path.join(root, f"{name}-{sha1[:8]}.params")
    if not os.path.exists(path):
        raise ValueError(f"weights for {name!r} not found: expected {path}")
    actual = sha1_of(path)
    if actual != sha1:
        raise ValueError(f"{path} is corrupt or altered: sha1 {actual}, expected {sha1}")
    return path

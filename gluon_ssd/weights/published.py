"""Detector weights for :func:`gluon_ssd.zoo.get_model`: GluonCV's published SSDs, or a file.

GluonCV publishes trained SSD weights for some of the architectures gluon_ssd's zoo reproduces
(same layers, same anchors): :data:`GLUONCV_WEIGHTS`. ``get_model(name, pretrained=True)`` obtains
such a file through GluonCV's own model store, ``gluoncv.model_zoo.model_store.get_model_file``:
its folder (``root``, default ``~/.mxnet/models``; ``$MXNET_HOME/models`` when MXNET_HOME is set,
which GluonCV lets override ``root``), its file name ``{name}-{sha1[:8]}.params``, its sha1 check
and its download when the file is missing or altered. The file is then converted structurally by
:func:`gluon_ssd.weights.convert.load_gluoncv_params`.

GluonCV's other SSD weights are not listed: ``ssd_300_resnet34_v1b_coco`` is on a GluonCV-only
backbone, ``ssd_512_resnet101_v2_voc`` taps ResNet-101 inside stage 3 where gluon_ssd taps the
stage's end (a different network), ``ssd_300_mobilenet1.0_lite_coco`` has 1x1 predictors, and the
int8 variants are quantized graphs, not parameters.

``pretrained='path/to/file.params'`` loads a file the user has: a GluonCV SSD checkpoint (GluonCV's
``save_parameters``), converted, or a gluon_ssd one (``net.save_parameters``), loaded as it is.
"""
import os
import zipfile

import mxnet as mx
from gluoncv.model_zoo import model_store as gluoncv_store

from . import store as model_store
from .convert import load_gluoncv_params

__all__ = ["GLUONCV_WEIGHTS", "gluoncv_weights_file", "load_weights_file", "names_with_weights"]

# Zoo names whose GluonCV counterpart publishes weights of the same architecture (GluonCV 0.10's
# model_store table); the names are GluonCV's own.
GLUONCV_WEIGHTS = ("ssd_300_vgg16_atrous_voc", "ssd_300_vgg16_atrous_coco",
                   "ssd_512_vgg16_atrous_voc", "ssd_512_vgg16_atrous_coco",
                   "ssd_512_resnet50_v1_voc", "ssd_512_resnet50_v1_coco",
                   "ssd_512_mobilenet1.0_voc", "ssd_512_mobilenet1.0_coco")

# What the file of an own (gluon_ssd) checkpoint holds that a GluonCV one cannot: our head blocks.
_OWN_KEY_PREFIX = "heads."


def names_with_weights():
    """sorted list of str: zoo names ``get_model(name, pretrained=True)`` can load."""
    return sorted(set(GLUONCV_WEIGHTS) | set(model_store.published()))


def gluoncv_weights_file(name, root=None):
    """Path of GluonCV's published weights of ``name``, verified by GluonCV's model store.

    Parameters
    ----------
    name : str
        One of :data:`GLUONCV_WEIGHTS`.
    root : str, optional
        The store folder; default :func:`gluon_ssd.weights.store.default_root`
        (``$MXNET_HOME/models``). GluonCV uses ``$MXNET_HOME/models`` whenever MXNET_HOME is set.

    Returns
    -------
    str
        The ``.params`` file, its sha1 checked by GluonCV (downloaded by GluonCV if missing).

    Raises
    ------
    ValueError
        ``name`` has no GluonCV weights, or the file could not be obtained (offline, truncated):
        the message says which file to put where.
    """
    store = gluoncv_store
    if name not in GLUONCV_WEIGHTS or name not in store._model_sha1:  # pylint: disable=protected-access
        raise ValueError(f"GluonCV publishes no weights gluon_ssd can load for {name!r}; "
                         f"names with weights: {names_with_weights()}")
    sha1 = store._model_sha1[name]  # pylint: disable=protected-access
    root = os.path.expanduser(root if root is not None else model_store.default_root())
    if "MXNET_HOME" in os.environ:  # as gluoncv's get_model_file does
        root = os.path.join(os.environ["MXNET_HOME"], "models")
    expected = os.path.join(root, f"{name}-{sha1[:8]}.params")
    found = (f"the file there has sha1 {model_store.sha1_of(expected)}"
             if os.path.isfile(expected) else "no file is there")
    try:
        return store.get_model_file(name, root=root)
    except (OSError, RuntimeError, ValueError, UserWarning, zipfile.BadZipFile) as err:
        raise ValueError(
            f"cannot obtain GluonCV's weights of {name!r} ({type(err).__name__}: {err}). "
            f"GluonCV's model store expects {expected} with sha1 {sha1} ({found}). On a machine "
            f"without internet, download it elsewhere (python -c \"import gluoncv; "
            f"gluoncv.model_zoo.get_model('{name}', pretrained=True)\" puts it in "
            f"~/.mxnet/models) and copy it to {expected}, or pass root=<its folder>") from err


def _is_own_checkpoint(path):
    return any(key.startswith(_OWN_KEY_PREFIX)
               for key in model_store.load_params_file(path, "an SSD .params file"))


def load_weights_file(net, path, ctx=None):
    """Load the weights of the file at ``path`` into ``net``, a zoo SSD of the file's architecture.

    Parameters
    ----------
    net : SSD
        Built by :func:`gluon_ssd.zoo.get_model` with ``pretrained=False``.
    path : str
        A GluonCV SSD checkpoint (converted with :func:`gluon_ssd.weights.convert.load_gluoncv_params`)
        or a gluon_ssd one (written by ``net.save_parameters``).
    ctx : mxnet.Context, optional
        Where the parameters live; default CPU.

    Returns
    -------
    SSD
        ``net`` with the file's weights.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        The file does not fit the architecture (naming the file and the mismatch).
    """
    ctx = ctx if ctx is not None else mx.cpu()
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"pretrained={path!r}: no such file. pretrained takes True (published weights: "
            f"{names_with_weights()}) or the path of a .params file (GluonCV's version tags are "
            f"not supported)")
    if not _is_own_checkpoint(path):
        return load_gluoncv_params(net, path, ctx=ctx)
    try:
        net.load_parameters(path, ctx=ctx)
    except (AssertionError, mx.base.MXNetError) as err:  # MXNet's own loader reports by assert
        raise ValueError(f"{path} does not fit {net.model_name}: {str(err).splitlines()[0]}") from err
    return net

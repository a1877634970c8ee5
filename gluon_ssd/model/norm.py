"""Choose the normalization layer of a built network: GluonCV's ``norm_layer`` / ``norm_kwargs``.

GluonCV's SSD builders take ``norm_layer`` (``gluon.nn.BatchNorm``, or
``gluon.contrib.nn.SyncBatchNorm`` with ``norm_kwargs={'num_devices': n}`` for multi-device
training, as ``scripts/detection/ssd/train_ssd.py`` passes them) and hand it to the backbone
constructor. Gluon's own model_zoo networks, on which gluon_ssd builds, take no such argument, so
here the choice is applied to the network after it is built: every ``nn.BatchNorm`` of the tree
(backbone, extra layers, SSDLite heads) is replaced by a ``norm_layer`` block with the same
settings, the same prefix and the SAME parameters (shared, not copied), so pretrained backbone
weights, parameter names and saved checkpoints are unchanged. A network without BatchNorm (VGG)
is left as it is, as GluonCV ignores ``norm_layer`` for VGG.
"""
from mxnet.gluon import nn

__all__ = ["use_norm_layer"]


def _check(norm_layer, norm_kwargs):
    if not isinstance(norm_layer, type) or not issubclass(norm_layer, nn.BatchNorm):
        raise TypeError(
            f"norm_layer must be mxnet.gluon.nn.BatchNorm or a subclass of it such as "
            f"mxnet.gluon.contrib.nn.SyncBatchNorm, got {norm_layer!r}")
    if not isinstance(norm_kwargs, dict):
        raise TypeError(f"norm_kwargs must be a dict (e.g. {{'num_devices': 2}} for "
                        f"SyncBatchNorm), got {type(norm_kwargs).__name__}")
    reserved = sorted(set(norm_kwargs) & {"in_channels", "prefix", "params", "epsilon", "momentum",
                                          "center", "scale", "use_global_stats", "axis"})
    if reserved:
        raise ValueError(f"norm_kwargs sets {reserved}: those are taken from each replaced layer; "
                         f"pass only the norm_layer's own options (e.g. num_devices)")


def _replacement(old, norm_layer, norm_kwargs):
    """A ``norm_layer`` block computing what ``old`` (an ``nn.BatchNorm``) computes."""
    settings = old._kwargs  # pylint: disable=protected-access
    if settings["axis"] != 1:
        raise ValueError(f"{old.name}: BatchNorm over axis {settings['axis']}; norm_layer "
                         f"replacement supports channel axis 1 (NCHW) only")
    options = dict(in_channels=old.gamma.shape[0], epsilon=settings["eps"],
                   momentum=settings["momentum"], center=old.beta.grad_req != "null",
                   scale=not settings["fix_gamma"],
                   use_global_stats=settings["use_global_stats"])
    # Built outside any name scope: the prefix is used as given, and `params` shares old's.
    return norm_layer(prefix=old.prefix, params=old.params, **options, **norm_kwargs)


def use_norm_layer(block, norm_layer=nn.BatchNorm, norm_kwargs=None):
    """Make every ``nn.BatchNorm`` of ``block``'s tree a ``norm_layer``, in place.

    Parameters
    ----------
    block : mxnet.gluon.Block
        The network (an :class:`gluon_ssd.SSD`, a backbone, ...).
    norm_layer : type, default ``mxnet.gluon.nn.BatchNorm``
        ``nn.BatchNorm`` or a subclass (``mxnet.gluon.contrib.nn.SyncBatchNorm``). With plain
        ``nn.BatchNorm`` and no ``norm_kwargs`` nothing changes.
    norm_kwargs : dict, optional
        Extra arguments of ``norm_layer``, e.g. ``{'num_devices': 2}``; epsilon, momentum,
        channels, center/scale and use_global_stats come from each replaced layer.

    Returns
    -------
    int
        The number of layers replaced (0 for a network without BatchNorm, e.g. VGG).

    Raises
    ------
    TypeError
        ``norm_layer`` is not a BatchNorm class, or ``norm_kwargs`` not a dict.
    ValueError
        ``norm_kwargs`` overrides a per-layer setting.
    """
    norm_layer = nn.BatchNorm if norm_layer is None else norm_layer
    norm_kwargs = {} if norm_kwargs is None else norm_kwargs
    _check(norm_layer, norm_kwargs)
    if norm_layer is nn.BatchNorm and not norm_kwargs:
        return 0
    done = {}  # id(old) -> (old, new): a layer registered in two containers is replaced once

    def visit(parent):
        for key, child in list(parent._children.items()):  # pylint: disable=protected-access
            if type(child) is not nn.BatchNorm:  # pylint: disable=unidiomatic-typecheck
                visit(child)
                continue
            if id(child) not in done:
                done[id(child)] = (child, _replacement(child, norm_layer, norm_kwargs))
            new = done[id(child)][1]
            parent._children[key] = new  # pylint: disable=protected-access
            for attr, value in list(vars(parent).items()):
                if value is child:  # e.g. ResNetV2's `self.bn1`, called by attribute
                    object.__setattr__(parent, attr, new)
        if hasattr(parent, "_clear_cached_op"):
            parent._clear_cached_op()  # pylint: disable=protected-access

    visit(block)
    return len(done)

"""Load GluonCV SSD checkpoints (``net.save_parameters`` files) into gluon_ssd's SSD.

The mapping is structural, never by GluonCV's auto-generated layer names (``resnetv10_stage3_conv5``,
``mobilenet0_conv12``, ``stages.3.4``):

* A checkpoint key is ``<part>.<path>``, ``part`` being one of GluonCV SSD's attributes
  (``features``, ``class_predictors``, ``box_predictors``, ``anchor_generators``). Inside a part, the
  tensors are grouped into layers by stripping the parameter suffix (``weight``, ``bias``, ``gamma``,
  ``beta``, ``running_mean`` / ``moving_mean``, ...), layers kept in file order, which is GluonCV's
  execution order (a SymbolBlock saves its arguments in topological order, then its auxiliary
  states).
* A layer is a convolution (a 4-d ``weight``, optional ``bias``), a BatchNorm (``gamma``, ``beta``,
  running mean and variance) or an L2 normalization (``scale``). Within a part, the i-th convolution
  goes to our i-th convolution and the i-th BatchNorm to our i-th BatchNorm; ``features`` covers our
  backbone then our extra layers, in order. Shapes are checked (our unknown input channels are taken
  from the file).
* GluonCV's VGG atrous base multiplies its input by a constant ``init_scale`` (ImageNet std * 255)
  before conv1_1; ours has no such step, so the scale is folded into conv1_1's weight (exact:
  ``conv(x * s) == conv'(x)`` with ``W'[:, c] = W[:, c] * s[c]``, zero padding being unchanged).
* GluonCV's extra layers use raw ``mx.sym.BatchNorm`` with ``fix_gamma=True``: their stored gamma
  is ignored by GluonCV, so ours is set to 1.
* Anchors are constants computed from the config; the checkpoint's anchor tensors are only checked
  for the number of anchors per location.

Every tensor of the file must be used exactly once and every learnable parameter (and BatchNorm
statistic) of our net must be set; otherwise a ``ValueError`` names the file and the mismatch.
"""
import re
from collections import OrderedDict

import mxnet as mx
from mxnet.gluon import nn
from mxnet.gluon.parameter import Constant

from ..blocks.anchors import SSDAnchorGenerator
from ..blocks.extras import SSDExtraLayer
from ..blocks.l2norm import L2Normalization
from .store import load_params_file

__all__ = ["load_gluoncv_params", "read_gluoncv_params"]

_PARTS = ("features", "class_predictors", "box_predictors", "anchor_generators")
_SUFFIX_RE = re.compile(r"^(?:(?P<layer>.*?)[._])?(?P<kind>weight|bias|gamma|beta|running_mean|"
                        r"running_var|moving_mean|moving_var|scale|anchors)$")
# GluonCV's VGG atrous base: the input scale applied before conv1_1 (its attribute name).
_INPUT_SCALE = "init_scale"
# Raw mx.sym.BatchNorm names its statistics moving_*, Gluon's nn.BatchNorm running_*.
_ALIASES = {"moving_mean": "running_mean", "moving_var": "running_var"}
_BN_KEYS = ("gamma", "beta", "running_mean", "running_var")


class _Layer:
    """One GluonCV layer of a checkpoint: its kind and ``{param: (key, NDArray)}``."""

    def __init__(self, name):
        self.name = name
        self.tensors = OrderedDict()

    @property
    def kind(self):
        keys = set(self.tensors)
        if keys == {"weight"} or keys == {"weight", "bias"}:
            return "conv" if self.tensors["weight"][1].ndim == 4 else "dense"
        if keys == set(_BN_KEYS):
            return "batchnorm"
        if keys == {"scale"}:
            return "l2norm"
        if keys == {"anchors"}:
            return "anchors"
        return f"unknown layer with {sorted(keys)}"


def read_gluoncv_params(params_file):
    """Group a GluonCV SSD checkpoint's tensors into layers, per part of the SSD, in file order.

    Parameters
    ----------
    params_file : str
        A file written by a GluonCV SSD's ``save_parameters``.

    Returns
    -------
    dict of str to list of _Layer
        ``'features'``: backbone, L2 normalizations and extra layers; ``'input_scale'``: the VGG
        base's ``init_scale`` (zero or one layer); ``'class_predictors.k'`` /
        ``'box_predictors.k'`` / ``'anchor_generators.k'``: the k-th prediction layer's.

    Raises
    ------
    ValueError
        If the file cannot be read or holds a key that is not a GluonCV SSD parameter.
    """
    parts = OrderedDict()
    for key, value in load_params_file(
            params_file, "a GluonCV SSD checkpoint written by net.save_parameters").items():
        part, _, rest = key.partition(".")
        if part not in _PARTS or not rest:
            raise ValueError(f"{params_file}: {key!r} is not a GluonCV SSD parameter (expected keys "
                             f"under {', '.join(_PARTS)}); is this a GluonCV SSD checkpoint?")
        if part != "features":
            index, _, rest = rest.partition(".")
            if not index.isdigit():
                raise ValueError(f"{params_file}: {key!r} has no prediction-layer index")
            part = f"{part}.{int(index)}"
        if part == "features" and (rest == _INPUT_SCALE or rest.endswith("." + _INPUT_SCALE)):
            part, layer_name, kind = "input_scale", rest, "scale"
        else:
            match = _SUFFIX_RE.match(rest)
            if match is None:
                raise ValueError(f"{params_file}: cannot tell what kind of parameter {key!r} is")
            layer_name, kind = match.group("layer") or "", match.group("kind")
        kind = _ALIASES.get(kind, kind)
        layers = parts.setdefault(part, OrderedDict())
        layer = layers.setdefault(layer_name, _Layer(layer_name))
        if kind in layer.tensors:
            raise ValueError(f"{params_file}: {key!r} repeats the {kind} of layer {layer_name!r}")
        layer.tensors[kind] = (key, value)
    return {part: list(layers.values()) for part, layers in parts.items()}


def _leaves(block):
    """Our blocks that hold parameters, in registration (= execution, for these nets) order."""
    if block.params.keys():
        yield block
    for child in block._children.values():  # pylint: disable=protected-access
        yield from _leaves(child)


def _our_kind(block):
    if isinstance(block, nn.Conv2D):
        return "conv"
    if isinstance(block, nn.BatchNorm):
        return "batchnorm"
    if isinstance(block, L2Normalization):
        return "l2norm"
    if isinstance(block, SSDAnchorGenerator):
        return "anchors"
    return f"unsupported {type(block).__name__}"


class _Plan:
    """The (parameter, value) assignments of a conversion, checked before anything is written."""

    def __init__(self, params_file):
        self.file = params_file
        self.values = OrderedDict()  # our Parameter -> NDArray
        self.used = set()           # checkpoint keys consumed

    def error(self, what):
        return ValueError(f"{self.file} does not fit this SSD: {what}")

    def use(self, key):
        if key in self.used:
            raise self.error(f"{key!r} would be used twice")
        self.used.add(key)

    def set(self, param, value, source):
        ours = tuple(param.shape)
        if len(ours) != value.ndim or any(o not in (0, v) for o, v in zip(ours, value.shape)):
            raise self.error(f"{source} has shape {value.shape}, our {param.name} needs "
                             f"{ours} (0 = any): wrong architecture or class count?")
        if param in self.values:
            raise self.error(f"our {param.name} would be set twice")
        self.values[param] = value

    def match(self, theirs, ours, where):
        """Pair GluonCV layers with our blocks kind by kind, in order."""
        kinds = sorted({l.kind for l in theirs} | {_our_kind(b) for b in ours})
        pairs = []
        for kind in kinds:
            src = [l for l in theirs if l.kind == kind]
            dst = [b for b in ours if _our_kind(b) == kind]
            if kind not in ("conv", "batchnorm", "l2norm") or len(src) != len(dst):
                raise self.error(f"{where}: the file has {len(src)} {kind} layers, our SSD has "
                                 f"{len(dst)}")
            pairs += list(zip(src, dst))
        return pairs

    def copy(self, layer, block, fixed_gamma=False):
        """Plan ``block``'s parameters from ``layer``'s tensors."""
        own = {name[len(block.prefix):]: p for name, p in block.params.items()}
        if set(own) != set(layer.tensors):
            raise self.error(f"{layer.name!r} has {sorted(layer.tensors)}, our {block.name} has "
                             f"{sorted(own)} (a bias where there is none, or the reverse)")
        for kind, (key, value) in layer.tensors.items():
            self.use(key)
            if kind == "gamma" and fixed_gamma:
                # raw sym.BatchNorm, fix_gamma=True: GluonCV computes with gamma = 1
                value = mx.nd.ones(value.shape, dtype=value.dtype)
            self.set(own[kind], value, repr(key))


def _plan(net, parts, params_file):
    plan = _Plan(params_file)
    features = parts.pop("features", [])
    scales = [l for l in features if l.kind == "l2norm"]
    features = [l for l in features if l.kind != "l2norm"]
    backbone = list(_leaves(net.features))
    extras = [b for extra in net.extras for b in _leaves(extra)]
    fixed_gamma = {b for extra in net.extras if isinstance(extra, SSDExtraLayer)
                   for b in _leaves(extra) if isinstance(b, nn.BatchNorm)}
    for layer, block in plan.match(features, backbone + extras, "backbone + extra layers"):
        plan.copy(layer, block, fixed_gamma=block in fixed_gamma)
    for layer, block in plan.match(scales, list(net.norms), "L2 normalizations"):
        plan.copy(layer, block)

    input_scale = parts.pop("input_scale", [])
    if input_scale:
        (key, scale), = input_scale[0].tensors.values()
        first = backbone[0] if backbone else None
        if not isinstance(first, nn.Conv2D) or plan.values[first.weight].shape[1] != scale.size:
            raise plan.error(f"{key!r} scales a {scale.size}-channel input, but our first backbone "
                             f"layer is not a convolution with that many input channels")
        plan.use(key)
        # GluonCV: conv1_1(x * s); ours: conv1_1'(x) with the scale folded into the weight.
        weight = plan.values[first.weight]
        plan.values[first.weight] = weight * scale.reshape((1, -1, 1, 1)).astype(weight.dtype)

    num_layers = len(net.heads)
    for name, attr in (("class_predictors", "cls_pred"), ("box_predictors", "box_pred")):
        found = sorted(int(p.split(".")[1]) for p in parts if p.startswith(name + "."))
        if found != list(range(num_layers)):
            raise plan.error(f"{name}: the file has prediction layers {found}, our SSD has "
                             f"{num_layers} ({list(range(num_layers))})")
        for k, head in enumerate(net.heads):
            for layer, block in plan.match(parts.pop(f"{name}.{k}"),
                                           list(_leaves(getattr(head, attr))), f"{name}.{k}"):
                plan.copy(layer, block)

    for k, gen in enumerate(net.anchor_generators):
        layers = parts.pop(f"anchor_generators.{k}", [])
        if len(layers) != 1 or layers[0].kind != "anchors":
            raise plan.error(f"anchor_generators.{k}: expected one anchors tensor")
        key, anchors = layers[0].tensors["anchors"]
        if anchors.shape[-1] != 4 * gen.num_anchors:
            raise plan.error(f"{key!r} holds {anchors.shape[-1] // 4} anchors per location, ours "
                             f"{gen.num_anchors}")
        plan.use(key)  # checked only: our anchors are computed from the config
    if parts:
        raise plan.error(f"unused parts {sorted(parts)} (more prediction layers than ours?)")
    return plan


def load_gluoncv_params(net, params_file, ctx=None):
    """Set every parameter of ``net`` from a GluonCV SSD checkpoint of the same architecture.

    Parameters
    ----------
    net : SSD
        A network built by :func:`gluon_ssd.zoo.get_model` with ``pretrained=False``, with the
        architecture of the GluonCV network that wrote the file (e.g. ``ssd_300_vgg16_atrous_voc``).
    params_file : str
        A file written by GluonCV's ``net.save_parameters`` (``gluoncv.model_zoo.get_model(name)``
        network, published weights included). Nothing is downloaded.
    ctx : mxnet.Context, optional
        Where the parameters live; default CPU.

    Returns
    -------
    SSD
        ``net``, every learnable parameter and BatchNorm statistic set from the file; on the same
        input (GluonCV's normalized RGB) it computes what GluonCV's network computes.

    Raises
    ------
    FileNotFoundError
        If ``params_file`` does not exist.
    ValueError
        Naming the file: it cannot be read (truncated, corrupt), or it does not fit the
        architecture (layer counts, shapes, class count), or a tensor of it would be unused or used
        twice, or a parameter of ours would stay unset.
    """
    ctx = ctx if ctx is not None else mx.cpu()
    parts = read_gluoncv_params(params_file)
    everything = {key for layers in parts.values() for layer in layers
                  for key, _ in layer.tensors.values()}
    plan = _plan(net, parts, params_file)
    if everything - plan.used:
        raise plan.error(f"unused tensors {sorted(everything - plan.used)}")
    ours = [p for p in net.collect_params().values() if not isinstance(p, Constant)]
    unset = [p.name for p in ours if p not in plan.values]
    if unset:
        raise plan.error(f"our parameters {unset} get no value")

    net.initialize(ctx=ctx)  # the anchor constants; the rest is overwritten below
    for param, value in plan.values.items():
        param.shape = value.shape  # fills our unknown (0) input channels
        param.initialize(ctx=ctx, force_reinit=True)
        param.set_data(value.astype(param.dtype))
    return net

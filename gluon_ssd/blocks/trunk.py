"""The trunk of a backbone: the blocks every input passes through, in order, with computed shapes.

A Gluon model_zoo backbone keeps its layers in ``net.features``, a tree of ``HybridSequential``
containers whose leaves are layers (``Conv2D``, ``BatchNorm``, ...) or residual units
(``BottleneckV1``, ``LinearBottleneck``, ...). Its *trunk* is that tree flattened in execution
order: each trunk point is the output of one leaf block, and every later point is computed from it
alone. Running the leaves ``0..i`` one after the other therefore gives exactly point ``i``, which is
what :class:`gluon_ssd.FeatureExtractor` does.

A block is flattened into its children when running those children in order *is* its whole forward
pass. That is true of every ``HybridSequential`` that keeps its forward; for any other block it is
checked on the network itself, by comparing the symbolic graph of the block with the graph of its
children chained: MobileNetV2's ``LinearBottleneck`` without a shortcut passes (so the expansion
inside it is a trunk point), a ResNet unit with its skip connection does not (so a unit is one
point, its output), nor does a ``HybridConcurrent`` (a ``HybridSequential`` subclass that
concatenates its children's outputs): an Inception block, a DenseNet layer or the expand part of a
SqueezeNet fire module is one point, its concatenation.

Channels and strides come from symbolic shape inference (no forward pass, no weights needed) at
three probe sides the network accepts. A point's stride is its *nominal* output stride: the power of
two that ``input / output`` rounds to, which must agree at every probe and with the slope of the
output size between the smallest and largest probe. Padded networks (ResNet, MobileNet, VGG) give
exact powers of two; networks with valid (unpadded) convolutions (Inception-v3, SqueezeNet,
AlexNet) give maps a few pixels smaller, e.g. Inception-v3's 299 -> 35 -> 17 -> 8 at strides
8, 16, 32. The real map sizes are always taken from shape inference at the size asked for; the
nominal stride only names the point. The first ``Dense``, ``Flatten`` or ``Dropout`` leaf (model_zoo
puts Dropout only in front of a classifier: SqueezeNet's features end with one), the first point whose
size does not follow the input, or the first point reduced to 1x1 at the network's own classifier
input side (a global pooling sized to the classifier's map, like DenseNet's 7x7 average pool at 224
or Inception-v3's 8x8 at 299) ends the spatial trunk.

Shape-inference failures never escape as raw ``MXNetError``: they become ``ValueError`` naming the
network, the first layer that refuses the size, and the size.
"""
import json
import math
from dataclasses import dataclass, field
from typing import Tuple

import mxnet as mx
from mxnet.gluon import HybridBlock, nn

__all__ = ["TrunkPoint", "trace_trunk", "infer_shapes", "count_params", "count_trunk_params",
           "classifier_side", "first_refusal", "nominal_stride", "probe_sides"]

# The smallest probe side tried first; probes are it, 1.5x and 2x it: multiples of 256, so every
# stride up to 256 of a padded network is exact. Doubled until the network accepts it.
_PROBE_BASE = 512
# The largest input side any search here tries (a 4096 x 4096 image).
MAX_SIDE = 4096
# ImageNet's 224 x 224 crop, the input Gluon model_zoo classifiers are defined at; a network that
# refuses it (Inception-v3, defined at 299) is counted at the smallest side above that it accepts.
IMAGENET_SIDE = 224


@dataclass(frozen=True)
class TrunkPoint:
    """One point of a backbone's trunk: the output of one leaf block.

    Attributes
    ----------
    index : int
        Position on the trunk (0-based, execution order).
    name : str
        Name of the output in the network's own symbolic graph, with the network's prefix removed
        (e.g. ``stage3_activation22`` for the last unit of ResNet-101 v1's stage 3). These are the
        names that seed-style configs call ``from_layers``.
    path : str
        Attribute path of the leaf block in the network, e.g. ``'features.6.22'``.
    unit : Tuple[int, int]
        ``(k, n)``: the leaf is the k-th (1-based) of the n children of its parent container.
    channels : int
        Channels of the output feature map.
    stride : int
        Nominal output stride: the power of two ``input size / output size`` rounds to (exact for
        padded layers; valid convolutions make the real map a few pixels smaller).
    probe_side : int
        An input side at which the whole trunk's shapes were inferred: one the network accepts.
    """

    index: int
    name: str
    path: str
    unit: Tuple[int, int]
    channels: int
    stride: int
    probe_side: int
    block: HybridBlock = field(repr=False, compare=False)
    symbol: mx.sym.Symbol = field(repr=False, compare=False)


def _children(block):
    return list(block._children.values())


def _graph_signature(symbol):
    """The graph of ``symbol`` as comparable data: ops, names, attributes and edges.

    The third field of an edge is a variable's version, bumped each time a graph that mutates it
    (BatchNorm's running statistics) is built; it says nothing about the graph's structure.
    """
    graph = json.loads(symbol.tojson())
    return ([(n["op"], n["name"], n.get("attrs", {}), [tuple(e[:2]) for e in n["inputs"]])
             for n in graph["nodes"]], [tuple(h[:2]) for h in graph["heads"]])


def _runs_children_in_order(block):
    """Whether ``block(x)`` builds exactly the graph of its children applied one after another."""
    children = _children(block)
    if not children:
        return False
    if isinstance(block, nn.HybridSequential) \
            and type(block).hybrid_forward is nn.HybridSequential.hybrid_forward:
        return True  # a subclass with its own forward (HybridConcurrent: concat) is compared below
    data = mx.sym.var("data")
    with mx.name.NameManager():
        whole = block(data)
    with mx.name.NameManager():
        with block.name_scope():
            chained = data
            for child in children:
                chained = child(chained)
    return (isinstance(whole, mx.sym.Symbol)
            and _graph_signature(whole) == _graph_signature(chained))


def _expand(block, path, unit, x, leaves):
    """Trace ``block`` on symbol ``x``, appending ``(block, path, unit, output)`` per leaf.

    Returns the output symbol, or ``None`` once a classifier layer (Dense, Flatten, Dropout)
    is reached.
    """
    if isinstance(block, (nn.Dense, nn.Flatten, nn.Dropout)):
        return None  # the classifier: model_zoo puts Dropout only before its Dense layers
    if _runs_children_in_order(block):
        children = _children(block)
        with block.name_scope():
            for k, child in enumerate(children):
                x = _expand(child, f"{path}.{k}", (k + 1, len(children)), x, leaves)
                if x is None:
                    return None
        return x
    out = block(x)
    leaves.append((block, path, unit, out))
    return out


def _features_of(net):
    if isinstance(getattr(net, "features", None), HybridBlock):
        return net.features, "features"
    if isinstance(net, nn.HybridSequential):
        return net, ""
    raise TypeError(
        f"expected a Gluon model_zoo network (with a `features` HybridSequential) or a "
        f"HybridSequential, got {type(net).__name__}")


def infer_shapes(symbol, data_shape):
    """``(arg_shapes, out_shapes, aux_shapes)`` of a graph whose one input is ``data``.

    Raises ``mxnet.base.MXNetError`` when a layer refuses the shape. (``Symbol.infer_shape`` prints
    a diagnostic to stdout before raising; its implementation does not.) User-facing callers turn
    that error into a ``ValueError`` with :func:`first_refusal`.
    """
    return symbol._infer_shape_impl(False, data=tuple(data_shape))


def _accepts(symbol, data_shape):
    try:
        infer_shapes(symbol, data_shape)
    except mx.base.MXNetError:
        return False
    return True


def first_refusal(symbols, data_shape):
    """The first of a chain of graphs whose shape inference fails at ``data_shape``.

    Parameters
    ----------
    symbols : sequence of mxnet.sym.Symbol
        Graphs in trunk order, each one containing the previous (so once one fails, all later fail).
    data_shape : tuple of int
        ``(B, C, H, W)``.

    Returns
    -------
    (int, str) or None
        Index of the first refusing graph and the first line of MXNet's reason; None if all pass.
    """
    if _accepts(symbols[-1], data_shape):
        return None
    lo, hi = 0, len(symbols) - 1  # symbols[hi] refuses
    while lo < hi:
        mid = (lo + hi) // 2
        if _accepts(symbols[mid], data_shape):
            lo = mid + 1
        else:
            hi = mid
    try:
        infer_shapes(symbols[lo], data_shape)
    except mx.base.MXNetError as err:
        reason = next((line.strip() for line in str(err).splitlines() if line.strip()), "")
        if "Check failed:" in reason:  # drop MXNet's operator name, time stamp and source file
            reason = reason[reason.index("Check failed:"):]
        return lo, reason
    raise AssertionError("shape inference is not monotone along the trunk")


def probe_sides(symbol):
    """Three input sides at which ``symbol`` infers shapes: ``(s, 1.5 s, 2 s)``, ``s`` from 512 up.

    Returns None if it refuses every ``s`` up to ``MAX_SIDE``.
    """
    side = _PROBE_BASE
    while not _accepts(symbol, (1, 3, side, side)):
        if side * 2 > MAX_SIDE:
            return None
        side *= 2
    return side, side * 3 // 2, side * 2


def classifier_side(net):
    """The smallest input side from 224 (ImageNet's crop) at which the whole ``net`` runs.

    224 for the model_zoo classifiers but Inception-v3, whose 8x8 average pool needs the 8x8 map
    of a 299 input (``tests/test_feature_extractor.py``). Returns None for a network refusing
    every side up to ``MAX_SIDE``.
    """
    with mx.name.NameManager():
        whole = net(mx.sym.var("data"))
    if isinstance(whole, (list, tuple)):
        whole = mx.sym.Group(list(whole))
    if _accepts(whole, (1, 3, IMAGENET_SIDE, IMAGENET_SIDE)):
        return IMAGENET_SIDE
    lo, hi = IMAGENET_SIDE + 1, MAX_SIDE
    if not _accepts(whole, (1, 3, hi, hi)):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if _accepts(whole, (1, 3, mid, mid)):
            hi = mid
        else:
            lo = mid + 1
    return lo


def nominal_stride(sides, map_sides):
    """The power-of-two output stride of a point with ``map_sides[i]`` at input ``sides[i]``.

    ``2 ** round(log2(side / map_side))`` at every probe and ``2 ** round(log2(slope))`` with
    ``slope = (sides[-1] - sides[0]) / (map_sides[-1] - map_sides[0])`` must all agree: a valid
    3x3 convolution shifts the map by a pixel without changing either. Returns None when they do
    not, or when the map does not grow with the input (a global pooling).

    >>> nominal_stride((512, 768, 1024), (14, 22, 30))  # Inception-v3's last 8x8-at-299 block
    32
    """
    if any(m < 1 for m in map_sides) or map_sides[-1] <= map_sides[0]:
        return None
    slope = (sides[-1] - sides[0]) / (map_sides[-1] - map_sides[0])
    powers = {round(math.log2(s / m)) for s, m in zip(sides, map_sides)} | {round(math.log2(slope))}
    if len(powers) != 1:
        return None
    return 2 ** max(powers.pop(), 0)


def _leaves_of(net):
    features, root = _features_of(net)
    leaves = []
    data = mx.sym.var("data")
    with mx.name.NameManager():
        if features is net:
            _expand(net, root, (1, 1), data, leaves)
        else:
            with net.name_scope():  # as net(x) would: names carry the network's prefix
                _expand(features, root, (1, 1), data, leaves)
    return leaves


def _spatial_sides(leaves, shape_lists):
    """Per leaf, its map sides at each probe, up to the first non-4-D output."""
    sides = []
    for i in range(len(leaves)):
        dims = [shapes[i] for shapes in shape_lists]
        if any(len(d) != 4 for d in dims):
            break
        sides.append([d[2] for d in dims])
    return sides


def trace_trunk(net, label=None):
    """Flatten a backbone into its spatial trunk.

    Parameters
    ----------
    net : mxnet.gluon.HybridBlock
        A Gluon model_zoo network (its ``features`` are traced) or a ``HybridSequential``.
    label : str, optional
        The network's name in error messages (default: its class name).

    Returns
    -------
    list of TrunkPoint
        The spatial trunk in execution order; strides never decrease along it.
    """
    label = label or type(net).__name__
    leaves = _leaves_of(net)
    if not leaves:
        raise ValueError(f"{label} has no layers in its features to tap")
    group = mx.sym.Group([out for _, _, _, out in leaves])
    sides = probe_sides(group)
    if sides is None:
        k, reason = first_refusal([out for _, _, _, out in leaves], (1, 3, MAX_SIDE, MAX_SIDE))
        raise ValueError(f"{label} refuses a {MAX_SIDE}x{MAX_SIDE} input at layer "
                         f"{leaves[k][3].name} ({leaves[k][1].lstrip('.')}): {reason}")
    shape_lists = [infer_shapes(group, (1, 3, side, side))[1] for side in sides]
    cls_side = classifier_side(net)
    at_classifier = (infer_shapes(group, (1, 3, cls_side, cls_side))[1]
                     if cls_side is not None else None)
    prefix = net.prefix
    points = []
    for i, map_sides in enumerate(_spatial_sides(leaves, shape_lists)):
        stride = nominal_stride(sides, map_sides)
        if stride is None:
            break  # the size no longer follows the input: global pooling ends the trunk
        if at_classifier is not None and tuple(at_classifier[i][2:]) == (1, 1):
            break  # pooled to one vector at the classifier's input: its global pooling
        block, path, unit, out = leaves[i]
        name = out.name[len(prefix):] if prefix and out.name.startswith(prefix) else out.name
        points.append(TrunkPoint(i, name, path.lstrip("."), unit, shape_lists[0][i][1], stride,
                                 sides[0], block, out))
    assert all(a.stride <= b.stride for a, b in zip(points, points[1:])), "trunk strides decrease"
    return points


def count_trunk_params(points, params):
    """Trainable parameters each trunk point needs, cumulative: one shape inference for all.

    Parameters
    ----------
    points : list of TrunkPoint
        From :func:`trace_trunk`.
    params : mxnet.gluon.ParameterDict
        The network's parameters (``net.collect_params()``).

    Returns
    -------
    list of int
        ``counts[i]``: trainable scalars of the parameters ``points[i]``'s output depends on.
    """
    if not points:
        return []
    group = mx.sym.Group([p.symbol for p in points])
    side = points[0].probe_side
    arg_shapes, _, _ = infer_shapes(group, (1, 3, side, side))
    sizes = {name: math.prod(shape) for name, shape in zip(group.list_arguments(), arg_shapes)
             if name in params and params[name].grad_req != "null"}
    return [sum(sizes.get(name, 0) for name in p.symbol.list_arguments()) for p in points]


def count_params(symbol, params, data_shape):
    """Count the elements of the trainable parameters in ``params`` that ``symbol`` uses.

    Parameters
    ----------
    symbol : mxnet.sym.Symbol
        A graph with one input called ``data``.
    params : mxnet.gluon.ParameterDict
        Parameters keyed by their graph names; those with ``grad_req='null'`` (BatchNorm running
        statistics, frozen scales) are not counted.
    data_shape : tuple of int
        Shape of ``data`` for shape inference, e.g. ``(1, 3, 224, 224)``.

    Returns
    -------
    int
        Number of trainable scalars, from inferred shapes: works before initialization.
    """
    arg_shapes, _, _ = infer_shapes(symbol, data_shape)
    shapes = dict(zip(symbol.list_arguments(), arg_shapes))
    total = 0
    for name, param in params.items():
        if name in shapes and param.grad_req != "null":
            n = 1
            for d in shapes[name]:
                n *= d
            total += n
    return total

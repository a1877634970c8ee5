"""The trunk of a backbone: the blocks every input passes through, in order, with computed shapes.

A Gluon model_zoo backbone keeps its layers in ``net.features``, a tree of ``HybridSequential``
containers whose leaves are layers (``Conv2D``, ``BatchNorm``, ...) or residual units
(``BottleneckV1``, ``LinearBottleneck``, ...). Its *trunk* is that tree flattened in execution
order: each trunk point is the output of one leaf block, and every later point is computed from it
alone. Running the leaves ``0..i`` one after the other therefore gives exactly point ``i``, which is
what :class:`gluon_ssd.FeatureExtractor` does.

A block is flattened into its children when running those children in order *is* its whole forward
pass. That is true of every ``HybridSequential``; for any other block it is checked on the network
itself, by comparing the symbolic graph of the block with the graph of its children chained:
MobileNetV2's ``LinearBottleneck`` without a shortcut passes (so the expansion inside it is a trunk
point), a ResNet unit with its skip connection does not (so a unit is one point, its output).

Channels and strides come from symbolic shape inference (no forward pass, no weights needed) at two
input sizes: the stride of a point is input size / output size and must agree at both. The first
``Dense`` or ``Flatten`` leaf, or the first point whose size does not follow the input (a global
pooling), ends the spatial trunk.
"""
import json
from dataclasses import dataclass, field
from typing import Tuple

import mxnet as mx
from mxnet.gluon import HybridBlock, nn

__all__ = ["TrunkPoint", "trace_trunk", "infer_shapes", "count_params"]

# Two input sides for shape inference; both divide by 256, so every stride up to 256 is exact.
_PROBE_SIDES = (512, 768)


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
        Output stride: input size divided by output size.
    """

    index: int
    name: str
    path: str
    unit: Tuple[int, int]
    channels: int
    stride: int
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
    if isinstance(block, nn.HybridSequential):
        return True
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

    Returns the output symbol, or ``None`` once a non-spatial layer (Dense, Flatten) is reached.
    """
    if isinstance(block, (nn.Dense, nn.Flatten)):
        return None
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


def trace_trunk(net):
    """Flatten a backbone into its spatial trunk.

    Parameters
    ----------
    net : mxnet.gluon.HybridBlock
        A Gluon model_zoo network (its ``features`` are traced) or a ``HybridSequential``.

    Returns
    -------
    list of TrunkPoint
        The spatial trunk in execution order; strides never decrease along it.
    """
    features, root = _features_of(net)
    leaves = []
    data = mx.sym.var("data")
    with mx.name.NameManager():
        if features is net:
            _expand(net, root, (1, 1), data, leaves)
        else:
            with net.name_scope():  # as net(x) would: names carry the network's prefix
                _expand(features, root, (1, 1), data, leaves)
    if not leaves:
        raise ValueError(f"{type(net).__name__} has no layers in its features to tap")

    group = mx.sym.Group([out for _, _, _, out in leaves])
    shapes = [infer_shapes(group, (1, 3, side, side))[1] for side in _PROBE_SIDES]
    prefix = net.prefix
    points = []
    for i, (block, path, unit, out) in enumerate(leaves):
        dims = [s[i] for s in shapes]
        if any(len(d) != 4 for d in dims):
            break
        strides = {side // d[2] if d[2] and side % d[2] == 0 else None
                   for side, d in zip(_PROBE_SIDES, dims)}
        stride = strides.pop()
        if strides or stride is None:
            break  # the size no longer follows the input: global pooling ends the trunk
        name = out.name[len(prefix):] if prefix and out.name.startswith(prefix) else out.name
        points.append(TrunkPoint(i, name, path.lstrip("."), unit, dims[0][1], stride, block, out))
    assert all(a.stride <= b.stride for a, b in zip(points, points[1:])), "trunk strides decrease"
    return points


def infer_shapes(symbol, data_shape):
    """``(arg_shapes, out_shapes, aux_shapes)`` of a graph whose one input is ``data``.

    Raises ``mxnet.base.MXNetError`` when a layer refuses the shape. (``Symbol.infer_shape`` prints
    a diagnostic to stdout before raising; its implementation does not.)
    """
    return symbol._infer_shape_impl(False, data=tuple(data_shape))


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

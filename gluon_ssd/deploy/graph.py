"""Inference graphs for export: tracing, preprocessing in the graph, BatchNorm folding, casts.

Everything here works on MXNet symbols and their weights; nothing is written to disk.
"""
import json

import mxnet as mx
import numpy as np
from mxnet import autograd
from mxnet.gluon import HybridBlock

__all__ = ["RawSSD", "StaticRawSSD", "HalfPrecisionSSD", "trace", "fold_batchnorm", "cast_params"]


def _preprocess_symbol(data):
    """uint8 ``(B, H, W, 3)`` RGB -> normalized float32 ``(B, 3, H, W)``, as symbols."""
    x = mx.sym.cast(data, dtype="float32")
    # (x / 255 - mean) / std == x * (1 / (255 std)) - mean / std: one multiply-add per channel.
    scale = mx.sym.var("preprocess_scale", shape=(1, 1, 1, 3))
    shift = mx.sym.var("preprocess_shift", shape=(1, 1, 1, 3))
    x = mx.sym.broadcast_add(mx.sym.broadcast_mul(x, scale), shift)
    return mx.sym.transpose(x, axes=(0, 3, 1, 2))


def _preprocess_params(mean, std):
    mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    return {"preprocess_scale": mx.nd.array((1.0 / (255.0 * std)).reshape(1, 1, 1, 3)),
            "preprocess_shift": mx.nd.array((-mean / std).reshape(1, 1, 1, 3))}


class RawSSD(HybridBlock):
    """An SSD's outputs before NMS: decoded boxes and foreground class probabilities.

    Shares ``net``'s layers and parameters (nothing is copied).

    Parameters
    ----------
    net : gluon_ssd.SSD
        The detector.

    Inputs: ``x`` ``(B, 3, H, W)`` normalized RGB.
    Outputs: ``boxes`` ``(B, N, 4)`` as ``(x1, y1, x2, y2)`` in input pixels and ``scores``
    ``(B, N, C)``, softmax probabilities without the background column: what
    ``net.decoder`` sorts, thresholds and suppresses (see :func:`postprocess_numpy`), computed
    by the decoder itself (:meth:`gluon_ssd.blocks.SSDDecoder.decode_candidates`).
    """

    def __init__(self, net, **kwargs):
        super().__init__(prefix=kwargs.pop("prefix", "raw_"), **kwargs)
        self.net = net

    def hybrid_forward(self, F, x):  # pylint: disable=arguments-differ
        return self.net.decoder.decode_candidates(F, *self.net.predictions(F, x))


class StaticRawSSD(RawSSD):
    """:class:`RawSSD` for one input size: the anchors are a constant, not built from the maps.

    The anchor generators' shape-dependent ops (arange / reshape on the feature maps' shapes)
    leave the graph; the graph then only runs at ``(H, W)`` (any batch). Small models spend a
    large share of their time in those ops, and OpenVINO cannot compile a static-shape version
    of the dynamic graph ("Can not create StaticMemory object") until they are constants.

    Parameters
    ----------
    net : gluon_ssd.SSD
        The detector (initialised).
    data_shape : (int, int)
        ``(H, W)``.
    ctx : mxnet.Context
    """

    def __init__(self, net, data_shape, ctx, **kwargs):
        super().__init__(net, **kwargs)
        with autograd.predict_mode():
            _, _, anchors = net.predictions(mx.nd, mx.nd.zeros((1, 3) + tuple(data_shape),
                                                               ctx=ctx))  # (1, N, 4)
        self.static_anchors = self.params.get_constant("static_anchors", anchors.asnumpy())
        self.static_anchors.initialize(ctx=ctx)

    def hybrid_forward(self, F, x, static_anchors):  # pylint: disable=arguments-differ
        cls_preds, box_preds, _ = self.net.predictions(F, x)
        return self.net.decoder.decode_candidates(F, cls_preds, box_preds, static_anchors)


class HalfPrecisionSSD(RawSSD):
    """The inference graph with float16 layers and a float32 decoder and anchors."""

    def hybrid_forward(self, F, x):  # pylint: disable=arguments-differ
        return self.net.decoder(*self.net.predictions(F, x, float32=True))


def trace(block, data_shape, ctx, preprocess, mean, std):
    """The inference graph of ``block`` as ``(symbol, arg_params, aux_params)``.

    A forward on zeros in predict mode first (finishes deferred shape inference, checks the size
    works); the graph is then traced from a fresh symbol, never from a cached (maybe train-mode)
    graph.
    """
    h, w = data_shape
    with autograd.predict_mode():
        block(mx.nd.zeros((1, 3, h, w), ctx=ctx))
        data = mx.sym.var("data")
        x = _preprocess_symbol(data) if preprocess else data
        out = block(x)
    sym = mx.sym.Group(list(out)) if isinstance(out, (list, tuple)) else out
    params = {p.name: p.data(ctx).copyto(mx.cpu()) for p in block.collect_params().values()}
    if preprocess:
        params.update(_preprocess_params(mean, std))
    args = {n: params[n] for n in sym.list_arguments() if n != "data"}
    aux = {n: params[n] for n in sym.list_auxiliary_states()}
    return sym, args, aux


def _count_uses(graph):
    """``{(node index, output index): number of consumers}``, graph heads included."""
    uses = {}
    for entry in [e for node in graph["nodes"] for e in node["inputs"]] + graph["heads"]:
        key = (entry[0], entry[1])
        uses[key] = uses.get(key, 0) + 1
    return uses


def _foldable_pair(i, nodes, uses, params):
    """``(conv index, conv weight names, BN weight names)`` when BatchNorm ``i`` folds, else None.

    It folds when it normalises axis 1 of a Convolution's only output (NCHW) that feeds nothing
    else, nothing reads its mean / var outputs, and every weight of both is a known variable
    feeding nothing but them.
    """
    node = nodes[i]
    if node["op"] != "BatchNorm" or node.get("attrs", {}).get("axis", "1") != "1":
        return None
    conv_idx, conv_out, _ = node["inputs"][0]
    conv = nodes[conv_idx]

    def single_use(idx):
        return uses.get((idx, 0), 0) == 1

    if (conv["op"] != "Convolution" or conv_out != 0 or not single_use(conv_idx)
            or conv.get("attrs", {}).get("layout", "NCHW") not in ("NCHW", "None")
            or uses.get((i, 1), 0) or uses.get((i, 2), 0)):
        return None
    weights = conv["inputs"][1:] + node["inputs"][1:]
    if not all(single_use(s) and nodes[s]["op"] == "null" and nodes[s]["name"] in params
               for s, _, _ in weights):
        return None
    return (conv_idx, [nodes[s]["name"] for s, _, _ in conv["inputs"][1:]],
            [nodes[s]["name"] for s, _, _ in node["inputs"][1:]])


def _fold_weights(params, conv_name, conv_params, bn_params, bn_attrs):
    """Fold one BatchNorm's weights into its conv's, in ``params`` (float64 maths).

    ``W' = W * s`` and ``b' = (b - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)`` per
    output channel (``gamma = 1`` under ``fix_gamma``); the BN's weights leave ``params``.
    Returns the name of the conv's bias when it is new (the conv had none), else None.
    """
    gamma, beta, mean, var = (params[n].asnumpy().astype(np.float64) for n in bn_params)
    if bn_attrs.get("fix_gamma", "True") == "True":
        gamma = np.ones_like(gamma)
    scale = gamma / np.sqrt(var + float(bn_attrs.get("eps", "0.001")))
    weight = params[conv_params[0]].asnumpy().astype(np.float64)
    has_bias = len(conv_params) > 1
    bias = params[conv_params[1]].asnumpy().astype(np.float64) if has_bias \
        else np.zeros_like(scale)
    dtype = params[conv_params[0]].dtype
    params[conv_params[0]] = mx.nd.array(weight * scale.reshape(-1, 1, 1, 1), dtype=dtype)
    bias_name = conv_params[1] if has_bias else f"{conv_name}_folded_bias"
    params[bias_name] = mx.nd.array((bias - mean) * scale + beta, dtype=dtype)
    for name in bn_params:
        del params[name]
    return None if has_bias else bias_name


def _drop_folded_nodes(graph, folds):
    """The graph without the folded BatchNorms and their weight variables, in place.

    ``folds``: BN node index -> ``(conv node index, new bias name or None)``. A BN's consumers
    read its conv instead; a conv given a new bias gets a variable node for it.
    """
    nodes, row_ptr = graph["nodes"], graph["node_row_ptr"]
    folded_params = {s for i in folds for s, _, _ in nodes[i]["inputs"][1:]}
    new_bias = {conv: name for conv, name in folds.values() if name}
    remap, new_nodes, outputs = {}, [], []
    for i, node in enumerate(nodes):
        if i in folds:
            remap[i] = remap[folds[i][0]]
            continue
        if i in folded_params:
            continue
        node = dict(node, inputs=[[remap[s], o, v] for s, o, v in node["inputs"]])
        if i in new_bias:
            new_nodes.append({"op": "null", "name": new_bias[i], "inputs": []})
            outputs.append(1)
            node["inputs"].append([len(new_nodes) - 1, 0, 0])
            node["attrs"] = dict(node["attrs"], no_bias="False")
        remap[i] = len(new_nodes)
        new_nodes.append(node)
        outputs.append(row_ptr[i + 1] - row_ptr[i])
    graph["nodes"] = new_nodes
    graph["heads"] = [[remap[s], o, v] for s, o, v in graph["heads"]]
    graph["arg_nodes"] = [i for i, n in enumerate(new_nodes) if n["op"] == "null"]
    graph["node_row_ptr"] = [int(v) for v in np.concatenate([[0], np.cumsum(outputs)])]


def fold_batchnorm(sym, arg_params, aux_params):
    """Fold every inference BatchNorm that directly follows a Convolution into that convolution.

    ``BN(conv(x, W) + b) = conv(x, W * s) + (b - mean) * s + beta`` with
    ``s = gamma / sqrt(var + eps)`` (``gamma = 1`` under ``fix_gamma``), per output channel,
    computed in float64. A pair is folded only when the conv output feeds nothing but the BN, the
    conv's weight (and bias) feed nothing but this conv, the layout is NCHW and BN's axis is 1.

    Parameters
    ----------
    sym : mxnet.symbol.Symbol
        Inference graph.
    arg_params, aux_params : dict of str to NDArray
        Its weights (not modified).

    Returns
    -------
    (Symbol, dict, dict, int)
        The new graph, weights, auxiliary states and the number of BatchNorms folded.
    """
    graph = json.loads(sym.tojson())
    nodes, uses = graph["nodes"], _count_uses(graph)
    params = dict(arg_params)
    params.update(aux_params)
    folds = {}  # BN node index -> (conv node index, name of a new bias or None)
    for i, node in enumerate(nodes):
        pair = _foldable_pair(i, nodes, uses, params)
        if pair is not None:
            conv_idx, conv_params, bn_params = pair
            folds[i] = (conv_idx, _fold_weights(params, nodes[conv_idx]["name"], conv_params,
                                                bn_params, node.get("attrs", {})))
    if not folds:
        return sym, dict(arg_params), dict(aux_params), 0
    _drop_folded_nodes(graph, folds)
    new_sym = mx.sym.load_json(json.dumps(graph))
    args = {n: params[n] for n in new_sym.list_arguments() if n in params}
    aux = {n: params[n] for n in new_sym.list_auxiliary_states()}
    return new_sym, args, aux, len(folds)


def cast_params(sym, args, aux, dtype, keep=()):
    """Cast weights to ``dtype``, except ``keep`` and BatchNorm's (MXNet keeps them float32)."""
    if dtype == "float32":
        return args, aux
    graph = json.loads(sym.tojson())
    keep = set(keep) | {graph["nodes"][s]["name"] for node in graph["nodes"]
                        if node["op"] == "BatchNorm" for s, _, _ in node["inputs"][1:]}
    args = {k: (v if k in keep else v.astype(dtype)) for k, v in args.items()}
    return args, aux

"""The whole detector as one ONNX graph: raw outputs by ``mx.onnx``, NMS by :mod:`.onnx_nms`."""
import json
import os
import warnings

import mxnet as mx
import numpy as np

from .graph import RawSSD, StaticRawSSD, fold_batchnorm, trace
from .onnx_nms import OUTPUT_NAMES, append_nms

__all__ = ["export_onnx", "ONNX_OPSET"]

# The opset of the written graph, fixed so that it does not follow the installed onnx package
# (mx.onnx stamps onnx's newest; its translations are opset-13 ops): 19, what onnx 1.14 wrote and
# every runtime here was tested on (NonMaxSuppression needs >= 11). At 21+ ONNX Runtime 1.32's
# QDQ optimizer writes QuantizeLinear nodes it then rejects (output_dtype vs zero-point type).
ONNX_OPSET = 19


def export_onnx(tmp_dir, name, net, data_shape, ctx, preprocess, mean, std, optimize,
                static=False):
    """Write ``<name>.onnx`` in ``tmp_dir``: the whole detector, dynamic batch and size.

    Parameters
    ----------
    tmp_dir, name : str
        Folder and file name prefix.
    net : gluon_ssd.SSD
        The detector; its decoder's NMS settings go into the graph.
    data_shape : (int, int)
        ``(H, W)`` of the trace (the graph accepts any size: anchors follow the input).
    ctx, preprocess, mean, std, optimize :
        As in :func:`gluon_ssd.deploy.export`.
    static : bool, default False
        Fix ``H, W`` to ``data_shape`` (batch stays dynamic), with the anchors as a constant
        (:class:`~.graph.StaticRawSSD`); written as ``<name>-static.onnx``.

    Returns
    -------
    (dict, list of str)
        The manifest entry and the file names written. The graph's input is ``(B, 3, H, W)``
        float32 (or ``(B, H, W, 3)`` uint8 with ``preprocess``); its outputs ``ids (B, K, 1)``,
        ``scores (B, K, 1)``, ``bboxes (B, K, 4)``, exactly as the MXNet graph's.
    """
    try:
        import onnx as onnx_lib
    except ImportError:
        raise ImportError("onnx=True needs the onnx package: pip install 'gluon_ssd[onnx]'") \
            from None
    raw = StaticRawSSD(net, data_shape, ctx) if static else RawSSD(net)
    sym, args, aux = trace(raw, data_shape, ctx, preprocess, mean, std)
    if optimize:
        sym, args, aux, _ = fold_batchnorm(sym, args, aux)
    # mx.onnx ignores fix_gamma: give any fix_gamma BatchNorm left a gamma of ones (same maths).
    graph = json.loads(sym.tojson())
    for node in graph["nodes"]:
        if node["op"] == "BatchNorm" and node.get("attrs", {}).get("fix_gamma", "True") == "True":
            gamma = graph["nodes"][node["inputs"][1][0]]["name"]
            args[gamma] = mx.nd.ones_like(args[gamma])
    fname = f"{name}-static.onnx" if static else f"{name}.onnx"
    path = os.path.join(tmp_dir, fname)
    in_shape = (1, data_shape[0], data_shape[1], 3) if preprocess else (1, 3) + tuple(data_shape)
    h, w = data_shape
    dynamic = ((None, h, w, 3) if preprocess else (None, 3, h, w)) if static else \
        ((None, None, None, 3) if preprocess else (None, 3, None, None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mx.onnx.export_model(sym, {**args, **aux}, in_shapes=[in_shape],
                             in_types=[np.uint8 if preprocess else np.float32],
                             onnx_file_path=path, dynamic=True, dynamic_input_shapes=[dynamic])
    model = onnx_lib.load(path)
    _set_opset(model, ONNX_OPSET)
    # mx.onnx lists every weight as a graph input too; ONNX Runtime then treats them as
    # overridable and skips constant folding and fusions (slow, most of all for small models).
    weights = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    decoder = net.decoder
    append_nms(model, len(net.classes), decoder.nms_thresh, decoder.nms_topk, decoder.post_nms,
               decoder.score_thresh)
    onnx_lib.checker.check_model(model)
    onnx_lib.save(model, path)
    entry = {"file": fname, "opset": int(model.opset_import[0].version),
             "input": {"name": model.graph.input[0].name,
                       "shape": _shape_names(dynamic, preprocess),
                       "dtype": "uint8" if preprocess else "float32"},
             "outputs": list(OUTPUT_NAMES), "any_size": not static, "nms_in_graph": True,
             "precisions": {"fp32": {"agreement": None, "reference": True}}}
    return entry, [fname]


def _set_opset(model, version):
    """Stamp the default-domain opset ``version`` on ``model`` (its ops must exist there)."""
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            assert entry.version >= 13, entry  # mx.onnx writes opset-13 translations
            entry.version = version


def _shape_names(dynamic, preprocess):
    """The input shape for the manifest: dynamic dims named B, H, W; fixed ones as numbers."""
    names = ("B", "H", "W", None) if preprocess else ("B", None, "H", "W")
    return [name if dim is None else dim for dim, name in zip(dynamic, names)]

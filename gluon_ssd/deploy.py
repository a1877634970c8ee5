"""Export an SSD for deployment, and load it back with its integrity checked.

A *bundle* is one folder::

    <name>-symbol.json, <name>-0000.params            fp32 (or fp16) inference graph and weights
    <name>-int8-symbol.json, <name>-int8-0000.params  optional, oneDNN int8 graph (CPU only)
    <name>.onnx                                       optional, raw outputs (boxes + class scores)
    manifest.json                                     written last: what the files are, their sha256

The MXNet graphs are always the *inference* graph (box decoding + per-class NMS), whatever mode the
source net last ran in, and they run in plain MXNet without this package::

    net = mx.gluon.SymbolBlock.imports("<name>-symbol.json", ["data"], "<name>-0000.params")
    ids, scores, bboxes = net(x)   # x: (B, 3, H, W) normalized RGB, any H, W

Anchors are built in the graph from the feature maps' shapes, so one bundle serves every input
size. With ``preprocess=True`` the graph takes ``(B, H, W, 3)`` uint8 RGB pixels instead and does
the cast, ``/ 255``, ``(x - mean) / std`` and the NHWC -> NCHW transpose itself.

``dtype='float16'`` (for GPUs; MXNet's CPU has no float16 convolution) casts the layers, keeping
the anchors, the decoder and the outputs in float32.

Speed (``optimize=True``): BatchNorm is folded into the convolution before it, in the saved graph
and weights (portable: any MXNet build, GPU included, and ONNX); :func:`load` then hybridizes with
``static_alloc``/``static_shape`` and, on CPU, MXNet's oneDNN (``'MKLDNN'``) subgraph backend
(conv + activation fusion), which is applied at load time only and recorded in the manifest.

ONNX: ``mx.onnx.export_model`` turns ``box_nms`` class-agnostic, so the ONNX model stops before NMS
(:class:`RawSSD`: decoded boxes and foreground class scores) and :func:`postprocess_numpy` does the
top-k + per-class NMS exactly as :class:`~gluon_ssd.blocks.decoder.SSDDecoder`.
"""
import json
import math
import os
import shutil
import tempfile
import warnings

import mxnet as mx
import numpy as np
from mxnet import autograd
from mxnet.gluon import HybridBlock

from .fileio import atomic_write_json, file_digest

__all__ = ["export", "load", "Detector", "RawSSD", "postprocess_numpy", "detection_agreement",
           "fold_batchnorm", "load_images", "normalize_images", "verify_bundle",
           "MANIFEST", "DEFAULT_INT8_TOLERANCE"]

MANIFEST = "manifest.json"
FORMAT = "gluon_ssd-bundle"
FORMAT_VERSION = 1
# Minimum detection agreement (VOC07 mAP of the int8 detections against the fp32 detections
# scoring >= 0.5) below which an int8 export is refused: an int8 graph that loses more than a
# fifth of the fp32 detections is another model. Measured (no trained weights available offline)
# on seeded random mobilenet0.25 SSDs, 3 classes, 16 noise calibration images, whose 100
# detections per image are mostly near-ties: naive 0.83-0.91 (0.82-0.97 on other images),
# entropy 0.80-0.87; random VGG16 SSD300, 20 classes, naive: 0.88.
DEFAULT_INT8_TOLERANCE = 0.8
# fp32 detections scoring at least this are the reference ("ground truth") for the agreement.
AGREEMENT_SCORE = 0.5
CALIB_MODES = ("naive", "entropy")
DTYPES = ("float32", "float16")


# ----------------------------------------------------------------------------------------------
# Files: sha256, atomic writes, manifest check
# ----------------------------------------------------------------------------------------------

def verify_bundle(out_dir):
    """Read ``manifest.json`` and check every listed file's size and sha256.

    Parameters
    ----------
    out_dir : str
        Bundle folder.

    Returns
    -------
    dict
        The manifest.

    Raises
    ------
    FileNotFoundError
        No manifest (an incomplete or interrupted export), or a listed file is missing.
    ValueError
        The manifest is not a bundle manifest, or a file's size or sha256 differs from it
        (truncated, altered, or from another export); the message names the file.
    """
    manifest = _read_manifest(out_dir)
    for fname, info in manifest["files"].items():
        path = os.path.join(out_dir, fname)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"bundle {out_dir!r}: {fname} is listed in {MANIFEST} but "
                                    f"missing; re-export the model")
        size = os.path.getsize(path)
        if size != info["size"]:
            raise ValueError(f"bundle {out_dir!r}: {fname} has {size} bytes, {MANIFEST} says "
                             f"{info['size']} (truncated or replaced); re-export the model")
        digest = file_digest(path)
        if digest != info["sha256"]:
            raise ValueError(f"bundle {out_dir!r}: {fname} sha256 {digest[:12]}... differs from "
                             f"{MANIFEST}'s {info['sha256'][:12]}... (file altered); re-export")
    return manifest


def _read_manifest(out_dir):
    path = os.path.join(out_dir, MANIFEST)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no {MANIFEST} in {out_dir!r}: not an exported bundle, or its "
                                f"export did not finish (the manifest is written last)")
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}): the manifest is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
            or not isinstance(manifest.get("files"), dict):
        raise ValueError(f"{path} is not a {FORMAT} manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has format_version {manifest.get('format_version')!r}; this "
                         f"gluon_ssd reads version {FORMAT_VERSION}")
    return manifest


# ----------------------------------------------------------------------------------------------
# Graphs
# ----------------------------------------------------------------------------------------------

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
    ``net.decoder`` sorts, thresholds and suppresses (see :func:`postprocess_numpy`).
    """

    def __init__(self, net, **kwargs):
        super().__init__(prefix=kwargs.pop("prefix", "raw_"), **kwargs)
        self.net = net

    def hybrid_forward(self, F, x):  # pylint: disable=arguments-differ
        cls_preds, box_preds, anchors = self.net.predictions(F, x)
        boxes = self.net.decoder.bbox_decoder(box_preds, anchors)
        scores = F.slice_axis(F.softmax(cls_preds, axis=-1), axis=-1, begin=1, end=None)
        return boxes, scores


class _HalfPrecisionSSD(RawSSD):
    """The inference graph with float16 layers and a float32 decoder and anchors."""

    def hybrid_forward(self, F, x):  # pylint: disable=arguments-differ
        return self.net.decoder(*self.net.predictions(F, x, float32=True))


def _trace(block, data_shape, ctx, preprocess, mean, std):
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
    nodes = graph["nodes"]
    uses = {}
    for node in nodes:
        for src, out, _ in node["inputs"]:
            uses[(src, out)] = uses.get((src, out), 0) + 1
    for src, out, _ in graph["heads"]:
        uses[(src, out)] = uses.get((src, out), 0) + 1
    params = dict(arg_params)
    params.update(aux_params)

    def single_use(idx):
        return uses.get((idx, 0), 0) == 1

    folds = {}  # BN node index -> (conv node index, name of a new bias or None)
    for i, node in enumerate(nodes):
        attrs = node.get("attrs", {})
        if node["op"] != "BatchNorm" or attrs.get("axis", "1") != "1":
            continue
        conv_idx = node["inputs"][0][0]
        conv = nodes[conv_idx]
        cattrs = conv.get("attrs", {})
        if (conv["op"] != "Convolution" or node["inputs"][0][1] != 0 or not single_use(conv_idx)
                or cattrs.get("layout", "NCHW") not in ("NCHW", "None")
                or uses.get((i, 1), 0) or uses.get((i, 2), 0)):
            continue
        conv_params = [nodes[s]["name"] for s, _, _ in conv["inputs"][1:]]
        bn_params = [nodes[s]["name"] for s, _, _ in node["inputs"][1:]]
        if not all(single_use(s) and nodes[s]["op"] == "null" and nodes[s]["name"] in params
                   for s, _, _ in conv["inputs"][1:] + node["inputs"][1:]):
            continue
        gamma, beta, mean, var = (params[n].asnumpy().astype(np.float64) for n in bn_params)
        if attrs.get("fix_gamma", "True") == "True":
            gamma = np.ones_like(gamma)
        scale = gamma / np.sqrt(var + float(attrs.get("eps", "0.001")))
        weight = params[conv_params[0]].asnumpy().astype(np.float64)
        bias = (params[conv_params[1]].asnumpy().astype(np.float64) if len(conv_params) > 1
                else np.zeros_like(scale))
        dtype = params[conv_params[0]].dtype
        params[conv_params[0]] = mx.nd.array(weight * scale.reshape(-1, 1, 1, 1), dtype=dtype)
        bias_name = conv_params[1] if len(conv_params) > 1 else f"{conv['name']}_folded_bias"
        params[bias_name] = mx.nd.array((bias - mean) * scale + beta, dtype=dtype)
        for name in bn_params:
            del params[name]
        folds[i] = (conv_idx, bias_name if len(conv_params) == 1 else None)
    if not folds:
        return sym, dict(arg_params), dict(aux_params), 0

    folded_params = {s for i in folds for s, _, _ in nodes[i]["inputs"][1:]}
    new_bias = {conv: name for conv, name in folds.values() if name}
    row_ptr = graph["node_row_ptr"]
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
    new_sym = mx.sym.load_json(json.dumps(graph))
    args = {n: params[n] for n in new_sym.list_arguments() if n in params}
    aux = {n: params[n] for n in new_sym.list_auxiliary_states()}
    return new_sym, args, aux, len(folds)


def _cast_params(sym, args, aux, dtype, keep=()):
    """Cast weights to ``dtype``, except ``keep`` and BatchNorm's (MXNet keeps them float32)."""
    if dtype == "float32":
        return args, aux
    graph = json.loads(sym.tojson())
    keep = set(keep) | {graph["nodes"][s]["name"] for node in graph["nodes"]
                        if node["op"] == "BatchNorm" for s, _, _ in node["inputs"][1:]}
    args = {k: (v if k in keep else v.astype(dtype)) for k, v in args.items()}
    return args, aux


# ----------------------------------------------------------------------------------------------
# Images for calibration and checks
# ----------------------------------------------------------------------------------------------

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


def load_images(source, data_shape, limit=None):
    """Images resized to ``data_shape``, as uint8 RGB.

    Parameters
    ----------
    source : str or sequence of array
        A folder (files ending in .jpg/.jpeg/.png/.bmp, sorted by name, decoded by
        :func:`gluon_ssd.data.image.read_image` like training images), or arrays ``(H, W, 3)``
        uint8 RGB of any size (a list, or one ``(N, H, W, 3)`` array).
    data_shape : (int, int)
        ``(H, W)`` to resize to (plain resize, aspect ratio not kept).
    limit : int, optional
        Use at most this many.

    Returns
    -------
    numpy.ndarray
        ``(N, H, W, 3)`` uint8.
    """
    h, w = data_shape
    if isinstance(source, (str, os.PathLike)):
        if not os.path.isdir(source):
            raise ValueError(f"calibration images: {source!r} is not a folder")
        files = sorted(f for f in os.listdir(source) if f.lower().endswith(IMAGE_EXTENSIONS))
        if not files:
            raise ValueError(f"calibration images: no {'/'.join(IMAGE_EXTENSIONS)} file in "
                             f"{source!r}")
        files = files[:limit] if limit else files
        from .data.image import read_image  # the decoder training and detection use
        images = [read_image(os.path.join(source, f)) for f in files]
    else:
        images = [np.asarray(im) for im in source]
        images = images[:limit] if limit else images
        if not images:
            raise ValueError("calibration images: the list is empty")
        for k, im in enumerate(images):
            if im.ndim != 3 or im.shape[2] != 3 or im.dtype != np.uint8:
                raise ValueError(f"calibration image {k}: expected (H, W, 3) uint8 RGB, got "
                                 f"{im.shape} {im.dtype}")
    out = [im if im.shape[:2] == (h, w) else
           mx.image.imresize(mx.nd.array(im, dtype="uint8"), w, h).asnumpy() for im in images]
    return np.stack(out).astype(np.uint8)


def normalize_images(images, mean, std):
    """uint8 ``(N, H, W, 3)`` RGB -> float32 ``(N, 3, H, W)``: ``(x / 255 - mean) / std``."""
    x = np.asarray(images, np.float32) / 255.0
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


# ----------------------------------------------------------------------------------------------
# Post-processing and detection agreement (numpy)
# ----------------------------------------------------------------------------------------------

def _iou(box, boxes):
    """IoU of one ``(4,)`` corner box with ``(M, 4)``, as ``contrib.box_nms`` computes it."""
    w = np.maximum(0.0, np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]))
    h = np.maximum(0.0, np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]))
    inter = w * h
    area = max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
    areas = np.maximum(0.0, boxes[:, 2] - boxes[:, 0]) * np.maximum(0.0, boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def postprocess_numpy(boxes, scores, nms_thresh=0.45, nms_topk=400, post_nms=100,
                      score_thresh=0.01):
    """Top-k + per-class NMS on raw outputs, as :class:`~gluon_ssd.blocks.decoder.SSDDecoder`.

    Candidates are (anchor, class) pairs in class-major order (index ``c * N + n``, GluonCV's);
    the ``nms_topk`` best enter NMS (ties: lower index first); those scoring ``<= score_thresh``
    are dropped; greedy NMS per class removes a box whose IoU with a kept, better box of its class
    is above ``nms_thresh``.

    Parameters
    ----------
    boxes : array ``(B, N, 4)``
        Decoded ``(x1, y1, x2, y2)`` (the ONNX model's / :class:`RawSSD`'s first output).
    scores : array ``(B, N, C)``
        Foreground class probabilities.
    nms_thresh, nms_topk, post_nms, score_thresh :
        As in ``SSDDecoder`` (the bundle's manifest lists the exported values under ``nms``).

    Returns
    -------
    (ids, scores, bboxes) : numpy.ndarray
        ``(B, K, 1)``, ``(B, K, 1)``, ``(B, K, 4)`` float32, sorted by descending score, empty rows
        -1; ``K`` as in ``SSDDecoder``.
    """
    boxes, scores = np.asarray(boxes, np.float32), np.asarray(scores, np.float32)
    if boxes.ndim != 3 or boxes.shape[2] != 4 or scores.ndim != 3 \
            or scores.shape[:2] != boxes.shape[:2]:
        raise ValueError(f"expected boxes (B, N, 4) and scores (B, N, C), got {boxes.shape} and "
                         f"{scores.shape}")
    batch, num, num_classes = scores.shape
    total = num * num_classes
    topk = nms_topk if nms_topk > 0 else total
    if nms_topk > 0:
        rows = post_nms if post_nms > 0 else topk
    else:
        rows = min(post_nms, total) if post_nms > 0 else total
    out = np.full((batch, rows, 6), -1.0, np.float32)
    for b in range(batch):
        flat = scores[b].T.reshape(-1)  # class-major: index c * N + n
        order = np.argsort(-flat, kind="stable")[:topk]
        order = order[flat[order] > score_thresh]
        cls, anchor = order // num, order % num
        cand_boxes, cand_scores = boxes[b, anchor], flat[order]
        keep = []
        suppressed = np.zeros(len(order), bool)
        for i in range(len(order)):
            if suppressed[i]:
                continue
            keep.append(i)
            later = np.arange(i + 1, len(order))
            later = later[(cls[later] == cls[i]) & ~suppressed[later]]
            if later.size and nms_thresh < 1:
                suppressed[later[_iou(cand_boxes[i], cand_boxes[later]) > nms_thresh]] = True
        keep = keep[:rows]
        out[b, :len(keep), 0] = cls[keep]
        out[b, :len(keep), 1] = cand_scores[keep]
        out[b, :len(keep), 2:] = cand_boxes[keep]
    return out[..., :1], out[..., 1:2], out[..., 2:]


def _numpy(x):
    return x.asnumpy() if isinstance(x, mx.nd.NDArray) else np.asarray(x)


def detection_agreement(reference_dets, dets, score_thresh=AGREEMENT_SCORE, iou_thresh=0.5):
    """How well ``dets`` reproduce ``reference_dets``: VOC07 mAP with the reference as ground truth.

    Parameters
    ----------
    reference_dets, dets : (ids, scores, bboxes)
        Detections of the same images, e.g. fp32 and int8: ``(B, K, 1)``, ``(B, K, 1)``,
        ``(B, K, 4)`` arrays (NDArray or numpy), rows with id -1 empty.
    score_thresh : float, default 0.5
        Reference detections scoring at least this are the ground truth; the others are ignored.
    iou_thresh : float, default 0.5
        IoU for a detection to match a reference box.

    Returns
    -------
    float
        11-point VOC07 mAP over the classes present in the reference, in [0, 1]: 1.0 when every
        reference box is found with no better-scored false positive; ``nan`` when the reference
        has no detection at ``score_thresh``.
    """
    from gluoncv.utils.metrics.voc_detection import VOC07MApMetric
    ref_ids, ref_scores, ref_boxes = (_numpy(a) for a in reference_dets)
    ids, scores, boxes = (_numpy(a) for a in dets)
    gt_ids = np.where(ref_scores >= score_thresh, ref_ids, -1)
    if not (gt_ids >= 0).any():
        return float("nan")
    num_classes = int(max(gt_ids.max(), ids.max())) + 1
    metric = VOC07MApMetric(iou_thresh=iou_thresh, class_names=[str(c) for c in range(num_classes)])
    metric.update(boxes, ids, scores, ref_boxes, gt_ids)
    return min(1.0, float(metric.get()[1][-1]))  # the 11-point sum can round to 1 + 2e-16


# ----------------------------------------------------------------------------------------------
# Export
# ----------------------------------------------------------------------------------------------

def _check_export_args(net, data_shape, name, calib_mode, dtype, int8, calib_images,
                       int8_tolerance):
    if not hasattr(net, "decoder") or not hasattr(net, "config"):
        raise TypeError(f"net must be a gluon_ssd SSD (from gluon_ssd.zoo), got "
                        f"{type(net).__name__}")
    if (not isinstance(data_shape, (tuple, list)) or len(data_shape) != 2
            or not all(isinstance(v, (int, np.integer)) and v > 0 for v in data_shape)):
        raise ValueError(f"data_shape must be (height, width) positive ints, got {data_shape!r}")
    if name is not None and (not isinstance(name, str) or not name or os.sep in name
                             or name.startswith(".")):
        raise ValueError(f"name must be a plain file name prefix, got {name!r}")
    if calib_mode not in CALIB_MODES:
        raise ValueError(f"calib_mode must be one of {CALIB_MODES}, got {calib_mode!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if int8 and calib_images is None:
        raise ValueError("int8=True needs calib_images: a folder or a list of (H, W, 3) uint8 "
                         "RGB images like the ones the model will see")
    if int8 and dtype != "float32":
        raise ValueError(f"int8 quantization starts from float32, got dtype={dtype!r}")
    if int8_tolerance is not None and not 0 <= int8_tolerance <= 1:
        raise ValueError(f"int8_tolerance is a minimum agreement mAP in [0, 1] (or None), got "
                         f"{int8_tolerance!r}")


def _save_params(path, args, aux):
    save = {f"arg:{k}": v for k, v in args.items()}
    save.update({f"aux:{k}": v for k, v in aux.items()})
    mx.nd.save(path, save)


def export(net, out_dir, data_shape=None, name=None, preprocess=False, optimize=True, int8=False,
           calib_images=None, calib_mode="naive", int8_tolerance=DEFAULT_INT8_TOLERANCE,
           onnx=False, ctx=None, dtype="float32", max_calib_images=64):
    """Export ``net`` as a deployable bundle in ``out_dir`` (see the module docstring).

    All files are produced in a temporary folder inside ``out_dir`` and moved in with
    ``os.replace`` only when everything succeeded, ``manifest.json`` last; an old manifest is
    removed first. An interrupted or refused export leaves no manifest and no temporary file.

    Parameters
    ----------
    net : gluon_ssd.SSD
        Initialised detector, in any mode and hybridization state (not modified).
    out_dir : str
        Bundle folder, created if needed.
    data_shape : (int, int), optional
        ``(H, W)`` of the trace and of the checks; default ``net.config.base_size`` square. The
        MXNet graphs accept any size.
    name : str, optional
        File name prefix; default ``net.model_name`` (or ``'ssd'``).
    preprocess : bool, default False
        Graph input uint8 ``(B, H, W, 3)`` RGB pixels, normalized in the graph; else
        ``(B, 3, H, W)`` ``(x / 255 - mean) / std`` with ``net.config.mean``/``std``.
    optimize : bool, default True
        Fold BatchNorm into convolutions in the saved graph; let :func:`load` use the oneDNN
        subgraph backend on CPU.
    int8 : bool, default False
        Also write an int8 graph (oneDNN quantization, CPU), calibrated on ``calib_images``.
    calib_images : str or sequence of array, optional
        Folder or list of ``(H, W, 3)`` uint8 RGB images (resized to ``data_shape``); at most
        ``max_calib_images`` are used. They also measure the int8 detection agreement.
    calib_mode : {'naive', 'entropy'}
        Activation ranges from min/max (naive) or KL-divergence thresholds (entropy).
    int8_tolerance : float or None, default DEFAULT_INT8_TOLERANCE
        Minimum :func:`detection_agreement` of int8 with fp32 on the calibration images; below it
        (or when it cannot be measured) the export raises ``ValueError`` and writes nothing.
        None: never refuse (the agreement is still recorded).
    onnx : bool, default False
        Also write ``<name>.onnx`` (needs the ``onnx`` extra): raw outputs, see :class:`RawSSD`.
    ctx : mxnet.Context, optional
        Where to trace and run the checks; default the context of net's parameters.
    dtype : {'float32', 'float16'}
        Weights and input dtype of the main graph (float16: for GPUs).

    Returns
    -------
    dict
        The manifest (also in ``out_dir/manifest.json``).
    """
    data_shape = tuple(data_shape) if data_shape is not None else (net.config.base_size,) * 2
    _check_export_args(net, data_shape, name, calib_mode, dtype, int8, calib_images,
                       int8_tolerance)
    name = name or getattr(net, "model_name", None) or "ssd"
    ctx = ctx or next(iter(net.collect_params().values())).list_ctx()[0]
    mean, std = tuple(net.config.mean), tuple(net.config.std)
    os.makedirs(out_dir, exist_ok=True)
    manifest_path = os.path.join(out_dir, MANIFEST)
    if os.path.exists(manifest_path):
        os.remove(manifest_path)  # from here on the folder is not a valid bundle until we finish

    decoder = net.decoder
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "model_name": getattr(net, "model_name", None), "name": name,
        "classes": list(net.classes), "num_classes": len(net.classes),
        "mxnet_version": mx.__version__,
        "input": {
            "name": "data", "preprocess": bool(preprocess),
            "layout": "NHWC" if preprocess else "NCHW",
            "dtype": "uint8" if preprocess else dtype,
            "shape": [1, data_shape[0], data_shape[1], 3] if preprocess
            else [1, 3, data_shape[0], data_shape[1]],
            "any_size": True, "color": "RGB", "mean": list(mean), "std": list(std),
            "normalization": ("in graph: (pixel / 255 - mean) / std" if preprocess else
                              "by the caller: (pixel / 255 - mean) / std, RGB, NCHW"),
        },
        "outputs": [
            {"name": "ids", "shape": ["B", "K", 1],
             "description": "class index into classes (float), -1 for empty rows"},
            {"name": "scores", "shape": ["B", "K", 1],
             "description": "softmax probability, descending, -1 for empty rows"},
            {"name": "bboxes", "shape": ["B", "K", 4],
             "description": "x1, y1, x2, y2 in input pixels, -1 for empty rows"},
        ],
        "nms": {"nms_thresh": decoder.nms_thresh, "nms_topk": decoder.nms_topk,
                "post_nms": decoder.post_nms, "score_thresh": decoder.score_thresh,
                "per_class": True},
        "variants": {},
        "optimizations": {},
    }
    tmp_dir = tempfile.mkdtemp(prefix=".tmp-export-", dir=out_dir)
    try:
        block = net if dtype == "float32" else _HalfPrecisionSSD(net)
        sym, args, aux = _trace(block, data_shape, ctx, preprocess, mean, std)
        folded = 0
        if optimize:
            sym, args, aux, folded = fold_batchnorm(sym, args, aux)
        manifest["optimizations"] = {
            "batchnorm_folded": folded,
            "static_alloc": True,
            "cpu_backend": "MKLDNN" if optimize else None,
            "cpu_backend_applied": "at load time (gluon_ssd.deploy.load); the saved graph is "
                                   "plain MXNet" if optimize else None,
        }
        files = []
        keep = [p.name for p in net.anchor_generators.collect_params().values()]
        fp32 = _write_mxnet(tmp_dir, name, sym, args, aux, dtype, preprocess, keep)
        files.extend(fp32["files"])
        manifest["variants"]["fp32" if dtype == "float32" else dtype] = fp32["entry"]
        if int8:
            entry, int8_files = _export_int8(
                tmp_dir, name, fp32["entry"], net.decoder.prefix, calib_images, data_shape,
                calib_mode, preprocess, mean, std, int8_tolerance, max_calib_images)
            manifest["variants"]["int8"] = entry
            files.extend(int8_files)
        if onnx:
            entry, onnx_files = _export_onnx(tmp_dir, name, net, data_shape, ctx, preprocess,
                                             mean, std, optimize)
            manifest["variants"]["onnx"] = entry
            files.extend(onnx_files)
        manifest["files"] = {f: {"sha256": file_digest(os.path.join(tmp_dir, f)),
                                 "size": os.path.getsize(os.path.join(tmp_dir, f))}
                             for f in files}
        for fname in files:
            os.replace(os.path.join(tmp_dir, fname), os.path.join(out_dir, fname))
        atomic_write_json(manifest, manifest_path, indent=2)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return manifest


def _write_mxnet(tmp_dir, name, sym, args, aux, dtype, preprocess, keep_float32):
    if dtype != "float32":
        if preprocess:
            # The preprocessing's cast of the uint8 input now goes to the target dtype.
            graph = json.loads(sym.tojson())
            for node in graph["nodes"]:
                if node["op"] == "Cast" and graph["nodes"][node["inputs"][0][0]]["name"] == "data":
                    node["attrs"]["dtype"] = dtype
            sym = mx.sym.load_json(json.dumps(graph))
        args, aux = _cast_params(sym, args, aux, dtype, keep_float32)
    sym_file, params_file = f"{name}-symbol.json", f"{name}-0000.params"
    sym.save(os.path.join(tmp_dir, sym_file))
    _save_params(os.path.join(tmp_dir, params_file), args, aux)
    return {"files": [sym_file, params_file],
            "entry": {"symbol": sym_file, "params": params_file, "dtype": dtype,
                      "reload": f"mx.gluon.SymbolBlock.imports('{sym_file}', ['data'], "
                                f"'{params_file}')"}}


def _imports(folder, entry, ctx=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Cannot decide type for the following arguments: data"
        return mx.gluon.SymbolBlock.imports(os.path.join(folder, entry["symbol"]), ["data"],
                                            os.path.join(folder, entry["params"]), ctx=ctx)


def _run_batched(net, x, batch):
    """``net`` on ``x`` by chunks of ``batch``: the outputs as numpy, concatenated."""
    chunks = [[o.asnumpy() for o in net(x[i:i + batch])] for i in range(0, len(x), batch)]
    return [np.concatenate(parts) for parts in zip(*chunks)]


def _export_int8(tmp_dir, name, fp32_entry, decoder_prefix, calib_images, data_shape, calib_mode,
                 preprocess, mean, std, int8_tolerance, max_calib_images):
    """Quantize the fp32 graph in ``tmp_dir`` with oneDNN; measure it against fp32."""
    from mxnet.contrib import quantization
    if not mx.runtime.Features().is_enabled("MKLDNN"):
        raise ValueError("int8 export needs an MXNet build with oneDNN (MKLDNN), CPU")
    pixels = load_images(calib_images, data_shape, limit=max_calib_images)
    calib = pixels if preprocess else normalize_images(pixels, mean, std)
    fp32 = _imports(tmp_dir, fp32_entry)
    batch = min(8, len(calib))
    calib_iter = mx.io.NDArrayIter(data=calib, batch_size=batch, last_batch_handle="pad",
                                   data_name="data")
    # Quantize the convolutions (the cost); keep in float the decoder (softmax, top-k, NMS) and
    # the concatenations of the heads' outputs, whose ranges differ by layer. Keeping the heads'
    # predictors or the first conv in float too did not raise the agreement (random nets).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qnet = quantization.quantize_net_v2(
            fp32, quantized_dtype="auto", quantize_mode="smart", exclude_operators=["Concat"],
            exclude_layers_match=[decoder_prefix], calib_data=calib_iter, calib_mode=calib_mode,
            num_calib_examples=len(calib), ctx=mx.cpu())
    x = mx.nd.array(calib, dtype="uint8" if preprocess else "float32")
    qnet(x[:1])  # export saves the parameters the cached graph was run with
    qnet.export(os.path.join(tmp_dir, f"{name}-int8"), 0)
    entry = {"symbol": f"{name}-int8-symbol.json", "params": f"{name}-int8-0000.params",
             "dtype": "int8", "device": "cpu (oneDNN)", "calib_mode": calib_mode,
             "num_calib_images": int(len(calib))}
    int8 = _imports(tmp_dir, entry)
    reference, quantized = _run_batched(fp32, x, batch), _run_batched(int8, x, batch)
    agreement = detection_agreement(reference, quantized)
    entry["agreement"] = {
        "map": None if math.isnan(agreement) else agreement,
        "metric": f"VOC07 mAP (IoU 0.5) of int8 detections with fp32 detections scoring >= "
                  f"{AGREEMENT_SCORE} as ground truth, on the calibration images",
        "num_reference_detections": int((reference[1] >= AGREEMENT_SCORE).sum()),
        "min_required": int8_tolerance,
    }
    if int8_tolerance is not None:
        if math.isnan(agreement):
            raise ValueError(f"int8 agreement cannot be measured: the fp32 model has no "
                             f"detection scoring >= {AGREEMENT_SCORE} on the {len(calib)} "
                             f"calibration images; use images with objects, or "
                             f"int8_tolerance=None to export unchecked")
        if agreement < int8_tolerance:
            raise ValueError(f"int8 detections agree with fp32 at mAP {agreement:.3f} < "
                             f"int8_tolerance {int8_tolerance}: refusing the int8 export; try "
                             f"calib_mode='entropy' / more calibration images, or lower the "
                             f"tolerance")
    elif not math.isnan(agreement) and agreement < DEFAULT_INT8_TOLERANCE:
        warnings.warn(f"int8 detections agree with fp32 only at mAP {agreement:.3f}")
    return entry, [entry["symbol"], entry["params"]]


def _export_onnx(tmp_dir, name, net, data_shape, ctx, preprocess, mean, std, optimize):
    """Raw outputs (boxes, class scores) to ONNX, dynamic batch and size."""
    try:
        import onnx as onnx_lib
    except ImportError:
        raise ImportError("onnx=True needs the onnx package: pip install 'gluon_ssd[onnx]'") \
            from None
    raw = RawSSD(net)
    sym, args, aux = _trace(raw, data_shape, ctx, preprocess, mean, std)
    if optimize:
        sym, args, aux, _ = fold_batchnorm(sym, args, aux)
    # mx.onnx ignores fix_gamma: give any fix_gamma BatchNorm left a gamma of ones (same maths).
    graph = json.loads(sym.tojson())
    for node in graph["nodes"]:
        if node["op"] == "BatchNorm" and node.get("attrs", {}).get("fix_gamma", "True") == "True":
            gamma = graph["nodes"][node["inputs"][1][0]]["name"]
            args[gamma] = mx.nd.ones_like(args[gamma])
    fname = f"{name}.onnx"
    in_shape = (1, data_shape[0], data_shape[1], 3) if preprocess else (1, 3) + data_shape
    dynamic = (None, None, None, 3) if preprocess else (None, 3, None, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mx.onnx.export_model(sym, {**args, **aux}, in_shapes=[in_shape],
                             in_types=[np.uint8 if preprocess else np.float32],
                             onnx_file_path=os.path.join(tmp_dir, fname), dynamic=True,
                             dynamic_input_shapes=[dynamic])
    model = onnx_lib.load(os.path.join(tmp_dir, fname))
    # mx.onnx lists every weight as a graph input too; ONNX Runtime then treats them as
    # overridable and skips constant folding and fusions (1.75x slower on mobilenet0.25-300).
    weights = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    onnx_lib.checker.check_model(model)
    onnx_lib.save(model, os.path.join(tmp_dir, fname))
    entry = {"file": fname, "opset": int(model.opset_import[0].version),
             "input": {"name": model.graph.input[0].name,
                       "shape": ["B", "H", "W", 3] if preprocess else ["B", 3, "H", "W"],
                       "dtype": "uint8" if preprocess else "float32"},
             "outputs": [
                 {"name": "boxes", "onnx_name": model.graph.output[0].name,
                  "shape": ["B", "N", 4], "description": "decoded x1, y1, x2, y2, input pixels"},
                 {"name": "scores", "onnx_name": model.graph.output[1].name,
                  "shape": ["B", "N", "C"],
                  "description": "softmax probabilities, background column removed"}],
             "any_size": True,
             "postprocess": "gluon_ssd.deploy.postprocess_numpy(boxes, scores, **manifest['nms']) "
                            "(mx.onnx makes box_nms class-agnostic, so NMS is not in the graph)"}
    return entry, [fname]


# ----------------------------------------------------------------------------------------------
# Load
# ----------------------------------------------------------------------------------------------

class Detector:
    """A loaded bundle: call it on a batch to get ``(ids, scores, bboxes)``.

    Attributes
    ----------
    net : mxnet.gluon.SymbolBlock
        The graph, hybridized.
    classes : tuple of str
    manifest : dict
    variant : str
        ``'fp32'``, ``'float16'`` or ``'int8'``.
    ctx : mxnet.Context
    """

    def __init__(self, net, manifest, variant, ctx):
        self.net = net
        self.manifest = manifest
        self.variant = variant
        self.ctx = ctx
        self.classes = tuple(manifest["classes"])
        self.input_dtype = "float32" if variant == "int8" and not manifest["input"]["preprocess"] \
            else manifest["input"]["dtype"]

    @property
    def preprocess(self):
        """bool: whether the graph takes uint8 NHWC pixels."""
        return bool(self.manifest["input"]["preprocess"])

    def __call__(self, images):
        """Detect on a batch.

        Parameters
        ----------
        images : NDArray or numpy.ndarray
            ``(B, H, W, 3)`` uint8 RGB when the bundle has ``preprocess``, else ``(B, 3, H, W)``
            normalized (see :func:`normalize_images`); any ``H, W``.

        Returns
        -------
        (ids, scores, bboxes) : NDArray
            ``(B, K, 1)``, ``(B, K, 1)``, ``(B, K, 4)`` (boxes ``x1, y1, x2, y2``, -1 padded).
        """
        shape = tuple(images.shape)
        channels = shape[3] if self.preprocess else (shape[1] if len(shape) == 4 else None)
        if len(shape) != 4 or channels != 3:
            expected = "(B, H, W, 3) uint8" if self.preprocess else "(B, 3, H, W) float"
            raise ValueError(f"images must be {expected} for this bundle, got shape {shape}")
        if not isinstance(images, mx.nd.NDArray):
            images = mx.nd.array(images, ctx=self.ctx, dtype=self.input_dtype)
        elif images.context != self.ctx or images.dtype != np.dtype(self.input_dtype):
            images = images.as_in_context(self.ctx).astype(self.input_dtype, copy=False)
        return self.net(images)


def load(out_dir, ctx=None, verify=True, variant=None, backend="auto"):
    """Load a bundle written by :func:`export`.

    Parameters
    ----------
    out_dir : str
        Bundle folder.
    ctx : mxnet.Context, optional
        Default CPU.
    verify : bool, default True
        Check every file's size and sha256 against the manifest first (see
        :func:`verify_bundle`); a truncated or altered file raises ``ValueError`` naming it.
    variant : {'fp32', 'float16', 'int8'}, optional
        Which graph; default the main one (``'fp32'`` or ``'float16'``).
    backend : 'auto', str or None
        Subgraph backend for ``hybridize``: 'auto' uses the manifest's ``cpu_backend`` on CPU
        for float graphs (int8 graphs are already fused); None for none (for measurements).

    Returns
    -------
    Detector
    """
    manifest = verify_bundle(out_dir) if verify else _read_manifest(out_dir)
    ctx = ctx or mx.cpu()
    graphs = {k: v for k, v in manifest["variants"].items() if k != "onnx"}
    if variant is None:
        variant = next(iter(graphs))
    if variant not in graphs:
        raise ValueError(f"bundle {out_dir!r} has no {variant!r} graph; it has {sorted(graphs)}")
    if variant == "int8" and ctx.device_type != "cpu":
        raise ValueError(f"the int8 graph runs on CPU (oneDNN) only, got ctx={ctx}")
    for key in ("symbol", "params"):
        if not os.path.isfile(os.path.join(out_dir, graphs[variant][key])):
            raise FileNotFoundError(f"bundle {out_dir!r}: {graphs[variant][key]} is missing")
    net = _imports(out_dir, graphs[variant], ctx=ctx)
    if backend == "auto":
        backend = (manifest["optimizations"].get("cpu_backend")
                   if ctx.device_type == "cpu" and variant != "int8" else None)
    if backend:
        net.hybridize(static_alloc=True, static_shape=True, backend=backend)
    else:
        net.hybridize(static_alloc=True, static_shape=True)
    return Detector(net, manifest, variant, ctx)

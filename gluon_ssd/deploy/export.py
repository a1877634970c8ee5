"""Export a detector as a bundle: the MXNet graphs, int8, ONNX (+ bf16 record), the manifest.

Every file is written in a temporary folder inside the bundle folder; only when all of them are
written (and the int8 / bf16 agreements passed) are they moved in with ``os.replace``, the old
manifest removed just before and the new one moved in last. A failed write (disk full, a
read-only folder), a refusal or an interruption before that point leaves the previous bundle as
it was, and no temporary file.
"""
import json
import os
import shutil
import tempfile
import warnings

import mxnet as mx
import numpy as np

from ..utils.fileio import atomic_write_json, file_digest
from .bf16 import DEFAULT_BF16_TOLERANCE, measure_bf16
from .bundle import FORMAT, FORMAT_VERSION, MANIFEST, layers_entry
from .graph import HalfPrecisionSSD, cast_params, fold_batchnorm, trace
from .images import load_images, normalize_images
from .int8 import CALIB_MODES, DEFAULT_INT8_TOLERANCE, export_int8
from .onnx_export import export_onnx
from .onnx_int8 import export_onnx_int8
from .runtimes import installed

__all__ = ["export", "DTYPES"]

DTYPES = ("float32", "float16")


def _check_export_args(net, data_shape, name, calib_mode, dtype, int8, calib_images,
                       int8_tolerance, onnx, bf16, bf16_tolerance, static_shape):
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
    for flag, value in (("int8_tolerance", int8_tolerance), ("bf16_tolerance", bf16_tolerance)):
        if value is not None and not 0 <= value <= 1:
            raise ValueError(f"{flag} is a minimum agreement mAP in [0, 1] (or None), got "
                             f"{value!r}")
    if static_shape and not onnx:
        raise ValueError("static_shape=True is an option of the ONNX graph: it needs onnx=True")
    if bf16 and not onnx:
        raise ValueError("bf16=True measures the ONNX graph in OpenVINO: it needs onnx=True")
    if bf16 and calib_images is None:
        raise ValueError("bf16=True needs calib_images to measure its agreement with fp32")



def _save_params(path, args, aux):
    save = {f"arg:{k}": v for k, v in args.items()}
    save.update({f"aux:{k}": v for k, v in aux.items()})
    mx.nd.save(path, save)


def export(net, out_dir, data_shape=None, name=None, preprocess=False, optimize=True, int8=False,
           calib_images=None, calib_mode="naive", int8_tolerance=DEFAULT_INT8_TOLERANCE,
           onnx=False, ctx=None, dtype="float32", max_calib_images=64, bf16=False,
           bf16_tolerance=DEFAULT_BF16_TOLERANCE, static_shape=False):
    """Export ``net`` as a deployable bundle in ``out_dir`` (see :mod:`gluon_ssd.deploy`).

    Files are written in a temporary folder inside ``out_dir`` and moved in (``os.replace``) when
    all succeeded, ``manifest.json`` last: a refused, failed or interrupted export leaves the
    previous bundle intact and no temporary file.

    Parameters
    ----------
    net : gluon_ssd.SSD
        Initialised detector, any mode and hybridization state (not modified).
    out_dir : str
        Bundle folder, created if needed.
    data_shape : (int, int), optional
        ``(H, W)`` of the trace and the checks (default ``net.base_size`` square); the graphs
        take any size.
    name : str, optional
        File name prefix; default ``net.model_name`` (or ``'ssd'``).
    preprocess : bool, default False
        Graph input uint8 ``(B, H, W, 3)`` RGB, normalized in the graph; else ``(B, 3, H, W)``
        ``(x / 255 - mean) / std`` with ``net.mean`` / ``net.std``.
    optimize : bool, default True
        Fold BatchNorm into the convolutions; :func:`load` adds oneDNN fusion on CPU.
    int8 : bool, default False
        Also int8 graphs calibrated on ``calib_images``: oneDNN (MXNet, CPU) and, with ``onnx``,
        the QDQ ONNX graph (ONNX Runtime; OpenVINO for static graphs), see :mod:`.onnx_int8`.
    calib_images : str or sequence of array, optional
        Folder or list of ``(H, W, 3)`` uint8 RGB images (resized to ``data_shape``, at most
        ``max_calib_images``); they also measure the int8 and bf16 agreements.
    calib_mode : {'naive', 'entropy'}
        Activation ranges from min/max or from KL-divergence thresholds.
    int8_tolerance, bf16_tolerance : float or None
        Minimum :func:`detection_agreement` with fp32 on the calibration images (defaults
        ``DEFAULT_INT8_TOLERANCE``, ``DEFAULT_BF16_TOLERANCE``); below it, or when it cannot be
        measured, ``ValueError`` and nothing written. None: recorded, never refused (and
        ``load`` never picks that precision by itself).
    onnx : bool, default False
        Also ``<name>.onnx`` (the ``onnx`` extra): the whole detector, NMS inside, the MXNet
        graph's outputs ``ids (B, K, 1)``, ``scores (B, K, 1)``, ``bboxes (B, K, 4)``.
    ctx : mxnet.Context, optional
        Where to trace and check; default the context of net's parameters.
    dtype : {'float32', 'float16'}
        Weights and input dtype of the main graph (float16: for GPUs).
    bf16 : bool, default False
        Record OpenVINO bf16's agreement with f32 (``onnx``, OpenVINO, a CPU with bf16 units).
    static_shape : bool, default False
        With ``onnx``: the graph takes ``data_shape`` only (any batch), anchors folded to a
        constant (``<name>-static.onnx``): small models, OpenVINO int8 and static compilation.

    Returns
    -------
    dict
        The manifest (also ``out_dir/manifest.json``).

    Raises
    ------
    OSError
        A file could not be written (naming ``out_dir``); the previous bundle is untouched.
    """
    if data_shape is None and net.base_size is None:
        raise ValueError("this SSD has no base_size: give data_shape=(height, width)")
    data_shape = tuple(data_shape) if data_shape is not None else (net.base_size,) * 2
    _check_export_args(net, data_shape, name, calib_mode, dtype, int8, calib_images,
                       int8_tolerance, onnx, bf16, bf16_tolerance, static_shape)
    name = name or net.model_name or "ssd"
    opts = dict(data_shape=data_shape, preprocess=preprocess, optimize=optimize, dtype=dtype,
                ctx=ctx or next(iter(net.collect_params().values())).list_ctx()[0],
                mean=tuple(net.mean), std=tuple(net.std), int8=int8, calib_images=calib_images,
                calib_mode=calib_mode, int8_tolerance=int8_tolerance, onnx=onnx, bf16=bf16,
                bf16_tolerance=bf16_tolerance, static_shape=static_shape,
                max_calib_images=max_calib_images)
    manifest = _manifest_header(net, name, data_shape, preprocess, dtype)
    _write_bundle(out_dir, name, net, manifest, opts)
    return manifest


def _write_bundle(out_dir, name, net, manifest, opts):
    """Write every file in a temporary folder inside ``out_dir``, then move them in."""
    os.makedirs(out_dir, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=".tmp-export-", dir=out_dir)
    try:
        try:
            files = _write_files(tmp_dir, name, net, manifest, opts)
        except OSError as err:
            raise OSError(err.errno, f"export to {out_dir!r} failed while writing its files "
                                     f"({err}); the previous bundle there, if any, is "
                                     f"unchanged: free space or fix permissions and export "
                                     f"again") from err
        _commit(tmp_dir, out_dir, files)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _write_files(tmp_dir, name, net, manifest, opts):
    """Every graph of the bundle, then its manifest, in ``tmp_dir``: the file names written."""
    files = _write_mxnet_graphs(tmp_dir, name, net, manifest, opts)
    if opts["int8"]:
        entry, int8_files = export_int8(
            tmp_dir, name, manifest["variants"]["fp32"], net.decoder.prefix,
            opts["calib_images"], opts["data_shape"], opts["calib_mode"], opts["preprocess"],
            opts["mean"], opts["std"], opts["int8_tolerance"], opts["max_calib_images"])
        manifest["variants"]["int8"] = entry
        files.extend(int8_files)
    if opts["onnx"]:
        entry, onnx_files = export_onnx(tmp_dir, name, net, **{
            k: opts[k] for k in ("data_shape", "ctx", "preprocess", "mean", "std",
                                 "optimize")}, static=opts["static_shape"])
        if opts["bf16"] or opts["int8"]:
            images = _check_images(opts["calib_images"], opts, opts["max_calib_images"])
        if opts["bf16"]:
            entry["precisions"]["bf16"] = measure_bf16(
                os.path.join(tmp_dir, entry["file"]), images, opts["bf16_tolerance"])
        if opts["int8"] and installed("onnxruntime"):
            entry["precisions"]["int8"], int8_files = export_onnx_int8(
                tmp_dir, entry, images, opts["calib_mode"], opts["int8_tolerance"])
            onnx_files.extend(int8_files)
        elif opts["int8"]:
            warnings.warn("int8=True: no int8 ONNX graph, ONNX Runtime's quantizer is not "
                          "installed (pip install 'gluon_ssd[runtimes]'); the MXNet int8 graph "
                          "and the fp32 ONNX graph are written")
        manifest["variants"]["onnx"] = entry
        files.extend(onnx_files)
    manifest["files"] = {f: {"sha256": file_digest(os.path.join(tmp_dir, f)),
                             "size": os.path.getsize(os.path.join(tmp_dir, f))}
                         for f in files}
    atomic_write_json(manifest, os.path.join(tmp_dir, MANIFEST), indent=2)
    return files


def _commit(tmp_dir, out_dir, files):
    """Move the written files in: old manifest out first, new manifest last (renames only)."""
    manifest_path = os.path.join(out_dir, MANIFEST)
    if os.path.exists(manifest_path):
        os.remove(manifest_path)  # the folder is not a bundle until the new manifest is in
    for fname in files:
        os.replace(os.path.join(tmp_dir, fname), os.path.join(out_dir, fname))
    os.replace(os.path.join(tmp_dir, MANIFEST), manifest_path)


def _check_images(calib_images, opts, limit):
    """The calibration images as the graph's input batch (normalized NCHW, or uint8 NHWC)."""
    pixels = load_images(calib_images, opts["data_shape"], limit=limit)
    return pixels if opts["preprocess"] else normalize_images(pixels, opts["mean"], opts["std"])


def _manifest_header(net, name, data_shape, preprocess, dtype):
    decoder = net.decoder
    mean, std = list(net.mean), list(net.std)
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "model_name": net.model_name, "name": name, **layers_entry(net),
        "classes": list(net.classes), "num_classes": len(net.classes),
        "mxnet_version": mx.__version__,
        "input": {
            "name": "data", "preprocess": bool(preprocess),
            "layout": "NHWC" if preprocess else "NCHW",
            "dtype": "uint8" if preprocess else dtype,
            "shape": [1, data_shape[0], data_shape[1], 3] if preprocess
            else [1, 3, data_shape[0], data_shape[1]],
            "any_size": True, "color": "RGB", "mean": mean, "std": std,
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


def _write_mxnet_graphs(tmp_dir, name, net, manifest, opts):
    """Trace (and fold) the inference graph, write it; the file names written."""
    dtype = opts["dtype"]
    block = net if dtype == "float32" else HalfPrecisionSSD(net)
    sym, args, aux = trace(block, opts["data_shape"], opts["ctx"], opts["preprocess"],
                           opts["mean"], opts["std"])
    folded = 0
    if opts["optimize"]:
        sym, args, aux, folded = fold_batchnorm(sym, args, aux)
    manifest["optimizations"] = {
        "batchnorm_folded": folded,
        "static_alloc": True,
        "cpu_backend": "MKLDNN" if opts["optimize"] else None,
        "cpu_backend_applied": "at load time (gluon_ssd.deploy.load); the saved graph is "
                               "plain MXNet" if opts["optimize"] else None,
    }
    keep = [p.name for p in net.anchor_generators.collect_params().values()]
    main = _write_mxnet(tmp_dir, name, sym, args, aux, dtype, opts["preprocess"], keep)
    manifest["variants"]["fp32" if dtype == "float32" else dtype] = main["entry"]
    return list(main["files"])


def _write_mxnet(tmp_dir, name, sym, args, aux, dtype, preprocess, keep_float32):
    if dtype != "float32":
        if preprocess:
            # The preprocessing's cast of the uint8 input now goes to the target dtype.
            graph = json.loads(sym.tojson())
            for node in graph["nodes"]:
                if node["op"] == "Cast" and graph["nodes"][node["inputs"][0][0]]["name"] == "data":
                    node["attrs"]["dtype"] = dtype
            sym = mx.sym.load_json(json.dumps(graph))
        args, aux = cast_params(sym, args, aux, dtype, keep_float32)
    sym_file, params_file = f"{name}-symbol.json", f"{name}-0000.params"
    sym.save(os.path.join(tmp_dir, sym_file))
    _save_params(os.path.join(tmp_dir, params_file), args, aux)
    return {"files": [sym_file, params_file],
            "entry": {"symbol": sym_file, "params": params_file, "dtype": dtype,
                      "reload": f"mx.gluon.SymbolBlock.imports('{sym_file}', ['data'], "
                                f"'{params_file}')"}}



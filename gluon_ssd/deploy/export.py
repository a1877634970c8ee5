"""Export a detector as a bundle: the MXNet graphs, int8, ONNX (+ bf16 record), the manifest.

Every file is written in a temporary folder inside the bundle folder; only when all of them are
written (and the int8 / bf16 agreements passed) are they moved in with ``os.replace``, the old
manifest removed just before and the new one moved in last. A failed write (disk full, a
read-only folder), a refusal or an interruption before that point leaves the previous bundle as
it was, and no temporary file.
"""
import dataclasses
import json
import os
import shutil
import tempfile
import warnings

import mxnet as mx

from ..utils.fileio import atomic_write_json, file_digest
from .bf16 import measure_bf16
from .bundle import FORMAT, FORMAT_VERSION, MANIFEST, layers_entry
from .graph import HalfPrecisionSSD, cast_params, fold_batchnorm, trace
from .images import load_images, normalize_images
from .int8 import export_int8
from .onnx_export import export_onnx
from .onnx_int8 import export_onnx_int8
from .options import DTYPES, ExportOptions
from .runtimes import installed

__all__ = ["export", "ExportOptions", "DTYPES"]

def _save_params(path, args, aux):
    save = {f"arg:{k}": v for k, v in args.items()}
    save.update({f"aux:{k}": v for k, v in aux.items()})
    mx.nd.save(path, save)


def export(net, out_dir, data_shape=None, options=None, **kwargs):
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
    options : ExportOptions, optional
        Everything else; or give its fields as keywords (``name=``, ``int8=``, ``onnx=``...,
        see :class:`~gluon_ssd.deploy.ExportOptions`), not both.

    Returns
    -------
    dict
        The manifest (also ``out_dir/manifest.json``).

    Raises
    ------
    TypeError
        ``net`` is not a gluon_ssd SSD, an unknown option, or both ``options`` and keywords.
    ValueError
        A bad option value or combination (before anything is written), or an int8 / bf16
        agreement below its tolerance (nothing written).
    OSError
        A file could not be written (naming ``out_dir``); the previous bundle is untouched.
    """
    if options is None:
        options = ExportOptions(data_shape=data_shape, **kwargs)
    elif kwargs:
        raise TypeError(f"give the options as options=ExportOptions(...) or as keywords, not "
                        f"both: got options and {sorted(kwargs)}")
    elif data_shape is not None:
        options = dataclasses.replace(options, data_shape=data_shape)
    options = options.for_net(net)
    manifest = _manifest_header(net, options)
    _write_bundle(out_dir, net, manifest, options)
    return manifest


def _write_bundle(out_dir, net, manifest, options):
    """Write every file in a temporary folder inside ``out_dir``, then move them in."""
    os.makedirs(out_dir, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=".tmp-export-", dir=out_dir)
    try:
        try:
            files = _write_files(tmp_dir, net, manifest, options)
        except OSError as err:
            raise OSError(err.errno, f"export to {out_dir!r} failed while writing its files "
                                     f"({err}); the previous bundle there, if any, is "
                                     f"unchanged: free space or fix permissions and export "
                                     f"again") from err
        _commit(tmp_dir, out_dir, files)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _write_files(tmp_dir, net, manifest, options):
    """Every graph of the bundle, then its manifest, in ``tmp_dir``: the file names written."""
    files = _write_mxnet_graphs(tmp_dir, net, manifest, options)
    calib = _calibration_batch(net, options) if options.int8 or options.bf16 else None
    if options.int8:
        entry, int8_files = export_int8(tmp_dir, manifest["variants"]["fp32"], calib,
                                        net.decoder.prefix, options)
        manifest["variants"]["int8"] = entry
        files.extend(int8_files)
    if options.onnx:
        entry, onnx_files = export_onnx(tmp_dir, net, options)
        if options.bf16:
            entry["precisions"]["bf16"] = measure_bf16(
                os.path.join(tmp_dir, entry["file"]), calib, options.bf16_tolerance)
        if options.int8 and installed("onnxruntime"):
            entry["precisions"]["int8"], int8_files = export_onnx_int8(
                tmp_dir, entry, calib, options.calib_mode, options.int8_tolerance)
            onnx_files.extend(int8_files)
        elif options.int8:
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


def _calibration_batch(net, options):
    """The calibration images as the graph's input batch (normalized NCHW, or uint8 NHWC)."""
    pixels = load_images(options.calib_images, options.data_shape,
                         limit=options.max_calib_images)
    return pixels if options.preprocess else normalize_images(pixels, net.mean, net.std)


def _manifest_header(net, options):
    decoder, name, data_shape = net.decoder, options.name, options.data_shape
    preprocess, dtype = options.preprocess, options.dtype
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


def _write_mxnet_graphs(tmp_dir, net, manifest, options):
    """Trace (and fold) the inference graph, write it; the file names written."""
    dtype = options.dtype
    block = net if dtype == "float32" else HalfPrecisionSSD(net)
    sym, args, aux = trace(block, options.data_shape, options.ctx, options.preprocess, net.mean,
                           net.std)
    folded = 0
    if options.optimize:
        sym, args, aux, folded = fold_batchnorm(sym, args, aux)
    manifest["optimizations"] = {
        "batchnorm_folded": folded,
        "static_alloc": True,
        "cpu_backend": "MKLDNN" if options.optimize else None,
        "cpu_backend_applied": "at load time (gluon_ssd.deploy.load); the saved graph is "
                               "plain MXNet" if options.optimize else None,
    }
    keep = [p.name for p in net.anchor_generators.collect_params().values()]
    main = _write_mxnet(tmp_dir, options.name, sym, args, aux, dtype, options.preprocess, keep)
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



"""A bundle folder: its manifest, the check of every file it lists, reading its MXNet graphs.

The manifest (``manifest.json``, written last by :func:`gluon_ssd.deploy.export`) lists each
file with its size and sha256. It may only name plain files *inside* the bundle folder: a name
with a path separator, ``..``, an absolute path, or a symlink resolving outside the folder is
refused (a shared or downloaded bundle must not make the loader read other files).

It also records the detector's ``base_size`` and ``layers`` (one
:meth:`gluon_ssd.LayerSpec.to_dict` record per prediction layer); :func:`verify_bundle` checks
them against the main MXNet graph (:func:`graph_layers`). Bundles written before these fields
load unchecked.
"""
import ast
import json
import os
import warnings

import mxnet as mx

from ..data.classes import check_class_names
from ..utils.checks import is_finite_number
from ..utils.fileio import contained_path, file_digest, read_json
from ..model.ssd import LayerSpec, check_saved_layers

__all__ = ["verify_bundle", "read_manifest", "bundle_path", "graph_layers", "layers_entry",
           "MANIFEST", "FORMAT", "FORMAT_VERSION"]

MANIFEST = "manifest.json"
FORMAT = "gluon_ssd-bundle"
FORMAT_VERSION = 1


def bundle_path(out_dir, fname):
    """The path of ``fname`` inside the bundle ``out_dir``, checked to stay inside it.

    Parameters
    ----------
    out_dir : str
        Bundle folder.
    fname : str
        A name from the manifest.

    Returns
    -------
    str
        ``os.path.join(out_dir, fname)``.

    Raises
    ------
    ValueError
        ``fname`` is not a plain file name (empty, ``.`` / ``..``, a path separator, absolute),
        or it is a symlink whose target is outside ``out_dir``; the message names the entry.
    """
    return contained_path(out_dir, fname, f"bundle {out_dir!r}: {MANIFEST} entry")


def verify_bundle(out_dir):
    """Read ``manifest.json`` and check every listed file's name, size and sha256.

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
        The manifest is not a bundle manifest; an entry is not a plain file inside the folder
        (see :func:`bundle_path`); a file's size or sha256 differs from it (truncated, altered,
        or from another export); its ``layers`` differ from the main graph's (see
        :func:`graph_layers`: channels, step, map size at ``base_size``, anchors per location).
        The message names the file.
    """
    manifest = read_manifest(out_dir)
    for fname, info in manifest["files"].items():
        path = bundle_path(out_dir, fname)
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
    _check_layers_against_graph(out_dir, manifest)
    return manifest


def layers_entry(net):
    """The manifest fields describing ``net``'s prediction layers (plain JSON).

    Returns
    -------
    dict
        ``{"base_size": int or None, "layers": [LayerSpec.to_dict(), ...]}`` (map sizes at
        ``base_size``).
    """
    return {"base_size": net.base_size, "layers": [spec.to_dict() for spec in net.layers]}


def _main_graph(manifest):
    """The manifest entry of the MXNet graph the layers are read from (fp32, else float16)."""
    for variant in ("fp32", "float16"):
        if variant in manifest["variants"]:
            return manifest["variants"][variant]
    return None


def graph_layers(symbol_file, base_size, preprocess):
    """What an exported graph says of each prediction layer, read off its anchor generators.

    Each :class:`~gluon_ssd.blocks.SSDAnchorGenerator` is traced as ``arange_like`` on its map
    (axis 2: rows), ``+ offset``, ``* step``, next to its ``anchor_wh`` constant of shape
    ``(1, A, 2)``; the map's shape comes from shape inference at a ``base_size`` square input.

    Parameters
    ----------
    symbol_file : str
        A ``-symbol.json`` written by :func:`gluon_ssd.deploy.export`.
    base_size : int
        Input side for the map sizes.
    preprocess : bool
        Whether the graph takes ``(B, H, W, 3)`` pixels (else ``(B, 3, H, W)``).

    Returns
    -------
    list of dict
        Per layer, in graph order: ``channels``, ``step``, ``map_size`` (``[H, W]``) and
        ``num_anchors``.

    Raises
    ------
    ValueError
        The graph has no anchor generator this function can read.
    """
    with open(symbol_file, encoding="utf-8") as f:
        nodes = json.load(f)["nodes"]
    consumers = {}
    for i, node in enumerate(nodes):
        for src, _, _ in node["inputs"]:
            consumers.setdefault(src, []).append(i)
    by_name = {node["name"]: node for node in nodes}
    internals = mx.sym.load(symbol_file).get_internals()
    names = internals.list_outputs()
    layers, maps = [], []
    for i, node in enumerate(nodes):
        if node["op"] != "_contrib_arange_like" or node.get("attrs", {}).get("axis") != "2":
            continue
        prefix = node["name"].rsplit("arange_like", 1)[0]
        wh = by_name.get(f"{prefix}anchor_wh", {}).get("attrs", {}).get("__shape__")
        steps = [nodes[m] for p in consumers.get(i, []) if nodes[p]["op"] == "_plus_scalar"
                 for m in consumers.get(p, []) if nodes[m]["op"] == "_mul_scalar"]
        if wh is None or len(steps) != 1:
            raise ValueError(f"{symbol_file}: anchor generator {prefix!r} is not laid out as "
                             f"gluon_ssd exports it (arange_like, + offset, * step, anchor_wh)")
        src, out, _ = node["inputs"][0]
        name = nodes[src]["name"]
        maps.append(internals[names.index(f"{name}_output" if f"{name}_output" in names
                                          else f"{name}_output{out}")])
        layers.append({"step": float(steps[0]["attrs"]["scalar"]),
                       "num_anchors": int(ast.literal_eval(wh)[1])})
    if not layers:
        raise ValueError(f"{symbol_file} has no anchor generator: not an SSD graph of gluon_ssd")
    shape = (1, base_size, base_size, 3) if preprocess else (1, 3, base_size, base_size)
    _, shapes, _ = mx.sym.Group(maps).infer_shape_partial(data=shape)
    for layer, (_, c, h, w) in zip(layers, shapes):
        layer.update(channels=int(c), map_size=[int(h), int(w)])
    return layers


def _check_layers_against_graph(out_dir, manifest):
    """The manifest's ``layers`` against its main graph's (manifests without them pass)."""
    entry = _main_graph(manifest)
    if manifest.get("layers") is None or entry is None:
        return
    base = manifest.get("base_size")
    fields = ["channels", "step", "num_anchors"] + (["map_size"] if base else [])
    symbol_file = bundle_path(out_dir, entry["symbol"])
    preprocess = manifest["input"]["preprocess"]
    # Without a base size only channels, steps and anchors are compared: at the export height.
    side = base or manifest["input"]["shape"][1 if preprocess else 2]
    graph = graph_layers(symbol_file, side, preprocess)
    check_saved_layers(manifest["layers"], graph, os.path.join(out_dir, MANIFEST),
                       f"the graph {entry['symbol']}", fields)


def read_manifest(out_dir):
    """The manifest of ``out_dir``, checked for format, version and plain file names (no digest).

    Raises ``FileNotFoundError`` without a manifest and ``ValueError`` for a damaged one, an
    unknown format version, or a file entry that is not a plain name (see :func:`bundle_path`).
    """
    path = os.path.join(out_dir, MANIFEST)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no {MANIFEST} in {out_dir!r}: not an exported bundle, or its "
                                f"export did not finish (the manifest is written last)")
    manifest = read_json(path, ": the manifest is damaged")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
            or not isinstance(manifest.get("files"), dict) \
            or not isinstance(manifest.get("variants"), dict):
        raise ValueError(f"{path} is not a {FORMAT} manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has format_version {manifest.get('format_version')!r}; this "
                         f"gluon_ssd reads version {FORMAT_VERSION}")
    for fname, info in manifest["files"].items():
        bundle_path(out_dir, fname)
        if not isinstance(info, dict) or not _is_int(info.get("size"), 0) \
                or not isinstance(info.get("sha256"), str):
            raise ValueError(f"{path}: files entry {fname!r} must be {{'size': int >= 0, "
                             f"'sha256': str}}, got {info!r}; re-export the model")
    _check_header(manifest, path)
    for variant, entry in manifest["variants"].items():
        _check_variant(variant, entry, manifest["files"], path)
    return manifest


def _is_int(value, minimum):
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _check_header(manifest, path):
    """The fields :func:`gluon_ssd.deploy.load` and the detector read: classes, input, layers."""
    try:
        check_class_names(manifest.get("classes"))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: classes: {err}") from None
    spec = manifest.get("input")
    if not isinstance(spec, dict) or not isinstance(spec.get("preprocess"), bool) \
            or not isinstance(spec.get("dtype"), str) or not isinstance(spec.get("shape"), list) \
            or len(spec["shape"]) != 4 or not all(_is_int(v, 1) for v in spec["shape"]):
        raise ValueError(f"{path}: input must be a mapping with preprocess (bool), dtype (str) "
                         f"and shape (4 ints >= 1), got {spec!r}")
    if not isinstance(manifest.get("optimizations", {}), dict):
        raise ValueError(f"{path}: optimizations must be a mapping, got "
                         f"{manifest['optimizations']!r}")
    base = manifest.get("base_size")
    if base is not None and not _is_int(base, 1):
        raise ValueError(f"{path}: base_size must be an int >= 1 or null, got {base!r}")
    layers = manifest.get("layers")
    if layers is not None:
        if not isinstance(layers, list):
            raise ValueError(f"{path}: 'layers' must be a list of per-layer records, got "
                             f"{layers!r}")
        for k, record in enumerate(layers):
            LayerSpec.from_dict(record, f"{path}: layers[{k}]")


_INT8_GRAPH_KEYS = ("file", "format", "calib_mode", "num_calib_images")


def _onnx_records(entry, files, path):
    """The per-precision (and, for int8, per-runtime) records of the ONNX entry."""
    bad = ValueError(f"{path}: variant 'onnx' has a malformed input or precisions entry: "
                     f"{entry!r}; re-export the model")
    spec, precisions = entry.get("input", {}), entry.get("precisions", {})
    if not isinstance(spec, dict) or not isinstance(spec.get("shape", []), list) \
            or not isinstance(precisions, dict) or not isinstance(precisions.get("int8", {}), dict):
        raise bad
    int8 = precisions.get("int8", {})
    if "file" in int8 and (not isinstance(int8["file"], str) or int8["file"] not in files):
        raise bad
    # The int8 record describes its graph (file, format, calib_mode, num_calib_images) beside
    # one agreement record per runtime: only those are records.
    records = [v for k, v in precisions.items() if k != "int8"] + \
        [v for k, v in int8.items() if k not in _INT8_GRAPH_KEYS]
    if not all(isinstance(record, dict) for record in records):
        raise bad
    return records


def _check_variant(variant, entry, files, path):
    """A variant entry: a mapping naming listed files, with numeric agreement records."""
    needs = ("file",) if variant == "onnx" else ("symbol", "params")
    if not isinstance(entry, dict) or any(key not in entry for key in needs):
        raise ValueError(f"{path}: variant {variant!r} must be a mapping with "
                         f"{' and '.join(needs)}, got {entry!r}")
    for key in ("symbol", "params", "file"):
        if key in entry and (not isinstance(entry[key], str) or entry[key] not in files):
            raise ValueError(f"{path}: variant {variant!r} names {entry[key]!r}, which is not "
                             f"among the files it lists; re-export the model")
    records = [entry] + (_onnx_records(entry, files, path) if variant == "onnx" else [])
    for record in records:
        agreement = record.get("agreement")
        values = [record.get("min_required")] + (
            [agreement.get("map"), agreement.get("min_required")]
            if isinstance(agreement, dict) else [agreement])
        if not all(v is None or is_finite_number(v) for v in values):
            raise ValueError(f"{path}: variant {variant!r}: agreement records must be numbers "
                             f"or null, got {record!r}")


def import_graph(folder, entry, ctx=None):
    """An MXNet graph of a bundle as a ``SymbolBlock`` (not hybridized).

    Parameters
    ----------
    folder : str
        Bundle (or export temporary) folder.
    entry : dict
        The variant's manifest entry, with ``symbol`` and ``params`` file names.
    ctx : mxnet.Context, optional

    Raises
    ------
    ValueError
        The symbol is not an MXNet graph, or the params file is not an MXNet NDArray file or
        does not hold the graph's weights (the message names the file).
    """
    sym_path = bundle_path(folder, entry["symbol"])
    params_path = bundle_path(folder, entry["params"])
    try:
        mx.sym.load(sym_path)
    except mx.base.MXNetError as err:
        raise ValueError(f"{sym_path} is not an MXNet symbol file (-symbol.json): "
                         f"{str(err).splitlines()[0]}") from None
    try:
        mx.nd.load(params_path)
    except mx.base.MXNetError:
        raise ValueError(f"{params_path} is not an MXNet parameters file (NDArray list "
                         f"written by mx.nd.save / export); re-export the model") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Cannot decide type for the following arguments: data"
        try:
            return mx.gluon.SymbolBlock.imports(sym_path, ["data"], params_path, ctx=ctx)
        except (mx.base.MXNetError, AssertionError, KeyError) as err:
            raise ValueError(f"{params_path} does not hold the weights of {sym_path}: "
                             f"{str(err).splitlines()[0]}") from None

"""A bundle folder: its manifest, the check of every file it lists, reading its MXNet graphs.

The manifest (``manifest.json``, written last by :func:`gluon_ssd.deploy.export`) lists each
file with its size and sha256. It may only name plain files *inside* the bundle folder: a name
with a path separator, ``..``, an absolute path, or a symlink resolving outside the folder is
refused (a shared or downloaded bundle must not make the loader read other files).
"""
import json
import os
import warnings

import mxnet as mx

from ..fileio import contained_path, file_digest

__all__ = ["verify_bundle", "read_manifest", "bundle_path", "MANIFEST", "FORMAT",
           "FORMAT_VERSION"]

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
        or from another export). The message names the file.
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
    return manifest


def read_manifest(out_dir):
    """The manifest of ``out_dir``, checked for format, version and plain file names (no digest).

    Raises ``FileNotFoundError`` without a manifest and ``ValueError`` for a damaged one, an
    unknown format version, or a file entry that is not a plain name (see :func:`bundle_path`).
    """
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
            or not isinstance(manifest.get("files"), dict) \
            or not isinstance(manifest.get("variants"), dict):
        raise ValueError(f"{path} is not a {FORMAT} manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has format_version {manifest.get('format_version')!r}; this "
                         f"gluon_ssd reads version {FORMAT_VERSION}")
    for fname in manifest["files"]:
        bundle_path(out_dir, fname)
    for variant, entry in manifest["variants"].items():
        for key in ("symbol", "params", "file"):
            if key in entry and entry[key] not in manifest["files"]:
                raise ValueError(f"{path}: variant {variant!r} names {entry[key]!r}, which is not "
                                 f"among the files it lists; re-export the model")
    return manifest


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

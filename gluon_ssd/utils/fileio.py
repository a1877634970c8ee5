"""Files that are never seen half-written, and their digests.

Every file this package writes for later use (checkpoints, logs, exported bundles, manifests,
figures, detections) goes through :func:`atomic_write`: the content is written to a temporary
file in the destination's folder, flushed to disk, then renamed over the destination
(``os.replace`` is atomic on POSIX and Windows). A crash or kill at any moment leaves either the
old file or the new one, never a partial file, and no temporary file once the exception unwinds.
"""
import hashlib
import json
import os
import uuid

__all__ = ["atomic_write", "atomic_write_json", "file_digest", "contained_path", "read_json"]

_CHUNK = 1 << 20


def atomic_write(path, write):
    """Create or replace ``path`` through ``write(tmp_path)``, then an atomic rename.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist.
    write : callable
        Called with a temporary path in the same folder; must write the whole content there
        (e.g. ``net.save_parameters``, ``fig.savefig``).
    """
    path = os.fspath(path)
    folder, base = os.path.split(path)
    tmp = os.path.join(folder, f".{base}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def atomic_write_json(obj, path, indent=1):
    """:func:`atomic_write` of ``obj`` as UTF-8 JSON."""
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=indent)

    return atomic_write(path, write)


def read_json(path, advice=""):
    """The content of the JSON file ``path``, or a ``ValueError`` naming it.

    Parameters
    ----------
    path : str or os.PathLike
    advice : str
        Appended to the message of a refusal (e.g. ``"; re-export the model"``).

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        From ``open``; the message names ``path``.
    ValueError
        The file is not UTF-8 JSON: malformed, nested too deeply for the parser, or holding an
        integer of more digits than Python converts; the message names ``path``.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as err:  # JSONDecodeError, UnicodeDecodeError: ValueErrors
        reason = " ".join(str(err).split()) or type(err).__name__
        raise ValueError(f"{path}: not valid JSON ({reason}){advice}") from None


def contained_path(folder, name, what):
    """``folder/name`` for a ``name`` read from a record in ``folder``, if it stays inside.

    A record (a bundle manifest, a checkpoint's ``latest.json``) names its files; it may only
    name plain files of its own folder, so a crafted record cannot make us read, verify or
    unpickle a file elsewhere.

    Parameters
    ----------
    folder : str
        The record's folder.
    name : str
        The file name the record holds.
    what : str
        Which entry of which record, put before the name in the message (e.g.
        ``"run/latest.json entry 'params' ="``).

    Raises
    ------
    ValueError
        ``name`` is not a string, is empty, ``.`` or ``..``, holds a path separator, is absolute,
        or is a symlink whose target is outside ``folder``.
    """
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name \
            or os.sep in name or os.path.isabs(name) or "\0" in name:
        raise ValueError(f"{what} {name!r} is not a plain file name inside {folder} (no path "
                         f"separator, no '..', not absolute): refusing it")
    path = os.path.join(folder, name)
    if os.path.islink(path) and os.path.dirname(os.path.realpath(path)) \
            != os.path.realpath(folder):
        raise ValueError(f"{what} {name!r} is a symlink to {os.path.realpath(path)}, outside "
                         f"{folder}: refusing it")
    return path


def file_digest(path, algorithm="sha256"):
    """Hex digest (``'sha256'``, ``'sha1'``, ...) of a file, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()

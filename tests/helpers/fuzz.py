"""Fuzzing the readers of untrusted files: Hypothesis strategies that mutate a valid file, and
the one rule every reader is held to (not a test module).

A fuzz test takes a valid document, lets Hypothesis mutate it (``mutated_json``,
``mutated_yaml``, ``mutated_xml`` or ``mutated_bytes``), writes the result where the reader
looks, and calls :func:`load_or_refuse`: the reader either loads (the test then checks what it
loaded: finite boxes inside the image, known classes...) or raises ``ValueError`` / ``OSError``
whose message names the file. Any other exception (``TypeError: unhashable type``,
``OverflowError``, ``KeyError``...) fails the test, and Hypothesis shrinks it to a small example.

Runs are bounded and repeatable: :data:`FUZZ` fixes the example count, a deadline per example
and derandomizes (the same examples on every run, no example database); a test sets its own
count with ``@fuzz_settings(N)``.

Adding a reader: one test module with a valid document, a function writing the mutated bytes and
calling the reader through :func:`load_or_refuse`, and checks of what a successful load gave::

    @fuzz_settings(200)
    @given(data=mutated_json(VALID))
    def test_my_reader(folder, data):
        path = write_bytes(folder / "x.json", data)
        loaded = load_or_refuse(lambda: read_my_file(path), path)
        if loaded is not None:
            assert ...   # what a load promises
"""
import copy
import json
import os
import warnings
import xml.etree.ElementTree as ET

import yaml
from hypothesis import HealthCheck, currently_in_test_context, event, settings
from hypothesis import strategies as st

__all__ = ["fuzz_settings", "mutated_bytes", "mutated_json", "mutated_yaml", "mutated_xml",
           "load_or_refuse", "write_bytes", "REPLACEMENTS", "TOKENS"]

# Per example: readers take milliseconds; the margin is for 8 test runs sharing 2 cores.
DEADLINE_MS = 2000


def fuzz_settings(max_examples):
    """Hypothesis settings of a fuzz test: ``max_examples`` fixed examples, derandomized."""
    return settings(max_examples=max_examples, deadline=DEADLINE_MS, derandomize=True,
                    database=None, print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture,
                                           HealthCheck.large_base_example,
                                           HealthCheck.filter_too_much])


# Byte strings inserted into or written over a file: numbers a float or int conversion chokes
# on, markup and JSON/YAML syntax out of place, NUL, invalid UTF-8, paths.
TOKENS = (b"nan", b"NaN", b"inf", b"-inf", b"Infinity", b"1e309", b"-1e309", b"-1", b"0",
          b"1e300", b"99999999999999999999999", b"1.5", b"<x/>", b"</", b"\x00", b"\xff\xfe",
          b"null", b"[]", b"{}", b"[", b"{", b'"', b",", b":", b"- ", b"\n", b"&amp;", b"&x;",
          b"<!DOCTYPE a>", b"../", b"/etc/passwd", b"true", b"'", b"!!python/object", b"*a",
          b"&a ", b"\t", "\u00e9".encode())

# The number 1e309 as it appears in a file (JSON has no literal for infinity: Python reads it
# as inf); written through a placeholder string replaced after serialization.
_RAW_1E309 = "@@raw-1e309@@"

# Values a JSON or YAML entry is swapped for: null, containers, huge or infinite numbers,
# wrong types, paths; ``(...)`` marks "the old value inside a list / an object".
REPLACEMENTS = (None, [], {}, "[old]", "{old}", 10 ** 400, float("inf"), float("-inf"),
                float("nan"), _RAW_1E309, -1, 0, 1.5, 1e300, -1e300, 2 ** 63, "", "x", True,
                False, "../x", "/etc/passwd", "a/b", "nan")


def _paths(doc, prefix=()):
    """Every path (tuple of keys / indices) into a JSON-like document, the root excluded."""
    found = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) \
        if isinstance(doc, list) else ()
    for key, value in items:
        found.append(prefix + (key,))
        found.extend(_paths(value, prefix + (key,)))
    return found


def _apply(doc, path, op, new):
    """Apply one edit at ``path``: 'set' to ``new``, 'drop', 'duplicate', or 'add' a key."""
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    old = parent[key]
    # A fresh copy: REPLACEMENTS' [] and {} are shared objects, and a later 'add' into one of
    # them would change it for every example (and could make a document contain itself).
    new = copy.deepcopy(new)
    if op == "set":
        parent[key] = [old] if new == "[old]" else {"k": old} if new == "{old}" else new
    elif op == "drop":
        del parent[key]
    elif op == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(old))
    elif op == "duplicate":
        parent[f"{key}_copy"] = copy.deepcopy(old)
    elif op == "add" and isinstance(old, dict):
        old["unexpected"] = new
    elif op == "add" and isinstance(old, list):
        old.append(new)


@st.composite
def _edited_doc(draw, doc, max_edits=2):
    """A deep copy of ``doc`` with 1..``max_edits`` structural edits."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, max_edits))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(("set", "set", "set", "drop", "duplicate", "add")))
        _apply(doc, path, op, draw(st.sampled_from(REPLACEMENTS)))
    return doc


def _json_text(doc):
    text = json.dumps(doc, allow_nan=True)
    return text.replace(f'"{_RAW_1E309}"', "1e309").encode()


_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)     # libyaml's when built with it


def _yaml_text(doc):
    text = yaml.dump(doc, Dumper=_YAML_DUMPER, allow_unicode=True, sort_keys=False)
    return text.replace(f"'{_RAW_1E309}'", "1e309").replace(_RAW_1E309, "1e309").encode()


@st.composite
def mutated_bytes(draw, data, max_edits=3):
    """``data`` (bytes) with 1..``max_edits`` byte edits: a span deleted, a token inserted or
    written over a span, a span duplicated."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, max_edits))):
        start = draw(st.integers(0, len(data)))
        end = min(len(data), start + draw(st.integers(0, 12)))
        op = draw(st.sampled_from(("delete", "insert", "overwrite", "duplicate")))
        token = draw(st.sampled_from(TOKENS))
        if op == "delete":
            del data[start:end]
        elif op == "insert":
            data[start:start] = token
        elif op == "overwrite":
            data[start:end] = token
        else:
            data[start:start] = data[start:end]
    return bytes(data)


@st.composite
def _then_maybe_bytes(draw, text):
    """``text``, or (one time in four) ``text`` with byte edits on top."""
    return draw(mutated_bytes(text)) if draw(st.integers(0, 3)) == 0 else text


def mutated_json(doc):
    """JSON bytes of ``doc`` after structural edits, sometimes byte edits on top."""
    return _edited_doc(doc).map(_json_text).flatmap(_then_maybe_bytes)


def mutated_yaml(doc):
    """YAML bytes of ``doc`` after structural edits, sometimes byte edits on top."""
    return _edited_doc(doc).map(_yaml_text).flatmap(_then_maybe_bytes)


_XML_TEXTS = ("nan", "inf", "-inf", "1e309", "-1e309", "1e300", "-1", "0", "", " ", "1.5",
              "99999999999999999999999", "x", "0x10", "1_0", "\u00e9", "dog cat", " dog ")


@st.composite
def _edited_xml(draw, text, max_edits=3):
    root = ET.fromstring(text)
    for _ in range(draw(st.integers(1, max_edits))):
        elements = list(root.iter())
        k = draw(st.integers(0, len(elements) - 1))
        element = elements[k]
        parent = next((p for p in root.iter() if element in list(p)), None)
        op = draw(st.sampled_from(("text", "text", "text", "drop", "duplicate", "child")))
        if op == "text" or parent is None and op in ("drop", "duplicate"):
            element.text = draw(st.sampled_from(_XML_TEXTS))
        elif op == "drop":
            parent.remove(element)
        elif op == "duplicate":
            parent.insert(list(parent).index(element), copy.deepcopy(element))
        else:
            ET.SubElement(element, draw(st.sampled_from(("x", "name", "bndbox", "xmin",
                                                         "size", "object"))))
    return ET.tostring(root)


def mutated_xml(text):
    """XML bytes of ``text`` (a str) after element edits (text swapped, element dropped,
    duplicated, a child added), sometimes byte edits on top."""
    return _edited_xml(text).flatmap(_then_maybe_bytes)


def write_bytes(path, data):
    """Write ``data`` to ``path`` (replacing it); returns ``str(path)``."""
    with open(path, "wb") as f:
        f.write(data)
    return os.fspath(path)


def load_or_refuse(load, named):
    """``load()``'s result, or None when it refused the file with the documented error.

    ``ValueError`` and ``OSError`` are refusals; their message must contain ``named`` (the file,
    or what names it: ``'--config x.yaml'``). Warnings are silenced (readers warn about repairs).
    Any other exception propagates: a fuzz test fails on it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = load()
        except (ValueError, OSError) as err:
            assert named in str(err), f"{type(err).__name__} does not name {named}: {err}"
            _event(f"refused: {type(err).__name__}")
            return None
    _event("loaded")
    return result


def _event(name):
    """Count an outcome in Hypothesis' statistics (``--hypothesis-show-statistics``)."""
    if currently_in_test_context():
        event(name)

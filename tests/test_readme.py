"""Every ```python block of README.md and docs/*.md runs as written, each in a fresh interpreter;
their relative links point at files that exist, and the gluon_ssd names they mention exist.

A block preceded by a line ``<!-- not run: reason -->`` is skipped by construction (it downloads
weights, needs files made elsewhere, or trains for minutes): the list of such blocks is asserted,
so a new block runs unless someone marks it and says why.
"""
import glob
import importlib
import os
import re
import subprocess
import sys

import pytest

import gluon_ssd

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["README.md"] + sorted(os.path.relpath(p, REPO)
                               for p in glob.glob(os.path.join(REPO, "docs", "*.md")))
_BLOCK = re.compile(r"(?:^<!-- not run: (?P<why>[^\n]*?) -->\n)?^```python\n(?P<code>.*?)^```$",
                    re.M | re.S)
# [text](target) outside code; the target up to an optional #anchor
_LINK = re.compile(r"\]\((?!https?://|#)(?P<target>[^)#\s]+)(?:#[^)]*)?\)")


def _read(page):
    with open(os.path.join(REPO, page), encoding="utf-8") as f:
        return f.read()


def _blocks(page):
    text = _read(page)
    return [(m.group("why"), m.group("code"), text[:m.start()].count("\n") + 1)
            for m in _BLOCK.finditer(text)]


RUN = [(f"{page}:{line}", code) for page in PAGES for why, code, line in _blocks(page)
       if why is None]


def test_pages_have_blocks_to_run_and_say_why_others_are_not():
    assert "docs/models.md" in PAGES and "docs/benchmarks.md" in PAGES, PAGES
    assert any(where.startswith("README.md:") for where, _ in RUN)
    assert sum(not where.startswith("README.md:") for where, _ in RUN) >= 3
    for page in PAGES:
        assert all(why.strip() for why, _, _ in _blocks(page) if why is not None), page


def test_block_pattern_reads_marks_and_code():
    # Two blocks: the first marked (its reason kept), the second run; other languages ignored.
    text = ("<!-- not run: downloads -->\n```python\na = 1\n```\n```bash\nls\n```\n"
            "```python\nb = 2\n```\n")
    found = [(m.group("why"), m.group("code")) for m in _BLOCK.finditer(text)]
    assert found == [("downloads", "a = 1\n"), (None, "b = 2\n")]


@pytest.mark.parametrize("where, code", RUN, ids=[where for where, _ in RUN])
def test_block_runs(where, code, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    proc = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{where}\n{code}\n{proc.stderr[-3000:]}"


def _link_targets(page):
    """Relative link targets of ``page`` outside code blocks, as paths from the repository."""
    text = re.sub(r"^```.*?^```$", "", _read(page), flags=re.M | re.S)
    folder = os.path.dirname(page)
    return [os.path.normpath(os.path.join(folder, m.group("target")))
            for m in _LINK.finditer(text)]


def test_readme_links_every_docs_page():
    linked = set(_link_targets("README.md"))
    assert set(PAGES[1:]) <= linked, sorted(set(PAGES[1:]) - linked)


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_exist(page):
    missing = [t for t in _link_targets(page) if not os.path.exists(os.path.join(REPO, t))]
    assert not missing, f"{page}: missing link targets {missing}"


def test_package_names_the_pages_mention_exist():
    # Every dotted gluon_ssd.* name of the pages is a module or an attribute of one (old module
    # names resolve through gluon_ssd.MOVED).
    names = sorted({name for page in PAGES
                    for name in re.findall(r"\bgluon_ssd(?:\.[A-Za-z_]\w*)+", _read(page))})
    missing = []
    for name in names:
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
                break
            except ImportError:
                continue
        for attr in parts[i:]:
            obj = getattr(obj, attr, None)
        if obj is None:
            missing.append(name)
    assert len(names) > 20 and not missing, missing


def test_architecture_page_lists_every_moved_module():
    # The old -> new table of docs/architecture.md is gluon_ssd.MOVED, row for row.
    rows = re.findall(r"^\| `(gluon_ssd[\w.]*)` \| `(gluon_ssd[\w.]*)` \|$",
                      _read("docs/architecture.md"), re.M)
    assert dict(rows) == gluon_ssd.MOVED and len(rows) == len(gluon_ssd.MOVED)

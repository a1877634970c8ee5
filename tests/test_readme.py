"""Every ```python block of README.md runs as written, each in a fresh interpreter.

A block preceded by a line ``<!-- not run: reason -->`` is skipped by construction (it downloads
weights, needs files made elsewhere, or trains for minutes): the list of such blocks is asserted,
so a new block runs unless someone marks it and says why.
"""
import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BLOCK = re.compile(r"(?:^<!-- not run: (?P<why>[^\n]*?) -->\n)?^```python\n(?P<code>.*?)^```$",
                    re.M | re.S)


def _blocks():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        text = f.read()
    return [(m.group("why"), m.group("code"), text[:m.start()].count("\n") + 1)
            for m in _BLOCK.finditer(text)]


RUN = [(line, code) for why, code, line in _blocks() if why is None]


def test_readme_has_blocks_to_run_and_says_why_others_are_not():
    blocks = _blocks()
    assert len(RUN) >= 3
    assert all(why.strip() for why, _, _ in blocks if why is not None)


@pytest.mark.parametrize("line, code", RUN, ids=[f"README.md:{line}" for line, _ in RUN])
def test_readme_block_runs(line, code, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"README.md:{line}\n{code}\n{proc.stderr[-3000:]}"

"""Tests for gluon_ssd.cli.main: the installed ``gluon-ssd`` command and ``python -m gluon_ssd``,
one dispatcher to the commands."""
import os
import re
import subprocess
import sys

import pytest

from tests.helpers import paths
from tests.helpers.paths import REPO

import gluon_ssd
from gluon_ssd.cli import main as console

# The console script pip installs next to this interpreter (`pip install -e .` in `make venv`).
GLUON_SSD = os.path.join(os.path.dirname(sys.executable), "gluon-ssd")


def _run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300, cwd=REPO)


def test_installed_command_lists_every_command():
    assert os.path.isfile(GLUON_SSD), f"{GLUON_SSD} missing: run `pip install -e .` (make venv)"
    proc = _run(GLUON_SSD, "--help")
    assert proc.returncode == 0, proc.stderr
    for name in ("demo", "train", "eval", "detect", "export", "bench"):
        assert re.search(rf"^\s+{name}\s", proc.stdout, re.M), (name, proc.stdout)
    version = _run(GLUON_SSD, "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"gluon_ssd {gluon_ssd.__version__}"


def test_python_m_runs_a_commands_own_parser():
    proc = _run(sys.executable, "-m", "gluon_ssd", "export", "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: gluon-ssd export") and "--data-shape" in proc.stdout
    # The same parser as the script's own (its usage line wraps after another program name).
    script = _run(sys.executable, paths.script("export.py"), "--help")
    assert script.returncode == 0, script.stderr
    flags = set(re.findall(r"--[a-z0-9-]+", proc.stdout))
    assert len(flags) > 5 and flags == set(re.findall(r"--[a-z0-9-]+", script.stdout))


def test_unknown_command_is_refused_with_the_list(capsys):
    with pytest.raises(SystemExit, match="^2$"):  # argparse's exit code of a usage error
        console.main(["trian"])
    assert "invalid choice: 'trian'" in capsys.readouterr().err


def test_setup_reads_the_one_version():
    proc = _run(sys.executable, "setup.py", "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == gluon_ssd.__version__

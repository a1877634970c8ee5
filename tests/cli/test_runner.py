"""Tests for gluon_ssd.cli.runner: every script reports a user mistake in one line on stderr,
naming the flag or file, exit code 2 (an OverflowError too); --help defaults shown once; progress
bars only on a terminal.

Each case runs the script as a user would (a subprocess) on input that is wrong in one way; the
library raises ``ValueError`` / ``FileNotFoundError`` and ``gluon_ssd.cli.run`` prints it.
"""
import argparse
import importlib
import io
import os
import re

import numpy as np
import pytest
from PIL import Image

from tests.helpers.cli import run_script

from gluon_ssd import cli
from gluon_ssd.cli.main import COMMANDS
from gluon_ssd.cli.runner import HelpFormatter, interactive

MODEL = "ssd_300_mobilenet0.25_voc"


def _script(name, *args, timeout=240):
    env = {k: v for k, v in os.environ.items() if k != "GLUON_SSD_TRACEBACK"}
    return run_script(name, *args, timeout=timeout, env=env)


def _assert_one_line_error(done, script, *named):
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in lines if line.startswith(f"{script}: error: ")]
    assert len(errors) == 1, done.stderr
    for what in named:
        assert what in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.RandomState(0)
    for i in range(2):
        Image.fromarray(rng.randint(0, 255, (64, 64, 3)).astype(np.uint8)).save(
            folder / f"{i}.png")
    return folder


CASES = {
    "train-missing-data": ("train.py", ["--model", MODEL, "--data-root", "{tmp}/nowhere",
                                        "--classes", "a", "--out", "{tmp}/run"],
                           ["{tmp}/nowhere"]),
    "train-unknown-model": ("train.py", ["--model", "ssd_300_mobilenet0.25_vco", "--data-root",
                                         "{tmp}", "--classes", "a", "--out", "{tmp}/run"],
                            ["ssd_300_mobilenet0.25_voc"]),
    "eval-missing-bundle": ("eval.py", ["--bundle", "{tmp}/no-bundle", "--data-root", "{tmp}",
                                        "--out", "{tmp}/eval"], ["{tmp}/no-bundle"]),
    "detect-missing-run": ("detect.py", ["--run", "{tmp}/no-run", "{images}", "--out",
                                         "{tmp}/det"], ["{tmp}/no-run"]),
    "detect-both-sources": ("detect.py", ["--run", "{tmp}", "--classes", "a", "{images}",
                                          "--out", "{tmp}/det"], ["--classes"]),
    "export-missing-params": ("export.py", ["--model", MODEL, "--params", "{tmp}/w.params",
                                            "--data-shape", 64, 64, "--out", "{tmp}/b"],
                              ["{tmp}/w.params"]),
    "export-int8-without-images": ("export.py", ["--model", MODEL, "--int8", "--data-shape", 64,
                                                 64, "--out", "{tmp}/b"], ["--calib-images"]),
    "bench-unknown-model": ("bench.py", ["--models", "ssd_300_nonet_voc", "--quick"],
                            ["ssd_300_nonet_voc"]),
    "demo-no-images": ("demo.py", ["--num-train", 0, "--out", "{tmp}/demo"], ["--num-train"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_user_errors_are_one_line(case, tmp_path, images):
    script, args, named = CASES[case]
    fill = lambda a: str(a).format(tmp=tmp_path, images=images)  # noqa: E731
    done = _script(script, *map(fill, args))
    _assert_one_line_error(done, script, *map(fill, named))
    assert not (tmp_path / "demo" / "data").exists()  # refused before any work


def test_int8_without_a_confident_detection_names_the_flag(tmp_path, images):
    # Random weights: no detection reaches the agreement score, so agreement cannot be measured;
    # the message must say which flag turns the check off, not the library's argument name.
    done = _script("export.py", "--model", MODEL, "--classes", "a,b", "--int8", "--calib-images",
                   images, "--data-shape", 64, 64, "--out", tmp_path / "b")
    line = _assert_one_line_error(done, "export.py", "--int8-tolerance -1")
    assert "int8_tolerance" not in line
    assert not (tmp_path / "b" / "manifest.json").exists()


def test_run_turns_errors_into_exit_codes(capsys, monkeypatch):
    monkeypatch.delenv("GLUON_SSD_TRACEBACK", raising=False)

    def bad(argv):
        raise ValueError("int8_tolerance is wrong\nsecond line")

    assert cli.run(bad, [], prog="x", flags={"int8_tolerance": "--int8-tolerance"}) == 2
    assert capsys.readouterr().err == "x: error: --int8-tolerance is wrong second line\n"
    assert cli.run(lambda argv: 1, []) == 1 and cli.run(lambda argv: {"a": 1}, []) == 0

    def bug(argv):
        raise KeyError("a bug keeps its traceback")

    with pytest.raises(KeyError, match="a bug keeps its traceback"):
        cli.run(bug, [])
    monkeypatch.setenv("GLUON_SSD_TRACEBACK", "1")
    with pytest.raises(ValueError, match="^int8_tolerance is wrong\nsecond line$"):  # in full
        cli.run(bad, [])


def test_an_overflow_is_one_line_and_exit_code_2(capsys, monkeypatch):
    monkeypatch.delenv("GLUON_SSD_TRACEBACK", raising=False)

    def overflow(argv):
        return int(float("1e309"))      # OverflowError: cannot convert float infinity to integer

    assert cli.run(overflow, [], prog="x") == 2
    assert capsys.readouterr().err == \
        "x: error: cannot convert float infinity to integer\n"
    monkeypatch.setenv("GLUON_SSD_TRACEBACK", "1")
    with pytest.raises(OverflowError, match="float infinity"):
        cli.run(overflow, [])


def test_help_shows_a_default_once_and_never_none():
    p = argparse.ArgumentParser(formatter_class=HelpFormatter)
    p.add_argument("--lr", type=float, default=0.5, help="rate")
    p.add_argument("--shape", default=None, help="input (default: the model's)")
    p.add_argument("--steps", default=[3], help="steps (default: 2/3 of the run)")
    p.add_argument("--none", default=None, help="nothing")
    p.add_argument("--flag", action="store_true", help="a switch")
    text = " ".join(p.format_help().split())
    assert "rate (default: 0.5)" in text
    assert "input (default: the model's) --steps" in text       # not followed by (default: None)
    assert "steps (default: 2/3 of the run) --none" in text     # not followed by (default: [3])
    assert "nothing --flag" in text and "a switch" in text and "(default: False)" not in text


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_no_command_shows_a_default_twice(name, capsys):
    module = importlib.import_module(f"gluon_ssd.cli.{name}")
    with pytest.raises(SystemExit, match="^0$"):
        module.main(["--help"])
    text = capsys.readouterr().out
    for item in re.split(r"\n  -|\n\n", text):   # one option's help each
        assert len(re.findall(r"\(default:", " ".join(item.split()))) <= 1, item
    assert "(default: None)" not in text


def test_interactive_only_when_both_streams_are_terminals(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.setattr("sys.stdout", Tty())
    monkeypatch.setattr("sys.stderr", Tty())
    assert interactive()
    monkeypatch.setattr("sys.stderr", io.StringIO())   # 2> log.txt
    assert not interactive()

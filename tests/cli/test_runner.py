"""gluon_ssd.cli.runner: one-line user errors (an OverflowError too: exit 2), --help defaults
shown once, progress bars only on a terminal."""
import argparse
import importlib
import io
import re

import pytest

from gluon_ssd import cli
from gluon_ssd.cli.main import COMMANDS
from gluon_ssd.cli.runner import HelpFormatter, interactive


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
    with pytest.raises(SystemExit):
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

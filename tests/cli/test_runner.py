"""gluon_ssd.cli.runner: an OverflowError (a number too large for a float or an int, which the
readers refuse as a ValueError) is reported like the other user errors: one line, exit 2."""
import pytest

from gluon_ssd import cli


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

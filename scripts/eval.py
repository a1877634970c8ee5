"""``python scripts/eval.py ...`` is ``gluon-ssd eval ...``: see :mod:`gluon_ssd.cli.eval`."""
import sys

from gluon_ssd.cli.main import run_command

if __name__ == "__main__":
    sys.exit(run_command("eval"))

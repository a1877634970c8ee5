"""``python scripts/train.py ...`` is ``gluon-ssd train ...``: see :mod:`gluon_ssd.cli.train`."""
import sys

from gluon_ssd.cli.main import run_command

if __name__ == "__main__":
    sys.exit(run_command("train"))

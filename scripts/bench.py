"""``python scripts/bench.py ...`` is ``gluon-ssd bench ...``: see :mod:`gluon_ssd.cli.bench`."""
import sys

from gluon_ssd.cli.main import run_command

if __name__ == "__main__":
    sys.exit(run_command("bench"))

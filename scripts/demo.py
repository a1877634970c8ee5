"""``python scripts/demo.py ...`` is ``gluon-ssd demo ...``: see :mod:`gluon_ssd.cli.demo`."""
import sys

from gluon_ssd.cli.main import run_command

if __name__ == "__main__":
    sys.exit(run_command("demo"))

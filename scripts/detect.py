"""``python scripts/detect.py ...`` is ``gluon-ssd detect ...``: see :mod:`gluon_ssd.cli.detect`."""
import sys

from gluon_ssd.cli.main import run_command

if __name__ == "__main__":
    sys.exit(run_command("detect"))

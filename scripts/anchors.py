"""``python scripts/anchors.py ...`` is ``gluon-ssd anchors ...``: see :mod:`gluon_ssd.cli.anchors`."""
import sys

from gluon_ssd.cli.main import run_command

if __name__ == "__main__":
    sys.exit(run_command("anchors"))

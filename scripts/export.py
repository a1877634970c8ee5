"""``python scripts/export.py ...`` is ``gluon-ssd export ...``: see :mod:`gluon_ssd.cli.export`."""
import sys

from gluon_ssd.cli.main import run_command

if __name__ == "__main__":
    sys.exit(run_command("export"))

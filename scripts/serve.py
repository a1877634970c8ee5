"""``python scripts/serve.py ...`` is ``gluon-ssd serve ...``: see :mod:`gluon_ssd.cli.serve`."""
import sys

from gluon_ssd.cli.main import run_command

if __name__ == "__main__":
    sys.exit(run_command("serve"))

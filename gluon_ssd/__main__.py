"""``python -m gluon_ssd COMMAND ...``: the same as the ``gluon-ssd`` command."""
import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())

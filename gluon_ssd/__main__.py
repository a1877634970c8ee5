"""``python -m gluon_ssd COMMAND ...``: the same as the ``gluon-ssd`` command."""
import sys

from .console import main

if __name__ == "__main__":
    sys.exit(main())

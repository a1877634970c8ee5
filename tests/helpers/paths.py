"""Where the repository's files are, for tests that run its scripts or read its documents (not a
test module)."""
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(REPO, "scripts")


def script(name):
    """Path of ``scripts/<name>`` (e.g. ``'train.py'``)."""
    return os.path.join(SCRIPTS, name)

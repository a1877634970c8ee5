"""The ``gluon-ssd`` command (and ``python -m gluon_ssd``): one entry point for every tool.

``gluon-ssd COMMAND [options]`` runs ``main(options)`` of the script of that name
(``scripts/COMMAND.py`` in the source tree, installed as ``gluon_ssd.commands.COMMAND``), so
``gluon-ssd train --help`` and ``python scripts/train.py --help`` are the same program.
"""
import argparse
import importlib
import sys

from . import __version__
from .cli import run

__all__ = ["COMMANDS", "main"]

# name -> what it does (shown by `gluon-ssd --help`); each is a module of gluon_ssd.commands.
COMMANDS = {
    "demo": "generate a synthetic dataset, train, evaluate, export and reload a detector",
    "train": "train an SSD on VOC folders or a COCO file (resumable, several machines)",
    "eval": "evaluate a trained SSD: VOC07 / VOC mAP or COCO AP, PR curves",
    "detect": "detect objects in images with a trained SSD or an exported bundle",
    "export": "export a detector as a bundle (MXNet graph, int8, ONNX with NMS, bf16)",
    "bench": "time gluon_ssd's detectors against GluonCV's (inference and training)",
}


def _parser():
    parser = argparse.ArgumentParser(
        prog="gluon-ssd", description="SSD and SSDLite detectors on MXNet Gluon.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands:\n" + "\n".join(f"  {name:<8}{text}" for name, text in COMMANDS.items())
        + "\n\n'gluon-ssd COMMAND --help' shows the options of a command.")
    parser.add_argument("--version", action="version", version=f"gluon_ssd {__version__}")
    parser.add_argument("command", choices=sorted(COMMANDS), metavar="COMMAND",
                        help=f"one of {', '.join(COMMANDS)}")
    return parser


def main(argv=None):
    """Run ``gluon-ssd``: ``argv`` is ``[COMMAND, options...]`` (default ``sys.argv[1:]``).

    Returns the command's exit status (0 when its ``main`` returns None, 2 for a user error).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not argv or argv[0].startswith("-"):
        parser.parse_args(argv or ["--help"])  # --help / --version exit here; others error
    name, options = argv[0], argv[1:]
    parser.parse_args([name])  # an unknown command: the list of commands, exit status 2
    module = importlib.import_module(f"gluon_ssd.commands.{name}")
    program = sys.argv[0]
    sys.argv[0] = f"gluon-ssd {name}"  # the command's argparse shows this in its usage
    try:  # user errors in one line, exit status 2 (gluon_ssd.cli), as the scripts themselves do
        return run(module.main, options, prog=f"gluon-ssd {name}",
                   flags=getattr(module, "FLAGS", None))
    finally:
        sys.argv[0] = program

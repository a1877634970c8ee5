"""The ``gluon-ssd`` command (and ``python -m gluon_ssd``): one entry point for every tool.

``gluon-ssd COMMAND [options]`` runs ``main(options)`` of the module :mod:`gluon_ssd.cli.COMMAND`
through :func:`run_command`, which the thin ``scripts/COMMAND.py`` files of the source tree call
too: ``gluon-ssd train --help`` and ``python scripts/train.py --help`` are the same program.
"""
import argparse
import importlib
import sys

from .. import __version__
from .runner import run

__all__ = ["COMMANDS", "main", "run_command"]

# name -> what it does (shown by `gluon-ssd --help`); each is a module of gluon_ssd.cli.
COMMANDS = {
    "demo": "generate a synthetic dataset, train, evaluate, export and reload a detector",
    "train": "train an SSD on VOC folders, a COCO file or YOLO data (resumable, several machines)",
    "anchors": "check and fit anchors to a dataset: the share of boxes the matcher can reach",
    "eval": "evaluate a trained SSD: VOC07 / VOC mAP or COCO AP, PR curves",
    "detect": "detect objects in images with a trained SSD or an exported bundle",
    "export": "export a detector as a bundle (MXNet graph, int8, ONNX with NMS, bf16)",
    "bench": "time gluon_ssd's detectors against GluonCV's (inference and training)",
    "serve": "serve a bundle over HTTP: batched detections, a page, OpenAPI docs",
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
    return run_command(name, options, prog=f"gluon-ssd {name}")


def run_command(name, argv=None, prog=None):
    """Run command ``name`` (a module of :mod:`gluon_ssd.cli`) on ``argv`` (default
    ``sys.argv[1:]``); user errors in one line, exit status 2 (:func:`gluon_ssd.cli.run`).

    ``prog`` is the name its usage and errors show (default: the running script's file name).
    """
    module = importlib.import_module(f"{__package__}.{name}")
    if prog is None:
        return run(module.main, argv, flags=getattr(module, "FLAGS", None))
    program = sys.argv[0]
    sys.argv[0] = prog  # the command's argparse shows this in its usage
    try:
        return run(module.main, argv, prog=prog, flags=getattr(module, "FLAGS", None))
    finally:
        sys.argv[0] = program

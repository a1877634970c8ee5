"""What every command-line entry point shares: one-line errors for user mistakes, exit codes,
the ``--help`` format (:class:`HelpFormatter`) and whether to draw progress bars
(:func:`interactive`).

A script's ``main(argv)`` raises the library's own exceptions; :func:`run` turns those that mean
"the input is wrong" into one line on stderr and exit code 2, the way argparse reports a bad flag::

    train.py: error: --data-root runs/x: no such folder (make demo writes runs/demo/data)

A bug (any other exception) still shows its traceback. ``GLUON_SSD_TRACEBACK=1`` shows the
traceback of user errors too, for reporting a problem.

Exit codes: 0 done, 1 done with failures the command reported (e.g. unreadable images), 2 user
error, 3 a lost node of a distributed run (:mod:`gluon_ssd.training.watchdog`), 128 + N stopped by signal N
after writing a checkpoint (:class:`~gluon_ssd.training.TrainingInterrupted`: 130 for Ctrl-C, 143 for
SIGTERM), 1 for a diverged run (:class:`~gluon_ssd.training.TrainingDiverged`).
"""
import argparse
import os
import sys

from ..training.errors import TrainingDiverged, TrainingInterrupted

__all__ = ["USER_ERRORS", "EXIT_USER_ERROR", "run", "error_line", "HelpFormatter", "interactive"]

# Raised by the library for bad input: a wrong value or type, a missing or unusable file. An
# OSError other than these (a full disk, a failing device) is reported in one line too: it says
# what could not be written, and its traceback would add nothing a user can act on. The readers
# refuse numbers too large for a float or an int (1e309, 10 ** 400) with a ValueError; an
# OverflowError a flag's value still causes elsewhere is such a number too.
USER_ERRORS = (ValueError, TypeError, OverflowError, FileNotFoundError, NotADirectoryError,
               IsADirectoryError, PermissionError, OSError)
EXIT_USER_ERROR = 2


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with each option's default shown once: ``(default: X)`` is added only where
    the help text does not speak of its default already and there is one to show (not None, not
    a switch's False)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return super()._get_help_string(action)


def interactive():
    """bool: stdout and stderr are both terminals: draw progress bars. Otherwise (a log file, a
    pipe) commands print plain lines only, one per epoch when training."""
    return all(stream is not None and stream.isatty() for stream in (sys.stdout, sys.stderr))


def error_line(prog, err, flags=None):
    """``'PROG: error: MESSAGE'`` on one line (newlines folded, API names as ``flags``)."""
    message = " ".join(str(err).split()) or type(err).__name__
    for name, flag in (flags or {}).items():
        message = message.replace(name, flag)
    return f"{prog}: error: {message}"


def run(main, argv=None, prog=None, flags=None):
    """Call ``main(argv)`` and return its exit code, reporting user errors in one line.

    Parameters
    ----------
    main : callable
        ``main(argv) -> int or None``.
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``, as argparse reads them).
    prog : str, optional
        Name printed before the message (default: the script's file name).
    flags : dict, optional
        ``{api_name: flag}``: a message naming a library argument (``int8_tolerance``) names the
        command's flag instead (``--int8-tolerance``). Longer names first where one contains
        another (dicts keep their order).

    Returns
    -------
    int
        ``main``'s code (0 for None or a non-int result), :data:`EXIT_USER_ERROR` for a user
        error, the code a training stop carries (see the module docstring).
    """
    prog = prog or os.path.basename(sys.argv[0]) or "gluon-ssd"
    show = os.environ.get("GLUON_SSD_TRACEBACK", "") not in ("", "0")
    try:
        code = main(argv)
    except TrainingInterrupted as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return err.exit_code
    except TrainingDiverged as err:
        print(error_line(prog, err, flags), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as err:
        if show:
            raise
        print(error_line(prog, err, flags), file=sys.stderr)
        return EXIT_USER_ERROR
    return code if isinstance(code, int) and not isinstance(code, bool) else 0

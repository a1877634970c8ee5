"""Running the commands as a user does, and reading their help (not a test module)."""
import contextlib
import io
import os
import subprocess
import sys

from tests.helpers.paths import REPO, script


def run_script(name, *args, timeout=300, env=None):
    """``python scripts/<name> args...`` from the repository root: the CompletedProcess (text)."""
    return subprocess.run([sys.executable, script(name), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO,
                          env=dict(os.environ) if env is None else env)


def help_text(main):
    """What ``main(['--help'])`` of a command module prints (argparse exits with status 0)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(["--help"])
        except SystemExit as done:
            assert done.code == 0, done.code
    return out.getvalue()


def flags_without_help(text):
    """Options of an argparse help ``text`` that have no help string.

    argparse writes an option's help on its own line after two spaces or more, or, when the
    invocation is long, on the next line indented deeper than the invocation: an option line
    followed by neither has none.
    """
    lines = text.splitlines()
    missing = []
    for k, line in enumerate(lines):
        stripped = line.lstrip()
        if not stripped.startswith("-") or len(line) - len(stripped) != 2:
            continue
        invocation, _, rest = stripped.partition("  ")
        follows = k + 1 < len(lines) and len(lines[k + 1]) - len(lines[k + 1].lstrip()) > 2 \
            and not lines[k + 1].lstrip().startswith("-")
        if not rest.strip() and not follows:
            missing.append(invocation.split(",")[0].split()[0])
    return missing

"""Execute the notebooks from a clean kernel and save them with their outputs (``make notebooks``).

Each notebook runs top to bottom in a fresh kernel that is this interpreter (a kernel spec written
to a temporary folder points at ``sys.executable``, whatever kernels Jupyter has registered
elsewhere), with the working directory in a temporary folder: what the notebooks write
(``runs/notebooks/...``) never lands in the repository. They share that folder in the order given,
so notebook 3 exports the model notebook 2 trained. The saved notebooks are kept stable between
runs: no execution timing metadata, stream outputs merged with progress-bar rewrites (``\\r``)
applied, no clock times from MXNet's log, the temporary folder, the repository and this
interpreter's prefix replaced in outputs; any absolute path of this machine left after that is an
error (nothing is written)::

    python scripts/run_notebooks.py                         # every notebooks/*.ipynb, full runs
    python scripts/run_notebooks.py --quick notebooks/01_compose_and_inspect.ipynb

``tests/test_notebooks.py`` executes the notebooks with :func:`execute` and checks the committed
outputs with :func:`machine_paths`. Only nbclient and nbformat (the ``test`` extra) are needed.
Exit status: 0 done, 1 a notebook failed (named in one line), 2 a user error (a missing notebook).
"""
import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
CELL_TIMEOUT_S = 1200
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
# Absolute paths of a machine that must not appear in committed outputs.
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|tmp|root|home|Users|var/folders|private)/")
# The clock time before a line of MXNet's C++ log (dmlc LOG), which would change on every run.
LOG_CLOCK = re.compile(r"^\[\d\d:\d\d:\d\d\] ", re.M)


class NotebookFailed(RuntimeError):
    """A notebook raised in one of its cells; the message names the notebook and the cell."""


def kernel_specs(folder):
    """A kernel spec manager whose only ``python3`` kernel is this interpreter.

    Parameters
    ----------
    folder : str or Path
        An existing folder to write ``python3/kernel.json`` into.

    Returns
    -------
    jupyter_client.kernelspec.KernelSpecManager
    """
    from jupyter_client.kernelspec import KernelSpecManager  # installed with nbclient

    spec_dir = Path(folder) / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": KERNELSPEC["display_name"], "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return KernelSpecManager(kernel_dirs=[str(folder)], ensure_native_kernel=False)


def execute(nb, workdir, specs, name="notebook", timeout=CELL_TIMEOUT_S):
    """Run ``nb`` top to bottom in a fresh kernel, in place.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The notebook; its outputs and execution counts are replaced.
    workdir : str or Path
        The kernel's working directory.
    specs : jupyter_client.kernelspec.KernelSpecManager
        From :func:`kernel_specs`.
    name : str
        What to call the notebook in an error message.
    timeout : int
        Seconds one cell may run.

    Returns
    -------
    nbformat.NotebookNode
        ``nb``, executed: stream outputs merged, no timing metadata.

    Raises
    ------
    NotebookFailed
        A cell raised: the message names ``name``, the cell and the error in its first line.
    """
    import nbclient
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name="python3", kernel_spec_manager=specs)
    client = nbclient.NotebookClient(nb, km=km, timeout=timeout, allow_errors=False,
                                     record_timing=False, coalesce_streams=True,
                                     resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        where = next((k for k, cell in enumerate(nb.cells) if any(
            out.get("output_type") == "error" for out in cell.get("outputs", []))), "?")
        raise NotebookFailed(f"{name}: cell {where} raised {err.ename}: {err.evalue}\n{err}") \
            from None
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    return nb


def _output_texts(output):
    """The text pieces of one output (stream text, error traceback, text/* and JSON data)."""
    if output.get("output_type") == "stream":
        return [output.get("text", "")]
    if output.get("output_type") == "error":
        return [output.get("evalue", ""), *output.get("traceback", [])]
    data = output.get("data", {})
    return [value if isinstance(value, str) else "".join(value) for key, value in data.items()
            if key.startswith("text/") or key.endswith("json")]


def tidy_outputs(nb, replacements):
    """Make the outputs of an executed notebook stable between runs, in place.

    Replaces absolute paths in text outputs, drops the clock time MXNet's C++ log puts before its
    lines (``[19:03:43] ../src/...``) and stream outputs left blank (a progress bar that cleared
    itself).

    Parameters
    ----------
    nb : nbformat.NotebookNode
    replacements : list of (str, str)
        ``(path, placeholder)`` pairs, applied in order (put longer paths first).

    Returns
    -------
    nbformat.NotebookNode
        ``nb``.
    """
    def scrub(text):
        for path, placeholder in replacements:
            text = text.replace(path, placeholder)
        return text

    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            if output.output_type == "stream":
                output.text = LOG_CLOCK.sub("", scrub(output.text))
            elif output.output_type == "error":
                output.evalue = scrub(output.evalue)
                output.traceback = [scrub(line) for line in output.traceback]
            for key, value in output.get("data", {}).items():
                if key.startswith("text/") and isinstance(value, str):
                    output.data[key] = scrub(value)
        cell.outputs = [out for out in cell.outputs
                        if out.output_type != "stream" or out.text.strip()]
    return nb


def _local_paths():
    """This machine's own absolute paths: the repository, the interpreter's prefixes, the
    temporary folder and the home folder, wherever they live (a CI checkout under ``/check/``
    is not under any of :data:`MACHINE_PATH`'s roots)."""
    paths = {str(REPO), sys.prefix, sys.base_prefix, tempfile.gettempdir(), str(Path.home())}
    # "/" or "/usr"-like one-part prefixes would flag ordinary text; keep folders two deep
    return sorted(path for path in paths if path.count("/") >= 2)


def machine_paths(nb):
    """Where absolute machine paths (``/work/``, ``/tmp/``, ``/root/``, ...) appear in outputs.

    Also flags this machine's repository, interpreter prefixes, temporary and home folders
    wherever they are (:func:`_local_paths`).

    Parameters
    ----------
    nb : nbformat.NotebookNode

    Returns
    -------
    list of (int, str)
        ``(cell index, the line holding the path)``, empty when there is none.
    """
    found, local = [], _local_paths()
    for k, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            for text in _output_texts(output):
                found += [(k, line.strip()) for line in text.splitlines()
                          if MACHINE_PATH.search(line) or any(path in line for path in local)]
    return found


def path_replacements(workdir):
    """The absolute paths a run may print, each with what stands for it in saved outputs.

    Parameters
    ----------
    workdir : str or Path
        The kernel's working directory (becomes ``.``).

    Returns
    -------
    list of (str, str)
        ``(path, placeholder)``, longest path first: the working directory, the repository
        (``<repo>``), this interpreter's prefixes (``<venv>``, ``<python>``), the temporary folder
        (``<tmp>``) and the home folder (``~``).
    """
    pairs = [(str(Path(workdir).resolve()), "."), (str(Path(workdir)), "."),
             (str(REPO), "<repo>"), (sys.prefix, "<venv>"), (sys.base_prefix, "<python>"),
             (tempfile.gettempdir(), "<tmp>"), (str(Path.home()), "~")]
    pairs = [(path, placeholder) for path, placeholder in pairs if len(path) > 1]
    return sorted(set(pairs), key=lambda pair: -len(pair[0]))


def run_one(path, workdir, specs, timeout=CELL_TIMEOUT_S):
    """Execute the notebook at ``path`` in ``workdir`` and save it with its outputs.

    Parameters
    ----------
    path : Path
        The notebook file, rewritten in place once it ran (not when it failed).
    workdir : Path
        The kernel's working directory.
    specs : jupyter_client.kernelspec.KernelSpecManager
    timeout : int
        Seconds one cell may run.

    Returns
    -------
    float
        Seconds the notebook took.

    Raises
    ------
    NotebookFailed
        A cell raised, or absolute machine paths remain in the outputs.
    """
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    start = time.perf_counter()
    execute(nb, workdir, specs, name=path.name, timeout=timeout)
    elapsed = time.perf_counter() - start
    tidy_outputs(nb, path_replacements(workdir))
    left = machine_paths(nb)
    if left:
        cell, line = left[0]
        raise NotebookFailed(f"{path.name}: an absolute path in the output of cell {cell} "
                             f"({line!r}); print it relative to the working directory")
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
    return elapsed


def _parser():
    parser = argparse.ArgumentParser(
        prog="run_notebooks.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run, in this order (default: notebooks/*.ipynb)")
    parser.add_argument("--quick", action="store_true",
                        help="set GLUON_SSD_NOTEBOOK_QUICK=1: a pipeline check, not a result")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT_S,
                        help="seconds one cell may run")
    return parser


def main(argv=None):
    """Run the notebooks named in ``argv`` (see ``--help``); returns the exit status."""
    args = _parser().parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file() or p.suffix != ".ipynb"]
    if missing or not paths:
        raise ValueError(f"no such notebook: {', '.join(missing) or NOTEBOOKS / '*.ipynb'}")
    if args.timeout < 1:
        raise ValueError(f"--timeout {args.timeout}: at least 1 second")
    os.environ["GLUON_SSD_NOTEBOOK_QUICK"] = "1" if args.quick else "0"
    os.environ.pop("GLUON_SSD_NOTEBOOK_OUT", None)
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # PNGs in the outputs
    with tempfile.TemporaryDirectory(prefix="gluon_ssd_notebooks_") as tmp:
        specs = kernel_specs(Path(tmp) / "kernels")
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        for path in paths:
            try:
                elapsed = run_one(path, workdir, specs, timeout=args.timeout)
            except NotebookFailed as err:
                print(f"run_notebooks.py: {str(err).splitlines()[0]}", file=sys.stderr)
                return 1
            print(f"{os.path.relpath(path)}: {elapsed:.0f} s ({'quick' if args.quick else 'full'} mode), "
                  f"{path.stat().st_size / 1e6:.2f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    from gluon_ssd.cli import run

    sys.exit(run(main))

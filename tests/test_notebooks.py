"""The notebooks in notebooks/: committed with the outputs of one full run, and each still runs.

The committed notebooks read without running them (as on a code-hosting site): every code cell
executed top to bottom in one kernel, no errors, figures as PNG at a modest size, no absolute path
of the machine that ran them, each file under 1.5 MB. ``make notebooks``
(``scripts/run_notebooks.py``) writes them.

Each notebook also runs here top to bottom in a fresh kernel, with the code ``make notebooks``
uses: the kernel is this interpreter (``sys.executable -m ipykernel_launcher``, from a kernel spec
written to a temporary folder), whatever kernels Jupyter has registered elsewhere. They run in
quick mode (``GLUON_SSD_NOTEBOOK_QUICK=1``: small data, a short training) on an in-memory copy
with the working directory in ``tmp_path``, so nothing lands in the repository.
"""
import base64
import importlib.util
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
_spec = importlib.util.spec_from_file_location("run_notebooks",
                                               REPO / "scripts" / "run_notebooks.py")
run_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_notebooks)

CELL_TIMEOUT_S = 600  # one cell
# A whole notebook in quick mode: 15-30 s on two busy cores. Far more means quick mode is ignored.
QUICK_BUDGET_S = 300
MAX_BYTES = 1_500_000
MAX_PNG_WIDTH = 1200  # pixels: a 14-inch figure at 72 dpi is 1008

pytestmark = pytest.mark.notebooks
ids = [p.stem for p in NOTEBOOKS]


def test_there_are_notebooks():
    names = [p.name for p in NOTEBOOKS]
    assert names == ["01_compose_and_inspect.ipynb", "02_train_and_evaluate.ipynb",
                     "03_export_and_deploy.ipynb", "04_large_images.ipynb"], names


def _pngs(cell):
    """The decoded PNG images among a code cell's outputs."""
    from PIL import Image
    return [Image.open(io.BytesIO(base64.b64decode(out.data["image/png"])))
            for out in cell.outputs if "image/png" in out.get("data", {})]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_is_committed_with_outputs_of_one_run(path):
    assert path.stat().st_size < MAX_BYTES, f"{path.name}: {path.stat().st_size / 1e6:.2f} MB"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    # Counts 1..n in order: run top to bottom, once, in one kernel (make notebooks).
    counts = [cell.execution_count for cell in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"{path.name}: execution counts {counts}; run `make notebooks` (see notebooks/README.md)")
    errors = [k for k, cell in enumerate(nb.cells) if cell.cell_type == "code"
              and any(out.output_type == "error" for out in cell.outputs)]
    assert not errors, f"{path.name}: error outputs in cells {errors}"
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert not cell.metadata.get("execution"), f"{path.name}: timing metadata in cell {k}"
        if "print(" in cell.source or "plt.show()" in cell.source:
            assert cell.outputs, f"{path.name}: cell {k} prints or plots but holds no output"
        if "plt.show()" in cell.source:
            images = _pngs(cell)
            assert images, f"{path.name}: cell {k} plots but holds no image/png output"
            assert all(image.width <= MAX_PNG_WIDTH for image in images), \
                f"{path.name}: cell {k}: {[image.size for image in images]} pixels"
    assert any(_pngs(cell) for cell in code), f"{path.name}: no figure"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_committed_outputs_are_of_a_full_run_and_name_no_machine_path(path):
    nb = nbformat.read(path, as_version=4)
    assert run_notebooks.machine_paths(nb) == []
    assert not run_notebooks.MACHINE_PATH.search(json.dumps(nb.metadata))
    first = nb.cells[1]
    if "QUICK" in first.source:  # not a quick-mode pipeline check (notebooks/README.md)
        text = "".join(out.get("text", "") for out in first.outputs)
        assert "quick=False" in text, f"{path.name}: committed from quick mode? {text!r}"


def test_tidy_outputs_makes_runs_comparable(tmp_path):
    cell = nbformat.v4.new_code_cell("print(root)", execution_count=1, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text=f"data in {tmp_path}/runs/x\n"),
        nbformat.v4.new_output("stream", name="stderr", text="[19:03:43] ../src/a.cc:1: note\n"),
        nbformat.v4.new_output("stream", name="stderr", text="   \n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": f"'{sys.prefix}/lib'"},
                               execution_count=1)])
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert len(run_notebooks.machine_paths(nb)) == 2
    run_notebooks.tidy_outputs(nb, run_notebooks.path_replacements(tmp_path))
    assert [out.get("text") for out in cell.outputs[:2]] == ["data in ./runs/x\n",
                                                             "../src/a.cc:1: note\n"]
    assert len(cell.outputs) == 3 and cell.outputs[2].data["text/plain"] == "'<venv>/lib'"
    assert run_notebooks.machine_paths(nb) == []


def test_machine_paths_finds_this_machines_folders_outside_the_usual_roots(monkeypatch):
    # a CI checkout under /check/ is under none of MACHINE_PATH's roots (/work/, /tmp/, ...):
    # the interpreter's own prefix must still count as a machine path, and be replaced
    monkeypatch.setattr(sys, "prefix", "/check/work/main/.venv")
    cell = nbformat.v4.new_code_cell("x", execution_count=1, outputs=[
        nbformat.v4.new_output("execute_result", data={"text/plain": "'/check/work/main/.venv/lib'"},
                               execution_count=1)])
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert run_notebooks.machine_paths(nb) == [(0, "'/check/work/main/.venv/lib'")]
    run_notebooks.tidy_outputs(nb, run_notebooks.path_replacements("/nowhere/work"))
    assert cell.outputs[0].data["text/plain"] == "'<venv>/lib'"
    assert run_notebooks.machine_paths(nb) == []


def _script(*args, cwd):
    return subprocess.run([sys.executable, str(REPO / "scripts" / "run_notebooks.py"),
                           *map(str, args)], cwd=str(cwd), capture_output=True, text=True,
                          timeout=300)


def test_run_notebooks_refuses_a_missing_notebook_in_one_line(tmp_path):
    done = _script(tmp_path / "nowhere.ipynb", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"run_notebooks.py: error: no such notebook: {tmp_path / 'nowhere.ipynb'}"]


@pytest.mark.slow
def test_run_notebooks_names_the_failing_notebook_and_writes_nothing(tmp_path):
    path = tmp_path / "broken.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_code_cell("1 / 0")])
    nb.metadata["kernelspec"] = dict(run_notebooks.KERNELSPEC)
    nbformat.write(nb, path)
    before = path.read_bytes()
    done = _script(path, "--quick", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("run_notebooks.py")]
    assert lines == ["run_notebooks.py: broken.ipynb: cell 1 raised ZeroDivisionError: "
                     "division by zero"], done.stderr
    assert path.read_bytes() == before


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory):
    """A kernel spec folder whose ``python3`` kernel is this interpreter."""
    manager = run_notebooks.kernel_specs(tmp_path_factory.mktemp("kernels"))
    assert manager.get_kernel_spec("python3").argv[0] == sys.executable
    return manager


@pytest.mark.slow
@pytest.mark.timeout(QUICK_BUDGET_S + 120)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_runs(path, tmp_path, monkeypatch, kernel_specs):
    monkeypatch.setenv("GLUON_SSD_NOTEBOOK_QUICK", "1")
    monkeypatch.delenv("GLUON_SSD_NOTEBOOK_OUT", raising=False)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # a clean start: what was committed plays no part
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    before = sorted(p.name for p in path.parent.iterdir())
    start = time.perf_counter()
    try:
        run_notebooks.execute(nb, tmp_path, kernel_specs, name=path.name,
                              timeout=CELL_TIMEOUT_S)
    except run_notebooks.NotebookFailed as err:
        pytest.fail(str(err), pytrace=False)
    elapsed = time.perf_counter() - start
    print(f"{path.name}: {elapsed:.1f} s in quick mode")
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert not [out for cell in code for out in cell.outputs if out.output_type == "error"]
    assert elapsed < QUICK_BUDGET_S, f"{path.name} took {elapsed:.0f} s in quick mode"
    # What make notebooks would save: no absolute path left once the run's own are replaced.
    run_notebooks.tidy_outputs(nb, run_notebooks.path_replacements(tmp_path))
    assert run_notebooks.machine_paths(nb) == []
    # What the notebook wrote went to the working directory, not next to the notebooks.
    assert sorted(p.name for p in path.parent.iterdir()) == before

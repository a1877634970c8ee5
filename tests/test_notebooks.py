"""Each notebook in notebooks/ runs top to bottom in a fresh kernel; none is committed with outputs.

The kernel is this interpreter (``sys.executable -m ipykernel_launcher``, from a kernel spec written
to a temporary folder), so the notebooks run in the tests' virtualenv whatever kernels Jupyter has
registered elsewhere. They run in quick
mode (``GLUON_SSD_NOTEBOOK_QUICK=1``: small data, a short training) with the working directory in
``tmp_path``, so everything they write (``runs/notebooks/...``) stays out of the repository.
"""
import json
import sys
import time
from pathlib import Path

import nbclient
import nbformat
import pytest
from jupyter_client import KernelManager  # installed with nbclient
from jupyter_client.kernelspec import KernelSpecManager

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 600  # one cell
# A whole notebook in quick mode: 15-30 s on two busy cores. Far more means quick mode is ignored.
QUICK_BUDGET_S = 300

pytestmark = [pytest.mark.notebooks, pytest.mark.slow, pytest.mark.timeout(QUICK_BUDGET_S + 120)]


def test_there_are_notebooks():
    names = [p.name for p in NOTEBOOKS]
    assert names == ["01_compose_and_inspect.ipynb", "02_train_and_evaluate.ipynb",
                     "03_export_and_deploy.ipynb"], names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [k for k, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, (f"{path.name}: code cells {dirty} hold outputs or execution counts; clear "
                       f"them before committing (see notebooks/README.md)")
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory):
    """A kernel spec folder whose ``python3`` kernel is this interpreter."""
    folder = tmp_path_factory.mktemp("kernels")
    (folder / "python3").mkdir()
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (tests)", "language": "python"}
    (folder / "python3" / "kernel.json").write_text(json.dumps(spec))
    manager = KernelSpecManager(kernel_dirs=[str(folder)], ensure_native_kernel=False)
    assert manager.get_kernel_spec("python3").argv[0] == sys.executable
    return manager


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch, kernel_specs):
    monkeypatch.setenv("GLUON_SSD_NOTEBOOK_QUICK", "1")
    monkeypatch.delenv("GLUON_SSD_NOTEBOOK_OUT", raising=False)
    nb = nbformat.read(path, as_version=4)
    before = sorted(p.name for p in path.parent.iterdir())
    # This interpreter, not whatever "python3" kernel spec Jupyter would find first.
    km = KernelManager(kernel_name="python3", kernel_spec_manager=kernel_specs)
    client = nbclient.NotebookClient(nb, km=km, timeout=CELL_TIMEOUT_S, allow_errors=False,
                                     resources={"metadata": {"path": str(tmp_path)}})
    start = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        pytest.fail(f"{path.name} failed:\n{err}", pytrace=False)
    elapsed = time.perf_counter() - start
    print(f"{path.name}: {elapsed:.1f} s in quick mode")
    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
              if out.output_type == "error"]
    assert not errors
    assert elapsed < QUICK_BUDGET_S, f"{path.name} took {elapsed:.0f} s in quick mode"
    # What the notebook wrote went to the working directory, not next to the notebooks.
    assert sorted(p.name for p in path.parent.iterdir()) == before

"""docs/vanishing_gradients.ipynb: it runs top to bottom in a real Jupyter kernel of this Python
environment, it is committed without outputs, and it says what its paired percent script says."""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "vanishing_gradients.ipynb"
SCRIPT = ROOT / "docs" / "vanishing_gradients.py"
PAIRING = "ipynb,py:percent"


def need(module: str):
    """Import a module of the notebook extra; skip without it, except in CI, where it must be."""
    try:
        return importlib.import_module(module)
    except ImportError:
        message = f'{module} is missing: pip install -e ".[notebook]"'
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (.ci/run installs it)")
        pytest.skip(message)


def code_and_text(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_the_committed_notebook_has_no_outputs() -> None:
    nbformat = need("nbformat")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert len(code) > 10
    stale = [index for index, cell in enumerate(code)
             if cell.outputs or cell.execution_count is not None]
    assert not stale, (f"code cells {stale} of {NOTEBOOK.name} hold outputs; strip them: "
                       f"jupyter nbconvert --clear-output --inplace {NOTEBOOK}")


def test_the_notebook_and_its_percent_script_are_in_sync() -> None:
    jupytext = need("jupytext")
    from_notebook = jupytext.read(NOTEBOOK)
    from_script = jupytext.read(SCRIPT, fmt="py:percent")
    for name, notebook in (("notebook", from_notebook), ("script", from_script)):
        assert notebook.metadata["jupytext"]["formats"] == PAIRING, name
    assert code_and_text(from_notebook) == code_and_text(from_script), (
        f"{NOTEBOOK.name} and {SCRIPT.name} differ: edit one and run "
        f"jupytext --sync {SCRIPT.relative_to(ROOT)}")


def test_the_notebook_runs_top_to_bottom_in_a_real_kernel() -> None:
    nbformat = need("nbformat")
    nbclient = need("nbclient")
    need("ipykernel")
    kernelspec = need("jupyter_client.kernelspec")
    manager = need("jupyter_client.manager")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # The kernel this environment's ipykernel provides ("python3" in sys.prefix, or ipykernel's
    # built-in spec for sys.executable): never a python3 kernel of some other environment
    # registered in the user's Jupyter folder.
    specs = kernelspec.KernelSpecManager(
        kernel_dirs=[str(Path(sys.prefix) / "share" / "jupyter" / "kernels")])
    kernel = manager.AsyncKernelManager(kernel_name="python3", kernel_spec_manager=specs)
    notebook.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.prefix)"))
    client = nbclient.NotebookClient(notebook, km=kernel, timeout=90,
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, when one fails
    print(f"notebook executed in {time.perf_counter() - start:.1f} s")

    printed = "".join(output.get("text", "") for cell in notebook.cells
                      for output in cell.get("outputs", []) if output.output_type == "stream")
    assert printed.strip().splitlines()[-1] == sys.prefix  # the kernel is this environment's
    assert "data: the real cat / non-cat images" in printed or "SYNTHETIC stand-in" in printed
    assert "gradcheck: True" in printed and "caught: gradcheck:" in printed
    svgs = [output["data"]["image/svg+xml"] for cell in notebook.cells
            for output in cell.get("outputs", []) if "image/svg+xml" in output.get("data", {})]
    assert len(svgs) == 3 and "fc1.weight" in svgs[1]
    pngs = [cell for cell in notebook.cells for output in cell.get("outputs", [])
            if "image/png" in output.get("data", {})]
    assert len(pngs) == 4  # dW per neuron and speed of learning, for both nets

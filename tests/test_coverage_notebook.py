"""The planner notebook ``notebooks/01_coverage_15_menit.ipynb`` runs top to bottom in this venv."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_coverage_15_menit.ipynb"


def test_coverage_notebook_executes() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # run in the notebook's folder (it finds the repo and ../shared from there); its scratch
    # folder _notebook_out is removed afterwards
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    try:
        client.execute()
    finally:
        out = NOTEBOOK.parent / "_notebook_out"
        if out.exists():
            import shutil

            shutil.rmtree(out, ignore_errors=True)
    first = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    # the kernel is this venv's interpreter (ipykernel's native python3 kernel uses sys.executable)
    assert Path(first.strip()).resolve() == Path(sys.executable).resolve()
    text = "\n".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.outputs
    )
    assert "SYNTHETIC" in text
    assert "ambulance" in text and "combined" in text
    images = [
        o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if "image/png" in o.get("data", {})
    ]
    assert images, "the static map is displayed"

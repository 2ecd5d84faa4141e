"""The simulation notebook ``notebooks/03_simulasi.ipynb`` runs top to bottom in this venv."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_simulasi.ipynb"


def test_simulation_notebook_executes() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    try:
        client.execute()
    finally:
        shutil.rmtree(NOTEBOOK.parent / "_notebook_out_sim", ignore_errors=True)
    first = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert Path(first.strip()).resolve() == Path(sys.executable).resolve()
    text = "\n".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.outputs
    )
    assert "SYNTHETIC" in text
    assert "paired gain within 15 min" in text and "paired gain of move-up" in text
    assert "relocations per replication" in text
    images = [
        o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if "image/png" in o.get("data", {})
    ]
    assert len(images) == 2, "response-time distribution and map of late calls"

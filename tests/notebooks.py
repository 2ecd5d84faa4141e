"""Run a notebook of ``notebooks/`` top to bottom in this venv, as the tests of all notebooks do.

With ``GEODISPATCH_SAVE_NOTEBOOKS=1`` in the environment the executed notebook is written back
over its source (atomically, only when every cell ran), so the notebooks committed to the repo
show their outputs and maps on GitHub: ``GEODISPATCH_SAVE_NOTEBOOKS=1 pytest tests/test_notebooks.py``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@dataclass
class ExecutedNotebook:
    """An executed notebook: its cells, the text of every output, and the PNG outputs."""

    nb: Any
    text: str
    images: list[dict[str, Any]]

    def cell_text(self, index: int) -> str:
        """The stream text printed by one cell."""
        return "".join(o.get("text", "") for o in self.nb.cells[index].outputs)


def execute_notebook(name: str, timeout_s: int = 900, scratch: str | None = None) -> ExecutedNotebook:
    """Execute ``notebooks/<name>`` in the notebooks folder (it finds the repo and ../shared from
    there) with this interpreter's kernel; ``scratch`` (a folder the notebook writes under
    ``notebooks/``) is removed afterwards."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    path = NOTEBOOKS / name
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=timeout_s, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    try:
        client.execute()
    finally:
        if scratch:
            shutil.rmtree(NOTEBOOKS / scratch, ignore_errors=True)
    if os.environ.get("GEODISPATCH_SAVE_NOTEBOOKS") == "1":
        tmp = path.with_suffix(".ipynb.tmp")
        nbformat.write(nb, tmp)
        tmp.replace(path)
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    return ExecutedNotebook(nb, text, images)

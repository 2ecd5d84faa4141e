"""The planner notebooks run top to bottom in this venv (the kernel is this interpreter)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.notebooks import execute_notebook


def _kernel_is_this_venv(printed: str) -> bool:
    # ipykernel's native python3 kernel uses sys.executable; the first code cell prints it
    return Path(printed.strip()).resolve() == Path(sys.executable).resolve()


def test_coverage_notebook_executes() -> None:
    run = execute_notebook("01_coverage_15_menit.ipynb", timeout_s=600, scratch="_notebook_out")
    assert _kernel_is_this_venv(run.cell_text(1))
    assert "SYNTHETIC" in run.text
    assert "ambulance" in run.text and "combined" in run.text
    assert run.images, "the static map is displayed"


def test_siting_notebook_executes() -> None:
    run = execute_notebook("02_siting_pos_psc.ipynb", timeout_s=300, scratch="_notebook_out_site")
    assert "mclp: optimal" in run.text
    assert "p_median: optimal" in run.text


def test_simulation_notebook_executes() -> None:
    run = execute_notebook("03_simulasi.ipynb", timeout_s=900, scratch="_notebook_out_sim")
    assert _kernel_is_this_venv(run.cell_text(1))
    assert "SYNTHETIC" in run.text
    assert "paired gain within 15 min" in run.text and "paired gain of move-up" in run.text
    assert "relocations per replication" in run.text
    assert len(run.images) == 2, "response-time distribution and map of late calls"

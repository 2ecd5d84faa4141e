"""Every ```python block of the README runs as written, from the project root, in a fresh interpreter."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, SHARED_DATA

README = REPO / "README.md"


def _python_blocks() -> list[tuple[int, str]]:
    """(first line number, code) of each ```python block."""
    text = README.read_text(encoding="utf-8")
    return [
        (text[: m.start()].count("\n") + 1, m.group(1))
        for m in re.finditer(r"^```python\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)
    ]


BLOCKS = _python_blocks()


def test_the_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 5, "the README's python examples were not found (fence changed?)"


@pytest.mark.parametrize(("line", "code"), BLOCKS, ids=[f"README.md:{line}" for line, _ in BLOCKS])
def test_readme_python_block_runs(line: int, code: str, tmp_path: Path) -> None:
    if "../shared" in code and not SHARED_DATA.exists():
        pytest.skip(f"README.md:{line} reads ../shared/data (real data, present in CI); not found")
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg", "GEODISPATCH_CACHE_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"README.md:{line} failed:\n{done.stderr[-3000:]}"

"""An installed wheel (not the editable checkout) finds its own region files.

Builds the wheel offline with the venv's setuptools (``--no-build-isolation``), installs it with
``--no-deps`` into a separate directory, and runs from a directory outside the source tree, so
nothing can come from the checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_ships_the_region_files_and_loads_them_outside_the_tree(tmp_path: Path) -> None:
    pytest.importorskip("wheel", reason="the [dev] extra installs wheel, needed to build offline")
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q", "-w", str(dist)],
        check=True, cwd=tmp_path, capture_output=True, timeout=600,
    )
    (wheel,) = dist.glob("geodispatch-*.whl")
    from geodispatch import __version__

    assert wheel.name.startswith(f"geodispatch-{__version__}-"), wheel.name  # one version, from __init__
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("geodispatch/_region_files/"))
    assert shipped == sorted(p.name for p in (REPO / "data" / "regions").glob("*.yaml"))
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True, capture_output=True, timeout=600,
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    code = (
        "import geodispatch, geodispatch.regions as r; "
        "print(geodispatch.__file__); print(r.REGIONS_DIR); print(r.load_region('bantaeng').name); "
        "print(len(r.list_regions()))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=outside, env=env, capture_output=True, text=True, timeout=300, check=True
    ).stdout.splitlines()
    assert out[0].startswith(str(target)), out  # the installed copy, not the checkout
    assert out[1] == str(target / "geodispatch" / "_region_files")
    assert out[2] == "Kabupaten Bantaeng"
    assert int(out[3]) == len(shipped)

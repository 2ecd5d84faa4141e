"""Build hook: ship the region files of ``data/regions`` inside the wheel.

``data/regions/*.yaml`` stays the one copy in the repository (reviewed, with sources); building
a wheel copies them into the package as ``geodispatch/_region_files/`` so an installed
geodispatch finds them with :mod:`importlib.resources`. Everything else is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

REGIONS = Path(__file__).resolve().parent / "data" / "regions"


class BuildWithRegions(build_py):
    """``build_py`` that also copies ``data/regions/*.yaml`` into the built package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "geodispatch" / "_region_files"
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(REGIONS.glob("*.yaml")):
            shutil.copy2(path, target / path.name)


setup(cmdclass={"build_py": BuildWithRegions})

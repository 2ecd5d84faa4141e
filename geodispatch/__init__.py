"""geodispatch: geospatial dispatch optimizer for Indonesian emergency services.

The two entry points most users need are importable from the package itself (lazily, so that
``import geodispatch`` stays cheap):

>>> from geodispatch import load_network, load_scenario  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_network", "load_scenario"]


def __getattr__(name: str) -> Any:
    if name in ("load_network", "load_scenario"):
        from geodispatch import scenario

        return getattr(scenario, name)
    raise AttributeError(f"module 'geodispatch' has no attribute {name!r}")

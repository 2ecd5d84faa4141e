"""Shared test fixtures: paths to ../shared/data, small OSM XML files written in code."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_path(relative: str) -> Path:
    """Path of a file in ../shared/data, skipping the test with a reason when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"needs ../shared/data/{relative} (real data, present in CI); not found at {path}")
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep downloads/caches of every test in a temporary directory."""
    monkeypatch.setenv("GEODISPATCH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def balikpapan_graphml() -> Path:
    """The real osmnx drive network of Kecamatan Balikpapan Kota (1,207 nodes)."""
    return shared_path("roads/balikpapan_kota_drive.graphml")


def write_osm_xml(
    path: Path, nodes: dict[int, tuple[float, float]], ways: list[tuple[list[int], dict[str, str]]]
) -> Path:
    """Write a minimal OSM XML file.

    Parameters
    ----------
    path : Path
        Destination.
    nodes : dict
        OSM node id -> (lon, lat).
    ways : list of (node ids, tags)
        Each way's node sequence and its tags (``highway``, ``oneway``, ``maxspeed``...).
    """
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="geodispatch-tests">']
    for nid, (lon, lat) in nodes.items():
        lines.append(f'  <node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    for i, (refs, tags) in enumerate(ways, start=1):
        lines.append(f'  <way id="{1000 + i}" version="1">')
        lines.extend(f'    <nd ref="{r}"/>' for r in refs)
        lines.extend(f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def small_osm(tmp_path: Path) -> Path:
    """A small town in OSM XML: a primary road, a one-way street, a residential loop, a track.

    Around lon 119.95, lat -5.54 (roughly Bantaeng's latitude; the roads are made up).
    """
    d = 0.002  # ~220 m
    nodes = {
        1: (119.950, -5.540),
        2: (119.950 + d, -5.540),
        3: (119.950 + 2 * d, -5.540),
        4: (119.950 + 3 * d, -5.540),
        5: (119.950 + d, -5.540 + d),
        6: (119.950 + 2 * d, -5.540 + d),
        7: (119.950 + 3 * d, -5.540 + 2 * d),
        8: (119.950 + 5 * d, -5.540 + 3 * d),
    }
    ways = [
        ([1, 2, 3, 4], {"highway": "primary", "maxspeed": "60"}),
        ([2, 5], {"highway": "residential"}),
        ([5, 6], {"highway": "residential", "oneway": "yes"}),
        ([6, 3], {"highway": "residential"}),
        ([6, 7], {"highway": "tertiary", "maxspeed": "junk"}),
        ([7, 8], {"highway": "track"}),
    ]
    return write_osm_xml(tmp_path / "town.osm", nodes, ways)


def weighted_quantile_ref(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Weighted quantile by its definition, for tests: the smallest value ``v`` whose people at
    ``<= v`` reach ``q`` of the total (``inf`` when only the unreachable do; NaN without people).

    A brute force over the distinct values, independent of the sort-and-cumsum in production.
    """
    values = np.asarray(values, dtype=float)
    weights = np.asarray(weights, dtype=float)
    total = weights.sum()
    if len(values) == 0 or total <= 0:
        return float("nan")
    for v in np.unique(values):
        if weights[values <= v].sum() >= q * total:
            return float(v)
    return float(values.max())


def child_env() -> dict[str, str]:
    """The environment of child processes: the worktree's geodispatch first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["MPLBACKEND"] = "Agg"
    return env


@pytest.fixture(scope="module")
def local_dask() -> Iterator[Any]:
    """A ``distributed.Client`` of a real LocalCluster with 2 worker processes (1 thread each)."""
    distributed = pytest.importorskip("distributed")
    os.environ["PYTHONPATH"] = child_env()["PYTHONPATH"]
    os.environ["MPLBACKEND"] = "Agg"
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()

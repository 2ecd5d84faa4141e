"""Writing a coverage report: GeoJSON, CSV, JSON, HTML and PNG files into one directory, atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geodispatch.errors import OutputError
from geodispatch.output import atomic_dir, json_safe

if TYPE_CHECKING:
    from geodispatch.coverage.report import CoverageReport


def write_report(
    report: CoverageReport, out_dir: str | os.PathLike[str], png: bool = True, html: bool = True
) -> Path:
    """Write every output into ``out_dir`` atomically and return it.

    Files: ``isochrones.geojson``, ``surface.geojson``, ``coverage_by_area.csv``,
    ``summary.json``, ``hotspots.geojson``, ``stations.csv``, ``map.html``, ``map.png``.
    The directory is built next to the target and renamed into place only when every file
    was written; on any error nothing is left behind.

    Raises
    ------
    OutputError
        When the directory cannot be written.
    """
    dest = Path(out_dir).expanduser()
    try:
        with atomic_dir(dest) as tmp:
            _write_geojson(report.isochrones, tmp / "isochrones.geojson")
            _write_geojson(report.surface, tmp / "surface.geojson")
            _write_geojson(report.hotspots, tmp / "hotspots.geojson")
            report.area_table.to_csv(tmp / "coverage_by_area.csv", index=False)
            report.station_status.to_csv(tmp / "stations.csv", index=False)
            files = [
                "isochrones.geojson",
                "surface.geojson",
                "hotspots.geojson",
                "coverage_by_area.csv",
                "stations.csv",
            ]
            if html:
                from geodispatch.coverage.maps import save_html

                save_html(report, tmp / "map.html")
                files.append("map.html")
            if png:
                from geodispatch.coverage.maps import static_map

                static_map(report, tmp / "map.png")
                files.append("map.png")
            summary = dict(report.summary)
            summary["files"] = [*files, "summary.json"]
            (tmp / "summary.json").write_text(json.dumps(json_safe(summary), indent=2, allow_nan=False))
    except PermissionError as exc:
        raise OutputError(f"cannot write to {dest}: permission denied; choose a writable --out") from exc
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"cannot write to {dest}: {exc.strerror or exc}; choose a writable --out") from exc
    return dest


def _write_geojson(gdf: Any, path: Path) -> None:
    """GeoJSON with non-finite numbers as null (EPSG:4326)."""
    frame = gdf.copy()
    for col in frame.columns:
        if col != frame.geometry.name and pd.api.types.is_float_dtype(frame[col]):
            frame[col] = frame[col].where(np.isfinite(frame[col]), None)
    path.write_text(frame.to_json(na="null", drop_id=True))

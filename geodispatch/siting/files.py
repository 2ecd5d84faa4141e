"""Files of a siting run: ``sites.geojson``, ``marginal_gain.csv``, ``summary.json`` and the maps.

Written into a temporary sibling directory and renamed at the end (never half written).
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import pandas as pd

from geodispatch.output import atomic_dir
from geodispatch.siting.gains import coverage_status, network_marginal_gain, new_posts_in_table_order
from geodispatch.siting.inputs import SitingProblem
from geodispatch.siting.maps import html_map, png_map
from geodispatch.siting.result import SitingResult

__all__ = ["write_siting_outputs"]


def _sites_geojson(problem: SitingProblem, result: SitingResult, table: pd.DataFrame) -> dict:
    lon, lat = problem.cand_lonlat
    step_of = {int(s): int(st) for s, st in zip(table["site"], table["step"], strict=True)
               if not pd.isna(s)}
    gain_of = {int(s): float(g) for s, g in zip(table["site"], table["newly_covered_weight"],
                                                 strict=True) if not pd.isna(s)}
    features = []
    for i in result.selected:
        i = int(i)
        new = i not in set(result.fixed.tolist())
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [float(lon[i]), float(lat[i])]},
                "properties": {
                    "candidate": i,
                    "name": problem.cand_name[i],
                    "status": "new" if new else "existing",
                    "step": step_of.get(i) if new else 0,
                    "newly_covered_people": gain_of.get(i) if new else None,
                    "road_node": int(problem.cand_node[i]),
                    "model": result.model,
                    "synthetic": bool(problem.network.synthetic),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def write_siting_outputs(
    problem: SitingProblem,
    result: SitingResult,
    out_dir: str | os.PathLike[str],
    threshold_s: float,
    title: str,
    *,
    region: str | None = None,
    service: str = "ambulance",
    areas: Any = None,
    lang: str = "en",
) -> pd.DataFrame:
    """Write ``sites.geojson``, ``marginal_gain.csv``, ``summary.json``, ``map.html``, ``map.png``.

    The directory is written into a temporary sibling and renamed at the end (never half
    written). CSV columns and JSON keys are English whatever ``lang`` (machines read them);
    the maps' titles and legends are in ``lang``.

    Parameters
    ----------
    problem, result : SitingProblem, SitingResult
        The problem and the model's answer.
    out_dir : path
        Output directory.
    threshold_s : float
        Coverage threshold, seconds.
    title : str
        Title of the HTML map.
    region : str, optional
        The region's name for the PNG title (default: the network's name).
    service : str
        ``ambulance``, ``damkar`` or ``all`` (named in words in the PNG title).
    areas : GeoDataFrame, optional
        Desa / kelurahan polygons drawn as outlines on the PNG.
    lang : {"id", "en"}
        Language of the maps.

    Returns
    -------
    pandas.DataFrame
        The marginal-gain table with unbounded response times (as written to the CSV).
    """
    table, nearest = network_marginal_gain(problem, result, threshold_s)
    status = coverage_status(nearest, threshold_s)
    new = new_posts_in_table_order(table)  # map labels match the CSV's steps
    with atomic_dir(out_dir) as tmp:
        (tmp / "sites.geojson").write_text(
            json.dumps(_sites_geojson(problem, result, table), indent=1), encoding="utf-8"
        )
        table.to_csv(tmp / "marginal_gain.csv", index=False)
        html_map(problem, result, new, status, title, tmp / "map.html", lang=lang)
        png_map(problem, result, new, status, table, tmp / "map.png", region=region or problem.network.name,
                service=service, threshold_s=threshold_s, areas=areas, lang=lang)
        summary: dict[str, Any] = {
            "model": result.model,
            "status": result.status,
            "objective": result.objective,
            "bound": result.bound,
            "gap": result.gap,
            "solve_time_s": result.solve_time_s,
            "threshold_s": threshold_s,
            "synthetic": bool(problem.network.synthetic),
            "notes": problem.notes + result.notes,
        }
        summary = {  # no bound / gap (a heuristic result) is null, never NaN (invalid JSON)
            k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in summary.items()
        }
        (tmp / "summary.json").write_text(
            json.dumps(summary, indent=1, default=lambda v: None, allow_nan=False),
            encoding="utf-8",
        )
    return table



"""Outputs of a siting run: marginal-gain table, sites GeoJSON, before/after maps.

The coverage module's maps draw isochrone bands of a coverage run; a siting run needs a
different picture (demand covered before vs after the new posts), so this module draws its
own: a folium map (``map.html``) with demand nodes coloured by their status and the posts,
and a two-panel matplotlib figure (``map.png``) "before" / "after" on the road network.
``map.html`` is standalone (:func:`geodispatch.webmap.save_offline`: Leaflet inline, nothing
loaded from the internet but the optional OpenStreetMap tiles); posts are circle markers, not
icon markers, which would need Font Awesome and awesome-markers from a CDN.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geodispatch.output import atomic_dir
from geodispatch.siting._matrix import CostMatrix
from geodispatch.siting.inputs import SitingProblem
from geodispatch.siting.result import SitingResult, marginal_gain_table

__all__ = ["gain_table", "network_marginal_gain", "write_siting_outputs"]

_BEFORE = "#d7301f"  # not covered
_NEW = "#fdae61"  # newly covered by the new posts
_OLD = "#1a9850"  # covered already
_OLD_POST = "#2166ac"  # existing post
_NEW_POST = "#b2182b"  # new post


def network_marginal_gain(
    problem: SitingProblem, result: SitingResult, threshold_s: float
) -> tuple[pd.DataFrame, np.ndarray]:
    """Marginal gain of each new post with *unbounded* travel times.

    The model's matrix is bounded at the threshold, which is enough to choose the posts but
    not to measure mean response times; here the times from the chosen posts are recomputed
    without a bound (one search per post).

    Returns
    -------
    table : pandas.DataFrame
        :func:`~geodispatch.siting.result.marginal_gain_table` columns plus ``name``, ``lon``,
        ``lat`` (degrees) and ``mean_response_min``; ``covered_weight`` etc. are people.
    nearest : numpy.ndarray
        ``(2, n_demand)`` travel time (s) from the nearest post before and after.
    """
    sites = [int(i) for i in result.selected]
    times = np.asarray(problem.times(sites, None))
    weight = problem.weight
    if problem.unsnapped_population > 0:  # people far from every road: in the total, never covered
        times = np.hstack([times, np.full((len(sites), 1), np.inf)])
        weight = np.append(weight, problem.unsnapped_population)
    local = CostMatrix(times)
    n_fixed = result.fixed.size
    table, _ = marginal_gain_table(
        local,
        list(range(n_fixed, len(sites))),
        weight,
        list(range(n_fixed)),
        threshold_s,
    )
    lon, lat = problem.cand_lonlat
    pos = [None if pd.isna(s) else sites[int(s)] for s in table["site"]]
    table["site"] = pd.array(pos, dtype="Int64")
    table.insert(2, "name", [None if p is None else problem.cand_name[p] for p in pos])
    table.insert(3, "lon", [math.nan if p is None else float(lon[p]) for p in pos])
    table.insert(4, "lat", [math.nan if p is None else float(lat[p]) for p in pos])
    table["mean_response_min"] = table["mean_response_s"] / 60.0
    n_rows = problem.weight.size
    before = local.nearest_cost(list(range(n_fixed)))[:n_rows] if n_fixed else np.full(n_rows, np.inf)
    after = local.nearest_cost(list(range(len(sites))))[:n_rows]
    return table, np.vstack([before, after])


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


def _status(nearest: np.ndarray, threshold_s: float) -> np.ndarray:
    before = nearest[0] <= threshold_s
    after = nearest[1] <= threshold_s
    return np.where(before, "covered", np.where(after, "newly covered", "not covered"))


def _html_map(problem: SitingProblem, result: SitingResult, new_order: np.ndarray,
              status: np.ndarray, title: str, path: Path) -> None:
    import folium

    from geodispatch.webmap import save_offline

    dlon, dlat = problem.demand_lonlat
    fmap = folium.Map(location=[float(np.mean(dlat)), float(np.mean(dlon))], zoom_start=11,
                      tiles="OpenStreetMap")
    colours = {"covered": _OLD, "newly covered": _NEW, "not covered": _BEFORE}
    scale = 12.0 / math.sqrt(max(float(problem.weight.max()), 1.0))
    order = np.argsort(-problem.weight)[:5000]  # the most populated nodes keep the map light
    for k in order:
        folium.CircleMarker(
            [float(dlat[k]), float(dlon[k])],
            radius=max(1.5, scale * math.sqrt(float(problem.weight[k]))),
            color=colours[str(status[k])], fill=True, fill_opacity=0.6, weight=0,
            tooltip=f"{problem.weight[k]:,.0f} people: {status[k]}",
        ).add_to(fmap)
    lon, lat = problem.cand_lonlat
    fixed = set(result.fixed.tolist())
    step_of = {int(c): k for k, c in enumerate(new_order, start=1)}  # the table's steps, as on the PNG
    for i in result.selected:
        i = int(i)
        new = i not in fixed
        # as on the PNG: existing posts blue, new posts dark red and numbered in order of gain
        folium.CircleMarker(
            [float(lat[i]), float(lon[i])], radius=9 if new else 7, color="white", weight=2,
            fill=True, fill_color=_NEW_POST if new else _OLD_POST, fill_opacity=1.0,
            tooltip=folium.Tooltip(f"NEW #{step_of.get(i, '?')}: {problem.cand_name[i]}" if new
                                   else f"existing: {problem.cand_name[i]}", permanent=new),
        ).add_to(fmap)
    legend = (
        f"<div style='position:fixed;bottom:20px;left:20px;z-index:999;background:white;"
        f"padding:6px;font-size:12px'><b>{title}</b><br>"
        f"<span style='color:{_OLD}'>&#9679;</span> covered before<br>"
        f"<span style='color:{_NEW}'>&#9679;</span> newly covered<br>"
        f"<span style='color:{_BEFORE}'>&#9679;</span> not covered<br>"
        f"<span style='color:{_OLD_POST}'>&#11044;</span> existing post<br>"
        f"<span style='color:{_NEW_POST}'>&#11044;</span> new post (#: order of gain)</div>"
    )
    root: Any = fmap.get_root()
    root.html.add_child(folium.Element(legend))
    save_offline(fmap, path)


def _png_map(problem: SitingProblem, result: SitingResult, new_order: np.ndarray,
             status: np.ndarray, title: str, table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    net = problem.network
    segs = np.stack(
        [np.column_stack([net.lon[net.edge_u], net.lat[net.edge_u]]),
         np.column_stack([net.lon[net.edge_v], net.lat[net.edge_v]])], axis=1
    )
    dlon, dlat = problem.demand_lonlat
    size = 40.0 * problem.weight / max(float(problem.weight.max()), 1.0) + 1.0
    lon, lat = problem.cand_lonlat
    fixed = result.fixed
    new = new_order  # numbered by the marginal-gain table's steps
    fig, axes = plt.subplots(1, 2, figsize=(14, 7), sharex=True, sharey=True)
    before_col = np.where(status == "covered", _OLD, _BEFORE)
    after_col = np.where(status == "covered", _OLD,
                         np.where(status == "newly covered", _NEW, _BEFORE))
    first, last = table.iloc[0], table.iloc[-1]
    for ax, colours, label, row in (
        (axes[0], before_col, "before", first),
        (axes[1], after_col, f"after (+{new.size} posts)", last),
    ):
        ax.add_collection(LineCollection(list(segs), colors="#bbbbbb", linewidths=0.3))
        ax.scatter(dlon, dlat, s=size, c=list(colours), alpha=0.7, linewidths=0)
        ax.scatter(lon[fixed], lat[fixed], marker="s", s=40, c="#2166ac", label="existing post",
                   edgecolors="white")
        if ax is axes[1] and new.size:
            ax.scatter(lon[new], lat[new], marker="*", s=220, c="#b2182b", label="new post",
                       edgecolors="white")
            for step, i in enumerate(new, start=1):
                ax.annotate(str(step), (lon[i], lat[i]), xytext=(5, 5),
                            textcoords="offset points", fontsize=9, weight="bold")
        share = row["covered_share"]
        ax.set_title(f"{label}: {100 * share:.1f}% covered" if pd.notna(share) else label)
        ax.set_aspect(1.0 / max(math.cos(math.radians(float(np.mean(dlat)))), 0.1))
        ax.legend(loc="lower right", fontsize=8)
        ax.set_xlabel("longitude")
    axes[0].set_ylabel("latitude")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_siting_outputs(
    problem: SitingProblem,
    result: SitingResult,
    out_dir: str | os.PathLike[str],
    threshold_s: float,
    title: str,
) -> pd.DataFrame:
    """Write ``sites.geojson``, ``marginal_gain.csv``, ``map.html`` and ``map.png``.

    The directory is written into a temporary sibling and renamed at the end (never half
    written).

    Returns
    -------
    pandas.DataFrame
        The marginal-gain table with unbounded response times (as written to the CSV).
    """
    table, nearest = network_marginal_gain(problem, result, threshold_s)
    status = _status(nearest, threshold_s)
    # new posts in the order of the written table (its steps), so map labels match the CSV
    new = np.asarray([int(s) for s in table["site"].iloc[1:]], dtype=np.int64)
    with atomic_dir(out_dir) as tmp:
        (tmp / "sites.geojson").write_text(
            json.dumps(_sites_geojson(problem, result, table), indent=1), encoding="utf-8"
        )
        table.to_csv(tmp / "marginal_gain.csv", index=False)
        _html_map(problem, result, new, status, title, tmp / "map.html")
        _png_map(problem, result, new, status, title, table, tmp / "map.png")
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


def gain_table(title: str, table: pd.DataFrame, threshold_s: float) -> Any:
    """The marginal-gain table as a :class:`rich.table.Table` for the console.

    Parameters
    ----------
    title : str
        Table title.
    table : pandas.DataFrame
        From :func:`network_marginal_gain`.
    threshold_s : float
        Coverage threshold, seconds (column header).
    """
    from rich.table import Table

    out = Table(title=title)
    newly = f"newly covered <= {threshold_s / 60:g} min"
    for col in ("step", "post", "lon, lat", newly, "covered", "mean response", "change"):
        out.add_column(col, justify="left" if col in ("post", "lon, lat") else "right")
    for row in table.itertuples(index=False):
        first = row.step == 0
        out.add_row(
            str(row.step),
            "existing posts" if first else str(row.name),
            "" if first else f"{row.lon:.5f}, {row.lat:.5f}",
            "" if first else f"{row.newly_covered_weight:,.0f}",
            f"{100 * row.covered_share:.1f}%",
            f"{row.mean_response_s / 60:.1f} min",
            "" if first else f"{row.delta_mean_response_s / 60:+.1f} min",
        )
    return out

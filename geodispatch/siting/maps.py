"""Maps of a siting run: a before/after PNG and a standalone HTML map.

The coverage maps draw isochrone bands of a coverage run; a siting run needs another picture
(people covered before vs after the new posts), drawn here from :mod:`geodispatch.siting.gains`
results. ``map.html`` is standalone (:func:`geodispatch.webmap.save_offline`: Leaflet inline,
nothing loaded from the internet but the optional OpenStreetMap tiles); posts are circle
markers, not icon markers, which would need Font Awesome and awesome-markers from a CDN.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geodispatch.siting.inputs import SitingProblem
from geodispatch.siting.result import SitingResult

__all__ = ["html_map", "png_map"]

_BEFORE = "#d7301f"  # not covered
_NEW = "#fdae61"  # newly covered by the new posts
_OLD = "#1a9850"  # covered already
_OLD_POST = "#2166ac"  # existing post
_NEW_POST = "#b2182b"  # new post


def html_map(problem: SitingProblem, result: SitingResult, new_order: np.ndarray,
             status: np.ndarray, title: str, path: Path, lang: str = "en") -> None:
    """Standalone HTML map: people by status (dot size by people), posts, a legend in ``lang``."""
    import folium

    from geodispatch.locale import people, text
    from geodispatch.webmap import save_offline

    dlon, dlat = problem.demand_lonlat
    fmap = folium.Map(location=[float(np.mean(dlat)), float(np.mean(dlon))], zoom_start=11,
                      tiles="OpenStreetMap")
    colours = {"covered": _OLD, "newly covered": _NEW, "not covered": _BEFORE}
    labels = {"covered": text("map.legend.covered", lang), "newly covered": text("map.legend.newly_covered", lang),
              "not covered": text("map.legend.not_covered", lang)}
    scale = 12.0 / math.sqrt(max(float(problem.weight.max()), 1.0))
    order = np.argsort(-problem.weight)[:5000]  # the most populated nodes keep the map light
    for k in order:
        folium.CircleMarker(
            [float(dlat[k]), float(dlon[k])],
            radius=max(1.5, scale * math.sqrt(float(problem.weight[k]))),
            color=colours[str(status[k])], fill=True, fill_opacity=0.6, weight=0,
            tooltip=f"{people(problem.weight[k], lang)}: {labels[str(status[k])]}",
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
        f"<span style='color:{_OLD}'>&#9679;</span> {labels['covered']}<br>"
        f"<span style='color:{_NEW}'>&#9679;</span> {labels['newly covered']}<br>"
        f"<span style='color:{_BEFORE}'>&#9679;</span> {labels['not covered']}<br>"
        f"<span style='color:{_OLD_POST}'>&#11044;</span> {text('map.legend.existing_post', lang)}<br>"
        f"<span style='color:{_NEW_POST}'>&#11044;</span> {text('map.legend.new_post', lang)}<br>"
        f"<small>{text('map.people_rounded', lang)}</small></div>"
    )
    root: Any = fmap.get_root()
    root.html.add_child(folium.Element(legend))
    save_offline(fmap, path)


def png_map(
    problem: SitingProblem,
    result: SitingResult,
    new_order: np.ndarray,
    status: np.ndarray,
    table: pd.DataFrame,
    path: Path,
    *,
    region: str,
    service: str,
    threshold_s: float,
    areas: Any = None,
    lang: str = "en",
    dpi: int = 110,
) -> list[Any]:
    """Two panels, today and after the new posts, to the standard of the coverage PNG.

    Projected axes hidden, scale bar, north arrow, desa outlines (``areas``), a legend for every
    symbol and colour (covered / newly covered / not covered people, dot size, posts), existing
    posts drawn on top of the people, new posts numbered by the marginal-gain table's steps with
    labels that overlap neither each other nor a post; the title names the region and the
    service in words, in ``lang``.

    Returns
    -------
    list of matplotlib.text.Annotation
        The new posts' labels (the tests check their boxes).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from geodispatch.locale import people, percent, text
    from geodispatch.mapdraw import draw_base_layers, finish_axes, place_labels, road_segments, sea_segments

    net = problem.network
    xy = net.node_xy
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    pad = 0.04 * max(x1 - x0, y1 - y0)
    extent = (x0 - pad, x1 + pad, y0 - pad, y1 + pad)
    aspect = (y1 - y0 + 2 * pad) / max(x1 - x0 + 2 * pad, 1.0)
    width = 7.5
    height = float(np.clip(width * aspect, 3.0, 12.0)) + 1.4
    fig, axes = plt.subplots(1, 2, figsize=(2 * width, height), dpi=dpi)
    tolerance = max(x1 - x0, y1 - y0) / (width * dpi) / 2
    segs, major = road_segments(net, tolerance)
    crossings = sea_segments(net, tolerance)  # ferries and sea links: dashed, never as road
    dlon, dlat = problem.demand_lonlat
    dx, dy = net.to_metric(dlon, dlat)
    wmax = max(float(problem.weight.max()), 1.0)
    size = 2.0 + 60.0 * np.sqrt(problem.weight / wmax)
    lon, lat = problem.cand_lonlat
    px, py = net.to_metric(lon, lat)
    fixed = np.asarray(result.fixed, dtype=np.int64)
    new = np.asarray(new_order, dtype=np.int64)
    minutes = f"{threshold_s / 60:g}"
    areas_metric = areas.to_crs(net.crs) if areas is not None and len(areas) else None
    colour_of = {"covered": _OLD, "newly covered": _NEW, "not covered": _BEFORE}
    before = np.where(status == "covered", _OLD, _BEFORE)
    after = np.array([colour_of[str(s)] for s in status])
    first, last = table.iloc[0], table.iloc[-1]
    for k, (ax, colours, row) in enumerate(((axes[0], before, first), (axes[1], after, last))):
        ax.set_facecolor("#f4f6f8")
        legend: list[Any] = []
        if areas_metric is not None:
            areas_metric.boundary.plot(ax=ax, color="#9a9a9a", linewidth=0.5, linestyle="--", zorder=1)
        legend += draw_base_layers(ax, segs, major, crossings, areas_metric is not None, lang)
        order = np.argsort(-problem.weight)[::-1]  # big dots last, on top
        ax.scatter(dx[order], dy[order], s=size[order], c=list(colours[order]), alpha=0.75, linewidths=0, zorder=4)
        kinds = ["covered", "not covered"] if k == 0 else ["covered", "newly covered", "not covered"]
        for kind in kinds:
            key = {"covered": "map.legend.covered", "newly covered": "map.legend.newly_covered",
                   "not covered": "map.legend.not_covered"}[kind]
            legend.append(Line2D([], [], marker="o", linestyle="", markerfacecolor=colour_of[kind],
                                 markeredgewidth=0, markersize=7, label=text(key, lang)))
        small, large = float(np.quantile(problem.weight, 0.1)), wmax
        legend.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="#999999", markeredgewidth=0,
                             markersize=float(np.sqrt(2.0 + 60.0 * np.sqrt(small / wmax))),
                             label=text("map.legend.dot_size", lang, small=people(small, lang),
                                        large=people(large, lang))))
        if fixed.size:
            ax.scatter(px[fixed], py[fixed], marker="s", s=70, c=_OLD_POST, edgecolors="white", linewidths=1.2,
                       zorder=8)
            legend.append(Line2D([], [], marker="s", linestyle="", markerfacecolor=_OLD_POST, markeredgecolor="white",
                                 markersize=8, label=text("map.legend.existing_post", lang)))
        if k == 1 and new.size:
            ax.scatter(px[new], py[new], marker="*", s=260, c=_NEW_POST, edgecolors="white", linewidths=1.0,
                       zorder=9)
            legend.append(Line2D([], [], marker="*", linestyle="", markerfacecolor=_NEW_POST, markeredgecolor="white",
                                 markersize=13, label=text("map.legend.new_post", lang)))
        share = row["covered_share"]
        key = "map.siting.before" if k == 0 else "map.siting.after"
        ax.set_title(text(key, lang, share=percent(share, lang, 1) if pd.notna(share) else "-", minutes=minutes,
                          n=new.size), fontsize=10)
        finish_axes(ax, extent, north=text("map.north", lang))
        ax.legend(handles=legend, loc="best", fontsize=7, framealpha=0.9)
    service_words = text(f"service.{service}" if new.size != 1 else f"service.{service}.one", lang)
    fig.suptitle(text("map.siting.title", lang, region=region, n=new.size, service=service_words, minutes=minutes),
                 fontsize=13, fontweight="bold")
    footer = text("map.synthetic_footer" if net.synthetic else "map.osm_footer", lang)
    fig.text(0.5, 0.01, f"{footer} {text('map.people_rounded', lang)}", ha="center", fontsize=7, color="#333333")
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    labels = place_labels(
        axes[1],
        [(float(px[i]), float(py[i])) for i in new],
        [f"#{step} {problem.cand_name[i]}" for step, i in enumerate(new, start=1)],
        avoid=[(float(px[i]), float(py[i])) for i in fixed],
        fontsize=8, weight="bold", zorder=10,
        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#b2182b", "lw": 0.6, "alpha": 0.9},
    )
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return labels

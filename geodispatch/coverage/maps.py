"""Maps of a coverage report: an interactive folium HTML map and a static PNG for reports.

The HTML map has no base tiles by default (``tiles=None``): its layers (roads drawn from the
network, isochrone bands, stations, hotspots, areas with their coverage table in popups) are
GeoJSON drawn by Leaflet, so they show without any tile server; an OpenStreetMap tile layer
can be switched on when online (off by default: nothing is fetched). Write it with
:func:`save_html` (or :func:`geodispatch.webmap.save_offline`): the file then carries Leaflet
inline and loads nothing from the internet (a plain ``.save`` links CDNs).
Popups are :func:`geodispatch.webmap.popup` (Leaflet only) rather than ``folium.Popup``, which
needs jQuery.

The PNG (matplotlib, drawn to the one standard of :mod:`geodispatch.mapdraw`) shows roads,
nested time bands, stations by type, numbered uncovered hotspots, a legend, a scale bar, a
north arrow and a title naming the region and the threshold; the synthetic regency is
labelled SYNTHETIC in the title and the footer.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geodispatch.locale import people, text
from geodispatch.network.sea import crossing_edges, crossing_label

if TYPE_CHECKING:
    from geodispatch.coverage.report import CoverageReport

SERVICE_COLOURS = {
    "ambulance": ("#b2182b", "Reds"),
    "damkar": ("#d95f02", "Oranges"),
    "combined": ("#5e3c99", "Purples"),
}
_DEFAULT_COLOUR = ("#2166ac", "Blues")
STATION_MARKERS = {"ambulance": "P", "damkar": "^"}
"""Marker of each service's stations on the PNG (plus for ambulance, triangle for Damkar)."""
SERVICE_LABELS = ("ambulance", "damkar", "combined")
"""Services with words in the message tables (``service.label.<service>``)."""


def service_label(service: str, lang: str) -> str:
    """A service in words for map titles and legends (the code itself when it has no words)."""
    return text(f"service.label.{service}", lang) if service in SERVICE_LABELS else service


def band_label(previous: float | None, minutes: float, lang: str) -> str:
    """A time band's legend entry: ``≤ 5 min`` for the first band, ``5–10 min`` for the next."""
    if previous is None:
        return text("map.coverage.band_first", lang, minutes=f"{minutes:g}")
    return text("map.coverage.band", lang, low=f"{previous:g}", high=f"{minutes:g}")


def _colours(service: str) -> tuple[str, str]:
    return SERVICE_COLOURS.get(service, _DEFAULT_COLOUR)


def _band_colours(service: str, n: int) -> list[str]:
    """Colours from dark (shortest threshold) to light (longest), as hex strings."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps[_colours(service)[1]]
    levels = np.linspace(0.85, 0.35, n) if n > 1 else np.array([0.6])
    return [to_hex(cmap(v)) for v in levels]


def _union_rows(report: CoverageReport, service: str) -> Any:
    iso = report.isochrones
    sub = iso[(iso["type"] == service) & (iso["station_id"] == "all")]
    return sub.sort_values("minutes")


# --------------------------------------------------------------------------- folium
MAX_ROAD_VERTICES = 150_000
"""Vertex budget of the HTML map's minor-road layer (about 3 MB of page; arterials always drawn)."""
BAND_PANE, ROAD_PANE = "gd-bands", "gd-roads"
"""Leaflet panes under the default overlay pane (z 400: hotspots, stations, areas): the time
bands (z 380), then the roads over them (z 390, not clickable)."""


def save_html(report: CoverageReport, path: str | os.PathLike[str], simplify_deg: float | None = None) -> Path:
    """Write the interactive map of the report as one standalone HTML file (works offline).

    Parameters
    ----------
    report : CoverageReport
        The coverage run.
    path : str or os.PathLike
        Destination ``.html`` file (written atomically).
    simplify_deg : float, optional
        As in :func:`folium_map`.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from geodispatch.webmap import save_offline

    return save_offline(folium_map(report, simplify_deg), path)


def folium_map(
    report: CoverageReport, simplify_deg: float | None = None, max_road_vertices: int = MAX_ROAD_VERTICES
) -> Any:
    """Interactive map of the report (folium.Map; write it with :func:`save_html`).

    ``.save(path)`` also works but links Leaflet from its CDN (blank offline).

    Layers: the roads drawn from the network itself (arterials always; minor roads simplified
    and, on a big network, only the longest within ``max_road_vertices``), the desa outlines,
    one layer per service with its time bands *and* its uncovered hotspots (toggling a service
    shows or hides both; the first service is shown), the stations, and an optional
    OpenStreetMap tile layer that is off by default (nothing is fetched unless it is switched
    on). A legend of the time bands and a metric-only scale.

    Parameters
    ----------
    report : CoverageReport
        The coverage run.
    simplify_deg : float, optional
        Simplification tolerance of polygons and roads for the browser, degrees (default: the
        region's extent / 4000, at least 2e-5, about 2 m).
    max_road_vertices : int
        Vertex budget of the minor-road layer (the longest roads are kept).
    """
    import folium

    from geodispatch.webmap import popup

    net = report.network
    minx, miny, maxx, maxy = net.bbox
    if simplify_deg is None:
        simplify_deg = max(2e-5, max(maxx - minx, maxy - miny) / 4000)
    centre = [(miny + maxy) / 2, (minx + maxx) / 2]
    fmap = folium.Map(location=centre, tiles=None, control_scale=False, prefer_canvas=True)
    _metric_scale().add_to(fmap)  # metres and kilometres only (folium's control also shows miles)
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    folium.TileLayer(
        "OpenStreetMap", name="OpenStreetMap tiles (online, optional)", overlay=True, show=False, control=True
    ).add_to(fmap)
    lang = report.lang
    minutes_text = ", ".join(f"{m:g}" for m in report.minutes)
    title = html.escape(text("map.coverage.html_title", lang, region=report.name, minutes=minutes_text))
    note = html.escape(text("map.coverage.synthetic_note", lang)) if report.synthetic else ""
    fmap.get_root().html.add_child(  # type: ignore[attr-defined]
        folium.Element(
            f'<div style="position:fixed;top:8px;left:60px;z-index:9999;background:white;padding:4px 8px;'
            f'border:1px solid #888;font:14px sans-serif"><b>{title}</b>{note}</div>'
        )
    )
    fmap.get_root().html.add_child(folium.Element(_band_legend(report)))  # type: ignore[attr-defined]
    folium.map.CustomPane(BAND_PANE, z_index=380).add_to(fmap)
    _folium_roads(report, fmap, simplify_deg, max_road_vertices)
    if report.areas is not None:
        _folium_areas(report, fmap, simplify_deg)
    hot = report.hotspots
    last = report.minutes[-1]
    shown = False
    for service in report.services:
        rows = _union_rows(report, service)
        mine = hot[hot["type"] == service] if len(hot) else hot
        if rows.empty and not len(mine):
            continue
        colours = _band_colours(service, len(rows))
        group = folium.FeatureGroup(
            name=f"{service}: isochrones" + (f" and uncovered hotspots (> {last:g} min)" if len(mine) else ""),
            show=not shown,
        )
        shown = True
        for (_, row), colour in reversed(list(zip(rows.iterrows(), colours, strict=True))):
            geom = row.geometry.simplify(simplify_deg)
            if geom.is_empty:
                continue
            folium.GeoJson(
                geom.__geo_interface__,
                style_function=lambda _f, c=colour: {"fillColor": c, "color": c, "weight": 1, "fillOpacity": 0.45},
                tooltip=f"{service} within {row.minutes:g} min: {row.area_km2:,.2f} km²",
                pane=BAND_PANE,
            ).add_to(group)
        _folium_hotspots(mine, group)
        group.add_to(fmap)
    status = report.station_status
    for service in dict.fromkeys(status["service"]) if len(status) else []:
        colour = _colours(service)[0]
        group = folium.FeatureGroup(name=f"{service}: stations", show=True)
        for row in status[status["service"] == service].itertuples(index=False):
            off = row.status == "off_network"
            popup_html = (
                f"<b>{html.escape(str(row.name) or str(row.id))}</b><br>id {html.escape(str(row.id))}<br>"
                f"type {row.station_type} ({service})<br>status: {row.status}"
                + (f"<br>{html.escape(row.note)}" if row.note else "")
            )
            marker = folium.CircleMarker(
                [row.lat, row.lon],
                radius=7,
                color="black" if not off else "#777777",
                weight=2,
                fill=True,
                fill_color=colour if not off else "white",
                fill_opacity=1.0,
                dash_array="3" if off else None,
                tooltip=f"{row.id} ({service}{', OFF NETWORK' if off else ''})",
            )
            marker.add_child(popup(popup_html, max_width=300)).add_to(group)
        group.add_to(fmap)
    _folium_crossings(report, fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap


def _folium_hotspots(spots: Any, group: Any, top: int = 15) -> None:
    """A service's largest uncovered hotspots (outline, marker, popup) into its layer group."""
    import folium

    from geodispatch.webmap import popup

    for row in spots.sort_values("rank").head(top).itertuples(index=False):
        median = "unreachable" if not np.isfinite(row.median_s) else f"{row.median_s / 60:.1f} min"
        popup_html = (
            f"<b>hotspot #{row.number} ({row.type})</b><br>{row.population:,.0f} people not covered within "
            f"{row.minutes:g} min<br>median time {median}<br>{row.area_km2:.2f} km²"
        )
        folium.GeoJson(
            row.geometry.__geo_interface__,
            style_function=lambda _f: {"color": "#000000", "weight": 2, "dashArray": "4", "fillOpacity": 0.0},
        ).add_to(group)
        folium.CircleMarker(
            [row.lat, row.lon], radius=5, color="black", fill=True, fill_color="yellow", fill_opacity=1.0,
            tooltip=f"hotspot #{row.number}: {row.population:,.0f} people",
        ).add_child(popup(popup_html, max_width=300)).add_to(group)


def _folium_roads(report: CoverageReport, fmap: Any, simplify_deg: float, max_vertices: int) -> None:
    """The network's roads, drawn offline in their own pane above the bands (no tile server).

    Arterials are always drawn (not in the layer control); minor roads are one toggleable
    layer, simplified, and on a big network only the longest within ``max_vertices``.
    """
    import folium

    from geodispatch.network.lines import RoadLines

    folium.map.CustomPane(ROAD_PANE, z_index=390, pointer_events=False).add_to(fmap)
    lines = RoadLines(report.network)
    minor, dropped = lines.simplified("minor", simplify_deg, max_vertices)
    arterial, _ = lines.simplified("arterial", simplify_deg)
    if minor:
        name = "minor roads (simplified" + (f"; {dropped:,} shortest left out)" if dropped else ")")
        group = folium.FeatureGroup(name=name, show=True)
        _road_geojson(minor, "#555555", 0.8, 0.7).add_to(group)
        group.add_to(fmap)
    if arterial:
        group = folium.FeatureGroup(name="arterial roads", show=True, control=False)
        _road_geojson(arterial, "#222222", 2.2, 0.85).add_to(group)
        group.add_to(fmap)


def _road_geojson(lines: list[np.ndarray], colour: str, weight: float, opacity: float) -> Any:
    """One MultiLineString GeoJSON layer of ``lines`` (lon/lat) in the roads pane."""
    import folium

    geometry = {"type": "MultiLineString", "coordinates": [line.tolist() for line in lines]}
    return folium.GeoJson(
        geometry, style_function=lambda _f: {"color": colour, "weight": weight, "opacity": opacity},
        pane=ROAD_PANE, interactive=False,
    )


def _folium_crossings(report: CoverageReport, fmap: Any) -> None:
    """Ferries and sea links as dashed blue lines (one per crossing, both directions drawn once)."""
    import folium

    net = report.network
    sea = crossing_edges(net)  # each boat once (two boats between the same piers are two)
    if not sea:
        return
    group = folium.FeatureGroup(name="ferries and sea links", show=True)
    geoms = net.edge_geometries()
    for e in sea:
        label = f"{crossing_label(net, e)}: {net.edge_time_s[e] / 60:.0f} min crossing (boarding included)"
        folium.PolyLine(
            [(lat, lon) for lon, lat in geoms[e].coords], color="#1f5fa8", weight=3, dash_array="8 6", tooltip=label,
        ).add_to(group)
    group.add_to(fmap)


def _metric_scale() -> Any:
    """A Leaflet scale control in metres / kilometres only."""
    from folium.elements import MacroElement
    from folium.template import Template

    element = MacroElement()
    element._template = Template(
        "{% macro script(this, kwargs) %}"
        "L.control.scale({metric: true, imperial: false}).addTo({{ this._parent.get_name() }});"
        "{% endmacro %}"
    )
    return element


def _band_legend(report: CoverageReport) -> str:
    """HTML legend of the time bands of every service (colour swatch and minutes), bottom left."""
    rows = []
    for service in report.services:
        bands = _union_rows(report, service)
        if bands.empty:
            continue
        colours = _band_colours(service, len(bands))
        rows.append(f"<b>{html.escape(service_label(service, report.lang))}</b>")
        previous = None
        for row, colour in zip(bands.itertuples(index=False), colours, strict=True):
            label = html.escape(band_label(previous, row.minutes, report.lang))
            rows.append(
                f'<span class="gd-band" style="display:inline-block;width:14px;height:10px;background:{colour};'
                f'opacity:0.8;margin-right:4px"></span>{label}'
            )
            previous = row.minutes
    return (
        '<div class="gd-legend" style="position:fixed;bottom:44px;left:10px;z-index:9999;background:white;'
        'padding:6px 8px;border:1px solid #888;font:12px sans-serif;line-height:1.5">'
        + "<br>".join(rows) + "</div>"
    )


def _folium_areas(report: CoverageReport, fmap: Any, simplify_deg: float) -> None:
    import folium

    from geodispatch.webmap import popup

    table = report.area_table
    group = folium.FeatureGroup(name="areas (click for the coverage table)", show=True)
    last = f"{report.minutes[-1]:g}"
    for geom, name in zip(report.areas.geometry, report.areas["name"], strict=True):
        rows = table[table["area"] == name]
        if rows.empty:
            continue
        cells = "".join(
            f"<tr><td>{html.escape(str(r['type']))}</td><td>{_num(r['population'])}</td>"
            f"<td>{_num(r[f'covered_{last}min'])}</td><td>{_pct(r[f'share_{last}min'])}</td>"
            f"<td>{_minutes(r['median_s'])}</td><td>{_minutes(r['p90_s'])}</td><td>{_minutes(r['worst_s'])}</td></tr>"
            for _, r in rows.iterrows()
        )
        popup_html = (
            f"<b>{html.escape(str(name))}</b><table border=1 style='border-collapse:collapse;font-size:12px'>"
            f"<tr><th>type</th><th>people</th><th>covered {last} min</th><th>share</th><th>median</th>"
            f"<th>p90</th><th>worst</th></tr>{cells}</table>"
        )
        folium.GeoJson(
            geom.simplify(simplify_deg).__geo_interface__,
            style_function=lambda _f: {"color": "#555555", "weight": 1, "fillOpacity": 0.0, "dashArray": "2"},
            tooltip=str(name),
        ).add_child(popup(popup_html, max_width=500)).add_to(group)
    group.add_to(fmap)


def _num(v: Any) -> str:
    return "-" if v is None or not np.isfinite(v) else f"{v:,.0f}"


def _pct(v: Any) -> str:
    return "-" if v is None or not np.isfinite(v) else f"{v:.0%}"


def _minutes(v: Any) -> str:
    return "unreachable" if v is None or not np.isfinite(v) else f"{v / 60:.1f} min"


# --------------------------------------------------------------------------- static PNG
HOTSPOT_LABELS = 5
"""Hotspots labelled per panel of the PNG (the largest of the service)."""


def static_map(
    report: CoverageReport,
    path: str | os.PathLike[str],
    services: list[str] | None = None,
    dpi: int = 150,
) -> Path:
    """Write a static PNG map: one panel per service with roads, bands, stations and hotspots.

    Drawn by :func:`static_figure` to the one map standard of :mod:`geodispatch.mapdraw`.

    Parameters
    ----------
    report : CoverageReport
        The coverage run.
    path : path-like
        Output PNG.
    services : list of str, optional
        Panels to draw (default: every service of the report, at most three).
    dpi : int
        Resolution.

    Returns
    -------
    Path
    """
    import matplotlib.pyplot as plt

    fig, _labels = static_figure(report, services, dpi)
    out = Path(path)
    try:
        fig.savefig(out, dpi=dpi)
    finally:
        plt.close(fig)
    return out


def static_figure(
    report: CoverageReport, services: list[str] | None = None, dpi: int = 150
) -> tuple[Any, dict[str, list[Any]]]:
    """The static map as a matplotlib figure, and each panel's hotspot labels.

    One panel per service (at most three): nested time bands, roads (arterials thicker), desa
    outlines, stations by type on top, the service's largest uncovered hotspots outlined and
    labelled with their report-wide ``number`` (the same place has the same number in every
    panel and in ``hotspots.geojson``); labels overlap neither each other nor a station
    (:func:`geodispatch.mapdraw.place_labels`). Projected axes hidden, scale bar, north arrow,
    a legend for every symbol and a title naming the region and the threshold.

    Returns
    -------
    (matplotlib.figure.Figure, dict service -> list of matplotlib.text.Annotation)
        The caller saves and closes the figure.
    """
    lang = report.lang
    import matplotlib

    matplotlib.use("Agg")
    import geopandas as gpd
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from geodispatch.mapdraw import draw_base_layers, finish_axes, place_labels, road_segments, sea_segments

    net = report.network
    crs = net.crs
    panels = (services or list(report.services))[:3]
    n = len(panels)
    xy = net.node_xy
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    pad = 0.04 * max(x1 - x0, y1 - y0)
    extent = (x0 - pad, x1 + pad, y0 - pad, y1 + pad)
    aspect = (y1 - y0 + 2 * pad) / max(x1 - x0 + 2 * pad, 1.0)
    width = 7.5 if n > 1 else 10.0
    height = float(np.clip(width * aspect, 3.0, 12.0)) + 1.4
    fig, axes = plt.subplots(1, n, figsize=(width * n, height), dpi=dpi, squeeze=False)
    # about one pixel in metres: finer detail than that is invisible and only slows drawing down
    tolerance = max(x1 - x0, y1 - y0) / (width * dpi) / 2
    segs, major = road_segments(net, tolerance)
    crossings = sea_segments(net, tolerance)  # ferries and sea links: dashed, never as road
    areas_metric = report.areas.to_crs(crs) if report.areas is not None else None
    stations = report.station_status
    hot_all = report.hotspots.to_crs(crs) if len(report.hotspots) else None
    last = report.minutes[-1]
    to_label: dict[str, tuple[list[tuple[float, float]], list[str], list[tuple[float, float]]]] = {}
    for ax, service in zip(axes[0], panels, strict=True):
        ax.set_facecolor("#f4f6f8")
        rows = _union_rows(report, service)
        colours = _band_colours(service, len(rows))
        if areas_metric is not None:
            areas_metric.boundary.plot(ax=ax, color="#9a9a9a", linewidth=0.5, linestyle="--", zorder=1)
        legend: list[Any] = []
        previous = None
        bands = list(zip(rows.itertuples(index=False), colours, strict=True))
        for row, colour in reversed(bands):
            # a hairline edge in the band colour keeps 100 m bands visible on a regency-wide map
            gpd.GeoSeries([row.geometry], crs=4326).to_crs(crs).simplify(tolerance).plot(
                ax=ax, facecolor=colour, edgecolor=colour, alpha=0.8, linewidth=0.5, zorder=2
            )
        for row, colour in bands:
            label = band_label(previous, row.minutes, lang)
            legend.append(Patch(facecolor=colour, alpha=0.8, label=label))
            previous = row.minutes
        legend += draw_base_layers(ax, segs, major, crossings, areas_metric is not None, lang)
        anchors: list[tuple[float, float]] = []
        texts: list[str] = []
        if hot_all is not None:
            hot = hot_all[hot_all["type"] == service].sort_values("rank").head(HOTSPOT_LABELS)
            if len(hot):
                hot.boundary.plot(ax=ax, color="black", linewidth=1.2, linestyle=(0, (3, 2)), zorder=5)
                hx, hy = net.to_metric(hot["lon"].to_numpy(), hot["lat"].to_numpy())
                ax.scatter(hx, hy, s=10, c="black", zorder=6)
                anchors = [(float(a), float(b)) for a, b in zip(hx, hy, strict=True)]
                texts = [text("map.coverage.hotspot_label", lang, n=int(r.number), people=people(r.population, lang))
                         for r in hot.itertuples(index=False)]
                legend.append(Line2D([], [], color="black", linestyle=(0, (3, 2)),
                                     label=text("map.coverage.hotspot", lang, minutes=f"{last:g}")))
        st = stations[stations["service"].isin([service] if service != "combined" else list(report.stations))]
        avoid: list[tuple[float, float]] = []
        if len(st):
            sx, sy = net.to_metric(st["lon"].to_numpy(), st["lat"].to_numpy())
            avoid = [(float(a), float(b)) for a, b in zip(sx, sy, strict=True)]
            on = (st["status"] != "off_network").to_numpy()
            for svc in dict.fromkeys(st["service"]):
                m = (st["service"] == svc).to_numpy()
                c = _colours(svc)[0]
                mk = STATION_MARKERS.get(svc, "o")
                ax.scatter(sx[m & on], sy[m & on], s=130, marker=mk, c="white", edgecolors="black", linewidths=2.4,
                           zorder=8)
                ax.scatter(sx[m & on], sy[m & on], s=70, marker=mk, c=c, edgecolors="white", linewidths=0.8, zorder=9)
                legend.append(Line2D([], [], marker=mk, linestyle="", markerfacecolor=c, markeredgecolor="black",
                                     markersize=9, label=text("map.coverage.station", lang, service=svc)))
            if (~on).any():
                ax.scatter(sx[~on], sy[~on], s=60, marker="X", c="white", edgecolors="black", linewidths=1, zorder=8)
                legend.append(Line2D([], [], marker="X", linestyle="", markerfacecolor="white", markeredgecolor="black",
                                     markersize=8, label=text("map.coverage.off_network", lang, n=int((~on).sum()))))
        to_label[service] = (anchors, texts, avoid)
        finish_axes(ax, extent)
        info = report.summary["services"].get(service, {})
        pop = info.get("population")
        if pop and pop["share"].get(f"{last:g}") is not None:
            sub = text("map.coverage.people_share", lang, share=f"{pop['share'][f'{last:g}']:.0%}",
                       people=people(pop["covered"][f"{last:g}"], lang), minutes=f"{last:g}")
        else:
            share = info.get("road_share", {}).get(f"{last:g}", 0)
            sub = text("map.coverage.road_share", lang, share=f"{share:.0%}", minutes=f"{last:g}")
        ax.set_title(f"{service_label(service, lang)}\n{sub}", fontsize=10)
        ax.legend(handles=legend, loc="best", fontsize=7, framealpha=0.9)
    title = text("map.coverage.title", lang, minutes=f"{last:g}", region=report.name)
    if report.synthetic and "SYNTHETIC" not in title:
        title += " (SYNTHETIC)"
    fig.suptitle(title, fontsize=13, fontweight="bold")
    footer = text("map.synthetic_footer" if report.synthetic else "map.osm_footer", lang) + " "
    footer += text("map.coverage.footer", lang, offroad=f"{report.offroad_m:g}", crs=crs.to_string())
    fig.text(0.5, 0.01, footer, ha="center", fontsize=7, color="#333333")
    fig.tight_layout(rect=(0, 0.03, 1, 0.96))
    labels: dict[str, list[Any]] = {}
    for ax, service in zip(axes[0], panels, strict=True):  # after the layout: labels are placed in pixels
        anchors, texts, avoid = to_label[service]
        labels[service] = place_labels(
            ax, anchors, texts, avoid=avoid, marker_px=12.0, fontsize=7, zorder=10,
            bbox={"boxstyle": "round,pad=0.2", "fc": "#ffffcc", "ec": "black", "lw": 0.5},
        ) if anchors else []
    return fig, labels

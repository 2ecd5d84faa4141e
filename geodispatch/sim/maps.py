"""Pictures of a simulation: where the late calls were, and response-time distributions.

* ``map.png`` / ``map.html``: the calls of the first policy's replications, late ones (first
  unit after the target, or never) in red, on time in green, with the unit posts; the HTML map
  is standalone (works offline, :mod:`geodispatch.webmap`).
* ``response_times.png``: the empirical distribution (CDF) of response times of every policy
  simulated, with the target marked.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from geodispatch.sim.run import SimulationRun

_LATE, _ON_TIME, _POST, _HOSP = "#b2182b", "#1a9850", "#2166ac", "#762a83"
_MAX_HTML_POINTS = 5000


def write_maps(run: SimulationRun, calls: Any, out: Path) -> None:
    """Write ``map.png``, ``map.html`` and ``response_times.png`` into ``out``."""
    first = run.results[0]
    own = calls[(calls["policy"] == first.policy) & (calls["move_up"] == first.move_up)]
    _png_map(run, own, out / "map.png")
    _html_map(run, own, out / "map.html")
    _response_plot(run, calls, out / "response_times.png")


def _label(run: SimulationRun) -> str:
    r = run.results[0]
    tag = " (SYNTHETIC)" if run.scenario.synthetic else ""
    return f"{run.scenario.name}{tag}: {r.policy}, move-up {r.move_up}"


def _png_map(run: SimulationRun, calls: Any, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    m = run.results[0].model
    net = m.network
    target = m.target_s
    fig, ax = plt.subplots(figsize=(9, 9))
    segs = np.stack(
        [np.column_stack([net.lon[net.edge_u], net.lat[net.edge_u]]),
         np.column_stack([net.lon[net.edge_v], net.lat[net.edge_v]])], axis=1
    )  # fmt: skip
    ax.add_collection(LineCollection(list(segs), colors="#cccccc", linewidths=0.3))
    resp = calls["response_s"].to_numpy(dtype=float)
    late = ~(resp <= target)
    ax.scatter(calls["lon"][~late], calls["lat"][~late], s=3, c=_ON_TIME, alpha=0.35, linewidths=0,
               label=f"within {target / 60:g} min")  # fmt: skip
    ax.scatter(calls["lon"][late], calls["lat"][late], s=5, c=_LATE, alpha=0.6, linewidths=0,
               label=f"late or never reached ({int(late.sum()):,})")  # fmt: skip
    posts = np.unique(m.unit_home)
    ax.scatter(m.key_lon[posts], m.key_lat[posts], marker="s", s=40, c=_POST, edgecolors="white", label="unit post")
    if len(m.hospital_key):
        ax.scatter(m.key_lon[m.hospital_key], m.key_lat[m.hospital_key], marker="P", s=90, c=_HOSP,
                   edgecolors="white", label="hospital")  # fmt: skip
    share = float((resp <= target).mean()) if len(resp) else math.nan
    ax.set_title(f"{_label(run)}\n{100 * share:.1f}% of calls reached within {target / 60:g} min "
                 f"({len(run.results[0].replications)} replication(s))", fontsize=10)  # fmt: skip
    ax.set_aspect(1.0 / max(math.cos(math.radians(float(np.mean(net.lat)))), 0.1))
    ax.autoscale_view()
    ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel("lon")
    ax.set_ylabel("lat")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _html_map(run: SimulationRun, calls: Any, path: Path) -> None:
    import folium

    from geodispatch.webmap import popup, render_offline

    m = run.results[0].model
    net = m.network
    target = m.target_s
    fmap = folium.Map(
        location=[float(np.mean(net.lat)), float(np.mean(net.lon))], zoom_start=11, tiles=None, control_scale=True
    )
    resp = calls["response_s"].to_numpy(dtype=float)
    late_idx = np.flatnonzero(~(resp <= target))
    if len(late_idx) > _MAX_HTML_POINTS:  # keep the page light: an even sample of the late calls
        late_idx = late_idx[np.linspace(0, len(late_idx) - 1, _MAX_HTML_POINTS).astype(int)]
    # one GeoJSON layer for all late calls (not one folium element each: rendering thousands of
    # elements through the template engine took longer than the simulated year)
    sub = calls.iloc[late_idx]
    resp_late = resp[late_idx]
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(lon), float(lat)]},
            "properties": {
                "popup": (
                    f"call {html.escape(str(cid))} (replication {rep}): {html.escape(str(kind))}, "
                    f"priority {prio}<br>first unit after "
                    + (f"{r / 60:.1f} min" if math.isfinite(r) else "never")
                    + f"<br>units: {html.escape(str(units) or '-')}"
                )
            },
        }
        for cid, rep, kind, prio, lon, lat, units, r in zip(
            sub["id"].tolist(), sub["replication"].tolist(), sub["type"].tolist(), sub["priority"].tolist(),
            sub["lon"].tolist(), sub["lat"].tolist(), sub["unit_ids"].tolist(), resp_late.tolist(), strict=True,
        )
    ]  # fmt: skip
    late = folium.FeatureGroup(name=f"late calls (first unit after {target / 60:g} min, or none)")
    if features:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            marker=folium.CircleMarker(radius=3, color=_LATE, fill=True, fill_color=_LATE, fill_opacity=0.7, weight=0),
            popup=folium.GeoJsonPopup(fields=["popup"], labels=False),
        ).add_to(late)
    late.add_to(fmap)
    posts = folium.FeatureGroup(name="unit posts and hospitals")
    counts: dict[int, int] = {}
    for k in m.unit_home.tolist():
        counts[k] = counts.get(k, 0) + 1
    for k, n in counts.items():
        folium.CircleMarker(
            [float(m.key_lat[k]), float(m.key_lon[k])], radius=7, color=_POST, fill=True, fill_opacity=0.9
        ).add_child(popup(f"post {html.escape(m.key_name[k])}: {n} unit(s)")).add_to(posts)
    for h, k in enumerate(m.hospital_key.tolist()):
        folium.CircleMarker(
            [float(m.key_lat[k]), float(m.key_lon[k])], radius=8, color=_HOSP, fill=True, fill_opacity=0.9
        ).add_child(popup(f"hospital {html.escape(m.hospitals[h].name)}")).add_to(posts)
    posts.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    title = html.escape(_label(run))
    header = folium.Element(f"<h3 style='margin:4px'>{title}: late calls</h3>")
    fmap.get_root().html.add_child(header)  # type: ignore[attr-defined]
    path.write_text(render_offline(fmap), encoding="utf-8")


def _response_plot(run: SimulationRun, calls: Any, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target = run.results[0].model.target_s
    fig, ax = plt.subplots(figsize=(8, 5))
    for res in run.results:
        own = calls[(calls["policy"] == res.policy) & (calls["move_up"] == res.move_up)]
        r = np.sort(own["response_s"].to_numpy(dtype=float))
        n = len(r)
        r = r[np.isfinite(r)]
        if not len(r):
            continue
        f = res.summary()["figures"]["within_target"]
        ci = f["ci95"]
        label = f"{res.policy}, move-up {res.move_up}: {100 * f['mean']:.1f}% within target"
        if ci is not None:
            label += f" (95% CI {100 * ci[0]:.1f}-{100 * ci[1]:.1f})"
        ax.step(r / 60.0, np.arange(1, len(r) + 1) / n, where="post", label=label)
    ax.axvline(target / 60.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("response time, call received to first unit on scene (min)")
    ax.set_ylabel("share of calls")
    ax.set_ylim(0, 1)
    tag = " (SYNTHETIC)" if run.scenario.synthetic else ""
    ax.set_title(f"Response-time distribution: {run.scenario.name}{tag}", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

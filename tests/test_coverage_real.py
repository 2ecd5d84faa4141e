"""Coverage on real OSM networks from ../shared/data (skipped with a reason when absent)."""

from __future__ import annotations

import json
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import shared_path
from shapely.ops import substring
from test_coverage import reference_times

from geodispatch.coverage.isochrones import polygons_for_thresholds
from geodispatch.coverage.surface import station_node_times
from geodispatch.network.graph import RoadNetwork
from geodispatch.scenario import load_network


def _write_fire_posts(tmp_path: Path) -> Path:
    """The real Balikpapan fire/BPBD posts as a geodispatch stations CSV (id, type, lon, lat, name)."""
    src = pd.read_csv(shared_path("facilities/balikpapan_fire_stations.csv"))
    out = pd.DataFrame({"id": [f"pos-{i}" for i in range(len(src))], "type": "damkar", "lon": src["lon"],
                        "lat": src["lat"], "name": src["name"]})
    path = tmp_path / "fire_posts.csv"
    out.to_csv(path, index=False)
    return path


def _check_polygons(net: RoadNetwork, stations, limits: list[float], offroad: float) -> None:  # type: ignore[no-untyped-def]
    """Containment, nesting, node times vs networkx, and the exact outside rule on a real network."""
    _, node_t = station_node_times(net, stations)
    ref_t, _ = reference_times(net, stations, net.snap([net.lon[0]], [net.lat[0]]))
    np.testing.assert_allclose(node_t, ref_t, rtol=1e-9, atol=1e-6)
    polys = polygons_for_thresholds(net, node_t, limits, offroad, seeds=stations)
    xy = net.node_xy
    metric = net.edge_geometries(metric=True)
    slowest = float((net.edge_length_m / net.edge_time_s).min())
    for limit, poly in zip(limits, polys, strict=True):
        inside = shapely.intersects_xy(poly, xy[:, 0], xy[:, 1])
        assert inside[node_t <= limit].all()
        # reference reached road (per-edge loop, networkx times): a node is inside exactly when it is
        # within the off-road distance of it (2 m tolerance: round caps are chords, 4 per quarter circle)
        pieces = []
        for e in np.flatnonzero(ref_t[net.edge_u] <= limit):
            frac = min(1.0, (limit - ref_t[net.edge_u[e]]) / net.edge_time_s[e])
            pieces.append(substring(metric[e], 0.0, frac, normalized=True))
        for i in np.flatnonzero(stations.ok):
            e, f = int(stations.edge[i]), float(stations.fraction[i])
            pieces.append(substring(metric[e], f, min(1.0, f + limit / net.edge_time_s[e]), normalized=True))
        reached = shapely.union_all(pieces)
        dist = shapely.distance(reached, shapely.points(xy))
        assert not inside[dist > offroad + 1.0].any()
        assert inside[dist < offroad - 2.0].all()
        # the rule holds except where another reached road passes within the off-road distance
        far_inside = inside & (node_t > limit + offroad / slowest)
        assert (dist[far_inside] <= offroad + 1.0).all()
    for small, big in pairwise(polys):
        assert shapely.difference(small, big).area < 1e-9 * max(small.area, 1.0)


def test_balikpapan_cli_fire_posts_and_kelurahan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from geodispatch import cli

    graphml = shared_path("roads/balikpapan_kota_drive.graphml")
    areas = shared_path("boundaries/balikpapan_kelurahan.geojson")
    stations = _write_fire_posts(tmp_path)
    out = tmp_path / "bpp"
    argv = ["geodispatch", "coverage", str(graphml), "--stations", str(stations), "--station-types", "damkar",
            "--areas", str(areas), "--minutes", "5", "--minutes", "10", "--per-station", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(cli.console, "width", 160)
    cli.main()
    printed = capsys.readouterr().out
    assert "damkar" in printed and "off_network" in printed and "pos-1" in printed
    summary = json.loads((out / "summary.json").read_text())
    dam = summary["services"]["damkar"]
    assert dam["stations_total"] == 6 and dam["stations_used"] == 2
    assert sorted(dam["stations_off_network"]) == ["pos-1", "pos-2", "pos-3", "pos-4"]
    table = pd.read_csv(out / "coverage_by_area.csv")
    assert "Klandasan Ilir" in set(table["area"])
    # every kelurahan keeps a row (the network covers only Kecamatan Balikpapan Kota); the ones with
    # no road say so in the table, in summary.json and in the CLI caption
    assert len(table) == 34
    empty = table[table["road_km"] == 0]
    assert (empty["note"] == "no road of this network inside").sum() >= 20
    assert table.loc[table["note"].isna(), "road_km"].gt(0).sum() >= 5
    assert any(w["message"].startswith(f"{(table['note'] == 'no road of this network inside').sum()} of 34 areas "
                                       "have no road") and w["code"] == "areas_without_road"
               for w in summary["warnings"])
    assert "of 34 areas have no road" in printed
    assert table["road_km"].sum() == pytest.approx(summary["network"]["road_km"], rel=0.02)
    iso = json.loads((out / "isochrones.geojson").read_text())
    per_station = {f["properties"]["station_id"] for f in iso["features"]}
    assert per_station == {"all", "pos-0", "pos-5"}


def test_balikpapan_cli_errors_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from geodispatch import cli

    graphml = shared_path("roads/balikpapan_kota_drive.graphml")
    out = tmp_path / "never"
    for extra in ([], ["--stations", str(_write_fire_posts(tmp_path)), "--areas",
                       str(shared_path("boundaries/bantaeng_desa_kelurahan.geojson"))]):
        monkeypatch.setattr(sys, "argv", ["geodispatch", "coverage", str(graphml), *extra, "--out", str(out)])
        with pytest.raises(SystemExit) as exc:
            cli.main()
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") <= 3
        assert not out.exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".never")]


def test_balikpapan_isochrones_exact() -> None:
    net = load_network(shared_path("roads/balikpapan_kota_drive.graphml"))
    posts = pd.read_csv(shared_path("facilities/balikpapan_fire_stations.csv"))
    snap = net.snap(posts["lon"].to_numpy(), posts["lat"].to_numpy(), strict=False)
    assert snap.ok.sum() == 2
    _check_polygons(net, snap, [120.0, 300.0, 600.0], 100.0)


@pytest.mark.parametrize("name", ["bandung_coblong_drive.graphml", "jakarta_jatinegara_drive.graphml"])
def test_other_real_networks(name: str) -> None:
    net = load_network(shared_path(f"roads/{name}"))
    centre = np.argmin(np.hypot(net.lon - np.median(net.lon), net.lat - np.median(net.lat)))
    snap = net.snap([net.lon[centre] + 2e-4], [net.lat[centre]])
    _check_polygons(net, snap, [120.0, 240.0], 80.0)


def test_cli_kecamatan_column_for_balikpapan_kelurahan(balikpapan_graphml: Path, tmp_path: Path) -> None:
    """`--kecamatan` puts each kelurahan's kecamatan (real Kaltim file) into coverage_by_area.csv."""
    import subprocess
    import sys

    posts = tmp_path / "posts.csv"
    posts.write_text("id,type,lon,lat\npos-tengah,damkar,116.8430227,-1.2627928\n")
    out = tmp_path / "cov"
    cmd = [sys.executable, "-m", "geodispatch", "coverage", str(balikpapan_graphml), "--stations", str(posts),
           "--station-types", "damkar", "--minutes", "10", "--out", str(out),
           "--areas", str(shared_path("boundaries/balikpapan_kelurahan.geojson")),
           "--kecamatan", str(shared_path("boundaries/kaltim_kecamatan.geojson"))]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out / "coverage_by_area.csv")
    assert len(table) == 34 and list(table.columns[:2]) == ["area", "kecamatan"]
    assert table["kecamatan"].notna().all() and table["kecamatan"].nunique() == 6  # Balikpapan's 6 kecamatan
    assert set(table.loc[table["area"] == "Klandasan Ilir", "kecamatan"]) == {"Balikpapan Kota"}
    # without areas the option is a one-line usage error, before any loading
    bad = subprocess.run([*cmd[:-4], *cmd[-2:]], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "give --areas" in bad.stderr and "Traceback" not in bad.stderr

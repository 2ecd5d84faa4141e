"""Coverage report end to end on the synthetic regency, the output files, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geodispatch.coverage import read_areas, read_population, run_coverage
from geodispatch.errors import CoverageError, InputError, OutputError
from geodispatch.regions import Station
from geodispatch.scenario import Scenario, load_scenario
from tests.conftest import shared_path, weighted_quantile_ref


@pytest.fixture(scope="module")
def synthetic() -> Scenario:
    return load_scenario("synthetic:1500")


@pytest.fixture(scope="module")
def written(synthetic: Scenario, tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    out = tmp_path_factory.mktemp("cov") / "out"
    report = run_coverage(synthetic, minutes=[10, 15], combined=True, out_dir=out)
    return report, out


def test_synthetic_outputs(written: tuple[object, Path]) -> None:
    _, out = written
    names = {p.name for p in out.iterdir()}
    assert {"isochrones.geojson", "surface.geojson", "coverage_by_area.csv", "summary.json", "map.html",
            "map.png"} <= names
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp dir left
    summary = json.loads((out / "summary.json").read_text())
    assert summary["synthetic"] is True and "SYNTHETIC" in summary["name"]
    amb = summary["services"]["ambulance"]["population"]
    assert 0 < amb["covered"]["10"] <= amb["covered"]["15"] <= amb["population"]
    iso = json.loads((out / "isochrones.geojson").read_text())
    props = [f["properties"] for f in iso["features"]]
    assert {(p["type"], p["minutes"]) for p in props} >= {("ambulance", 10.0), ("damkar", 15.0), ("combined", 15.0)}
    assert all(p["area_km2"] >= 0 for p in props)
    table = pd.read_csv(out / "coverage_by_area.csv")
    assert {"area", "type", "population", "covered_15min", "share_15min", "median_s", "p90_s", "worst_s"} <= set(
        table.columns
    )
    # the per-area table adds up to the totals (points outside every desa aside)
    amb_rows = table[table["type"] == "ambulance"]
    assert amb_rows["covered_15min"].sum() <= amb["covered"]["15"] + 0.05 * len(amb_rows)  # rows rounded to 0.1
    assert amb_rows["covered_15min"].sum() >= 0.95 * amb["covered"]["15"]
    html = (out / "map.html").read_text()
    assert "ambulance: isochrones" in html and "uncovered hotspots" in html
    assert '"type": "Polygon"' in html or '"type": "MultiPolygon"' in html  # layers are inline GeoJSON
    assert (out / "map.png").stat().st_size > 50_000
    surface = json.loads((out / "surface.geojson").read_text())
    assert surface["features"] and "median_s" in surface["features"][0]["properties"]


def test_summary_table_mentions_island_station(written: tuple[object, Path]) -> None:
    from rich.console import Console

    report, _ = written
    console = Console(width=140, record=True)
    from geodispatch.cli_tables import coverage_table

    console.print(coverage_table(report))  # type: ignore[arg-type]
    text = console.export_text()
    assert "ambulance" in text and "SYNTHETIC" in text
    status = report.station_status  # type: ignore[attr-defined]
    if (status["status"] == "island").any():
        assert "island" in text


def test_empty_station_list(synthetic: Scenario) -> None:
    bare = Scenario(name="bare", network=synthetic.network)
    with pytest.raises(CoverageError, match="station list is empty"):
        run_coverage(bare)


def test_off_network_station_reported_not_dropped(synthetic: Scenario) -> None:
    lon, lat = synthetic.network.bbox[2] + 0.3, synthetic.network.bbox[3] + 0.3
    far = Station(id="far-away", type="damkar", lon=lon, lat=lat, source="test")
    scen = Scenario(name="s", network=synthetic.network, stations=(*synthetic.stations, far))
    report = run_coverage(scen, minutes=[15], station_types="damkar")
    status = report.station_status
    row = status[status["id"] == "far-away"].iloc[0]
    assert row["status"] == "off_network" and "from the nearest road" in row["note"]
    assert "far-away" in report.summary["services"]["damkar"]["stations_off_network"]
    only_far = Scenario(name="s", network=synthetic.network, stations=(far,))
    with pytest.raises(CoverageError, match="far-away"):
        run_coverage(only_far, minutes=[15], station_types="damkar")


def test_island_station_reported(synthetic: Scenario) -> None:
    net = synthetic.network.without_sea()  # without its boat, the synthetic island is cut off
    labels = net.component_labels
    island_nodes = np.flatnonzero(labels > 0)
    assert len(island_nodes)
    n = int(island_nodes[0])
    st = Station(id="on-island", type="psc", lon=float(net.lon[n]), lat=float(net.lat[n]), source="test")
    report = run_coverage(Scenario(name="s", network=net, stations=(st,)), minutes=[15], station_types="ambulance")
    status = report.station_status.iloc[0]
    assert status["status"] == "island" and "island" in status["note"]
    reached = np.isfinite(report.node_time_s["ambulance"])
    assert set(np.unique(labels[reached])) == {labels[n]}


def test_population_file_errors(tmp_path: Path) -> None:
    no_col = tmp_path / "nocol.csv"
    no_col.write_text("lon,lat,people_count\n110.0,-7.0,5\n")
    with pytest.raises(CoverageError, match="no population column"):
        read_population(no_col)
    negative = tmp_path / "neg.csv"
    negative.write_text("lon,lat,population\n110.0,-7.0,5\n110.1,-7.0,-3\n")
    with pytest.raises(CoverageError, match="negative"):
        read_population(negative)
    projected = tmp_path / "proj.geojson"
    projected.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"population": 4},
         "geometry": {"type": "Point", "coordinates": [389000.0, 9226000.0]}}]}))
    with pytest.raises(InputError, match="projected"):
        read_population(projected)
    # a feature with people but no geometry: reported, its people are not dropped silently
    nowhere = tmp_path / "nowhere.geojson"
    nowhere.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"population": 4},
         "geometry": {"type": "Point", "coordinates": [110.0, -7.0]}},
        {"type": "Feature", "properties": {"population": 6}, "geometry": None}]}))
    with pytest.raises(CoverageError, match=r"1 feature.* 6 people have no geometry"):
        read_population(nowhere)
    ok = tmp_path / "ok.csv"
    ok.write_text("lon,lat,penduduk\n110.0,-7.0,5\n")
    assert read_population(ok)["population"].tolist() == [5.0]


def test_crs_less_projected_gpkg(tmp_path: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import Point, box

    path = tmp_path / "pts.gpkg"
    gpd.GeoDataFrame({"population": [3.0]}, geometry=[Point(389000.0, 9226000.0)]).to_file(path)
    with pytest.raises(InputError, match="projected"):
        read_population(path)
    areas = tmp_path / "areas.gpkg"
    gpd.GeoDataFrame({"nama": ["x"]}, geometry=[box(389000, 9226000, 390000, 9227000)]).to_file(areas)
    with pytest.raises(InputError, match="projected"):
        read_areas(areas)


def test_population_polygons_and_raster(tmp_path: Path) -> None:
    import geopandas as gpd
    import rasterio
    from rasterio.transform import from_origin
    from shapely.geometry import box

    poly = tmp_path / "desa_pop.geojson"
    gpd.GeoDataFrame({"population": [1000.0, 10.0]},
                     geometry=[box(110.0, -7.01, 110.01, -7.0), box(110.02, -7.01, 110.0201, -7.0099)],
                     crs=4326).to_file(poly)
    df = read_population(poly)
    assert df["population"].sum() == pytest.approx(1010.0)
    assert len(df) > 50  # spread over a 100 m grid
    tif = tmp_path / "worldpop.tif"
    data = np.array([[1.5, 0.0, -99999.0], [2.0, 3.0, 4.0]], dtype="float32")
    with rasterio.open(tif, "w", driver="GTiff", height=2, width=3, count=1, dtype="float32", crs="EPSG:4326",
                       transform=from_origin(110.0, -7.0, 0.001, 0.001), nodata=-99999.0) as dst:
        dst.write(data, 1)
    df = read_population(tif)
    assert df["population"].sum() == pytest.approx(10.5)
    assert len(df) == 4
    assert df["lon"].min() == pytest.approx(110.0005) and df["lat"].max() == pytest.approx(-7.0005)
    bad = tmp_path / "neg.tif"
    with rasterio.open(bad, "w", driver="GTiff", height=2, width=3, count=1, dtype="float32", crs="EPSG:4326",
                       transform=from_origin(110.0, -7.0, 0.001, 0.001)) as dst:
        dst.write(data, 1)
    with pytest.raises(CoverageError, match="negative"):
        read_population(bad)


@pytest.mark.parametrize("bad", ["no geometry", "a point"])
def test_area_rows_without_a_polygon_are_named_not_dropped(tmp_path: Path, bad: str) -> None:
    """An area row with no geometry or a non-polygon is an error naming it, never a silently missing row."""
    import geopandas as gpd
    from shapely.geometry import Point, box

    odd = None if bad == "no geometry" else Point(119.95, -5.55)
    path = tmp_path / "desa.geojson"
    gpd.GeoDataFrame(
        {"name": ["Desa Satu", "Desa Hilang", "Desa Tiga"]},
        geometry=[box(119.9, -5.6, 120.0, -5.5), odd, box(120.0, -5.6, 120.1, -5.5)],
        crs=4326,
    ).to_file(path)
    with pytest.raises(CoverageError, match=r"desa\.geojson: 1 area\(s\) .*'Desa Hilang'"):
        read_areas(path)


def test_areas_not_overlapping(synthetic: Scenario, tmp_path: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import box

    path = tmp_path / "elsewhere.geojson"
    gpd.GeoDataFrame({"name": ["Desa Jauh"]}, geometry=[box(100.0, 0.0, 100.1, 0.1)], crs=4326).to_file(path)
    with pytest.raises(CoverageError, match="overlaps the road network"):
        run_coverage(synthetic, minutes=[15], areas=path)


def test_area_without_road_node_keeps_its_people_and_people_in_no_area_are_reported(synthetic: Scenario) -> None:
    import geopandas as gpd
    import shapely
    from shapely.geometry import box

    net, pop = synthetic.network, synthetic.population
    assert pop is not None
    lon, lat, w = pop["lon"].to_numpy(), pop["lat"].to_numpy(), pop["population"].to_numpy()
    _, d = net.nearest_nodes(lon, lat)
    k = int(np.argmax(np.where(w > 0, d, 0.0)))  # the populated point farthest from any junction
    x, y = net.to_metric(lon[k : k + 1], lat[k : k + 1])
    half = float(d[k]) / 3  # a small dusun around it, with no road node inside
    dusun = shapely.transform(
        box(x[0] - half, y[0] - half, x[0] + half, y[0] + half),
        lambda xy: np.column_stack(net.to_lonlat(xy[:, 0], xy[:, 1])),
    )
    assert not shapely.contains_xy(dusun, net.lon, net.lat).any()
    w0, s0, e0, n0 = net.bbox
    rest = box(w0 - 0.1, s0 - 0.1, e0 + 0.1, n0 + 0.1)
    areas = gpd.GeoDataFrame({"name": ["Dusun Kecil", "Sisa"]}, geometry=[dusun, rest], crs=4326)
    report = run_coverage(synthetic, minutes=[15], station_types="ambulance", areas=areas)
    table = report.area_table
    in_dusun = shapely.contains_xy(dusun, lon, lat)
    row = table[table["area"] == "Dusun Kecil"]
    assert len(row) == 1, "a populated area without a road node must keep its row"
    assert row["population"].iloc[0] == pytest.approx(w[in_dusun].sum(), abs=0.06)
    assert table["population"].sum() == pytest.approx(w.sum(), abs=0.2)
    assert not any(w.code == "people_in_no_area" for w in report.warnings)
    # with the west half instead of the catch-all area, the people in no row are reported
    west = box(w0 - 0.1, s0 - 0.1, (w0 + e0) / 2, n0 + 0.1)
    half_areas = gpd.GeoDataFrame({"name": ["Dusun Kecil", "Barat"]}, geometry=[dusun, west], crs=4326)
    half = run_coverage(synthetic, minutes=[15], station_types="ambulance", areas=half_areas)
    nowhere = ~(in_dusun | shapely.contains_xy(west, lon, lat))
    assert nowhere.any() and (~nowhere).any()
    (msg,) = [str(m) for m in half.warnings if m.code == "people_in_no_area"]
    assert f"{w[nowhere].sum():,.0f} people ({int(nowhere.sum()):,} points)" in msg
    assert half.area_table["population"].sum() == pytest.approx(w[~nowhere].sum(), abs=0.2)


def test_bad_thresholds_and_types(synthetic: Scenario) -> None:
    with pytest.raises(InputError):
        run_coverage(synthetic, minutes=[-5])
    with pytest.raises(InputError, match="off-road"):
        run_coverage(synthetic, offroad_m=0.0)
    with pytest.raises(CoverageError, match="unknown station type"):
        run_coverage(synthetic, station_types="helicopter")
    with pytest.raises(CoverageError, match="combined"):
        run_coverage(synthetic, station_types="ambulance", combined=True)


def test_output_under_a_file(synthetic: Scenario, tmp_path: Path) -> None:
    # An --out whose parent cannot hold a new directory fails in atomic_dir's mkdir/mkdtemp,
    # the same branch a read-only parent takes (EACCES there, here a file in the way), and
    # unlike a chmod-based check it also fails for root, as CI runs.
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write"):
        run_coverage(synthetic, minutes=[15], out_dir=blocker / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-dir"]


def test_failure_mid_write_leaves_nothing(synthetic: Scenario, tmp_path: Path) -> None:
    report = run_coverage(synthetic, minutes=[15])
    out = tmp_path / "out"
    report.areas = "not a geodataframe"  # breaks the map stage after the GeoJSON/CSV files were written
    with pytest.raises(AttributeError, match="geometry"):
        report.write(out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_area_table_matches_per_area_bruteforce(written: tuple[object, Path]) -> None:
    import shapely

    report, _ = written
    pop = report.population  # type: ignore[attr-defined]
    areas = report.areas  # type: ignore[attr-defined]
    table = report.area_table  # type: ignore[attr-defined]
    lon, lat, w = pop["lon"].to_numpy(), pop["lat"].to_numpy(), pop["population"].to_numpy()
    seen = np.zeros(len(pop), dtype=bool)
    for name, geom in zip(areas["name"], areas.geometry, strict=True):
        inside = shapely.contains_xy(geom, lon, lat) & ~seen  # first area wins on shared borders
        seen |= inside
        for service in ("ambulance", "damkar", "combined"):
            rows = table[(table["area"] == name) & (table["type"] == service)]
            if not inside.any():
                continue
            row = rows.iloc[0]
            t = pop[f"time_s_{service}"].to_numpy()[inside]
            assert row["population"] == pytest.approx(w[inside].sum(), abs=0.06)
            assert row["covered_15min"] == pytest.approx(w[inside][t <= 900].sum(), abs=0.06)
            med = weighted_quantile_ref(t, w[inside], 0.5)
            if np.isfinite(med):
                assert row["median_s"] == pytest.approx(med, abs=0.06)
            else:
                assert np.isnan(row["median_s"])
            fin = np.isfinite(t)
            if fin.any():
                assert row["worst_s"] == pytest.approx(t[fin].max(), abs=0.06)


def test_cli_population_file_and_bad_population(
    synthetic: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from geodispatch import cli

    pop = synthetic.population.iloc[:500]
    good = tmp_path / "pop.csv"
    pop.to_csv(good, index=False)
    out = tmp_path / "out"
    base = ["geodispatch", "coverage", "synthetic:1500", "--minutes", "15", "--station-types", "ambulance"]
    monkeypatch.setattr(sys, "argv", [*base, "--population", str(good), "--out", str(out)])
    cli.main()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["population_points"] == 500
    assert summary["population_total"] == pytest.approx(pop["population"].sum(), abs=0.1)
    capsys.readouterr()
    bad = tmp_path / "bad.csv"
    pop.assign(population=-pop["population"]).to_csv(bad, index=False)
    out2 = tmp_path / "out2"
    monkeypatch.setattr(sys, "argv", [*base, "--population", str(bad), "--out", str(out2)])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 2
    assert "negative" in capsys.readouterr().err
    assert not out2.exists()


def test_kecamatan_of_each_desa_by_code_and_by_place() -> None:
    """Bantaeng's 67 desa/kelurahan get their kecamatan from the Sulsel kecamatan file: by the
    Kemendagri code prefix, and (codes removed) by the kecamatan holding the desa; both agree."""
    from geodispatch.inputs import add_kecamatan

    desa = read_areas(shared_path("boundaries/bantaeng_desa_kelurahan.geojson"))
    kec = read_areas(shared_path("boundaries/sulsel_kecamatan.geojson"))
    assert "code" in desa.columns and "code" in kec.columns
    by_code = add_kecamatan(desa, kec)
    assert (by_code["kecamatan"] != "").all()
    row = by_code[by_code["code"] == "73.03.01.1001"].iloc[0]
    assert row["name"] == "Bonto Manai" and row["kecamatan"] == "Bissappu"
    assert by_code["kecamatan"].nunique() == 8  # Bantaeng has 8 kecamatan
    by_place = add_kecamatan(desa.drop(columns="code"), kec.drop(columns="code"))
    agree = (by_place["kecamatan"].to_numpy() == by_code["kecamatan"].to_numpy()).mean()
    assert agree > 0.95, agree


def test_area_table_carries_the_kecamatan_column(synthetic: Scenario, tmp_path: Path) -> None:
    import geopandas as gpd

    areas = synthetic.areas.copy()
    areas["kecamatan"] = [f"Kec {i % 3}" for i in range(len(areas))]
    path = tmp_path / "desa.geojson"
    gpd.GeoDataFrame(areas, geometry="geometry", crs=4326).to_file(path)
    assert "kecamatan" in read_areas(path).columns
    report = run_coverage(synthetic, minutes=[15], areas=path)
    table = report.area_table
    assert list(table.columns[:3]) == ["area", "kecamatan", "type"]
    expected = dict(zip(areas["name"], areas["kecamatan"], strict=True))
    assert all(expected[a] == k for a, k in zip(table["area"], table["kecamatan"], strict=True))

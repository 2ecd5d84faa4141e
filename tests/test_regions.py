"""Region files (data/regions/*.yaml), their schema, and stations from OpenStreetMap tags."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import yaml
from shapely.geometry import Point, Polygon

from geodispatch import regions
from geodispatch.errors import (
    CorruptFileError,
    DownloadError,
    InputError,
    RegionConfigError,
    SourceNotFoundError,
)
from geodispatch.network import load as netload
from geodispatch.regions import (
    REGIONS_DIR,
    Station,
    list_regions,
    load_region,
    stations_from_osm_features,
)
from geodispatch.scenario import load_scenario, region_osm_stations
from tests.conftest import shared_path

EXPECTED_SLUGS = {
    "bantaeng",
    "batam",
    "banjarmasin",
    "penajam-paser-utara",
    "kutai-timur",
    "bontang",
    "balikpapan",
    "samarinda",
}
SP2010_REGION_NAMES = {"penajam-paser-utara": "PENAJAM PU"}  # abbreviated in the census table


def _shipped() -> list[str]:
    return list_regions()


# ---------------------------------------------------------------- shipped files
def test_the_eight_regions_are_shipped() -> None:
    assert set(list_regions()) >= EXPECTED_SLUGS


@pytest.mark.parametrize("slug", _shipped())
def test_shipped_region_validates_and_slug_matches_file(slug: str) -> None:
    region = load_region(slug)
    raw = yaml.safe_load((REGIONS_DIR / f"{slug}.yaml").read_text(encoding="utf-8"))
    assert raw["slug"] == slug == region.slug
    assert region.osm_query.startswith(region.name + ", " + region.province)
    assert region.name.split()[0].lower() == region.kind
    assert region.notes.strip(), "each region says where its facts come from"
    if region.kemendagri_code is not None:
        assert region.boundary_source is not None and f"kode {region.kemendagri_code}" in region.boundary_source


@pytest.mark.parametrize("slug", _shipped())
def test_every_station_has_a_source(slug: str) -> None:
    for station in load_region(slug).stations:
        assert station.source.strip(), f"{slug}: station {station.id} has no source"


def test_load_by_path_equals_load_by_slug() -> None:
    assert load_region(REGIONS_DIR / "bantaeng.yaml") == load_region("bantaeng")


# ---------------------------------------------------------------- against ../shared/data
def _boundaries() -> gpd.GeoDataFrame:
    return gpd.read_file(shared_path("boundaries/indonesia_kabupaten_kota.geojson"))


def test_kemendagri_codes_and_names_match_shared_boundaries() -> None:
    bounds = _boundaries().set_index("kode")
    for slug in _shipped():
        region = load_region(slug)
        assert region.kemendagri_code is not None, slug
        assert region.kemendagri_code in bounds.index, f"{slug}: kode {region.kemendagri_code} not in boundaries"
        assert bounds.loc[region.kemendagri_code, "nama"] == region.name


def test_bps_codes_and_provinces_match_sp2010_table() -> None:
    census = pd.read_csv(shared_path("population/indonesia_kecamatan_population_sp2010.csv"), dtype=str)
    for slug in _shipped():
        region = load_region(slug)
        assert region.bps_code is not None, slug
        rows = census[census["REGIONAL_CODE"] == region.bps_code]
        assert len(rows), f"{slug}: BPS code {region.bps_code} not in the SP2010 table"
        assert set(rows["PROVINCE"]) == {region.province.upper()}
        bare = region.name.removeprefix("Kabupaten ").upper()
        assert set(rows["REGION"]) == {SP2010_REGION_NAMES.get(slug, bare)}


def test_stations_lie_inside_their_region() -> None:
    bounds = _boundaries().set_index("kode")
    for slug in _shipped():
        region = load_region(slug)
        polygon = bounds.loc[region.kemendagri_code, "geometry"]
        for station in region.stations:
            assert polygon.contains(Point(station.lon, station.lat)), f"{slug}: {station.id} outside"


def test_balikpapan_stations_are_the_shared_list_unchanged() -> None:
    shared = pd.read_csv(shared_path("facilities/balikpapan_fire_stations.csv"))
    stations = load_region("balikpapan").stations
    assert [(s.name, s.lon, s.lat) for s in stations] == list(
        zip(shared["name"], shared["lon"], shared["lat"], strict=True)
    )
    assert all("unverified" in s.source and "uprcs-voyager" in s.source for s in stations)
    assert all(s.units == () for s in stations)


# ---------------------------------------------------------------- bad input
VALID: dict[str, Any] = {
    "slug": "test-kab",
    "name": "Kabupaten Uji",
    "kind": "kabupaten",
    "province": "Sulawesi Selatan",
    "osm_query": "Kabupaten Uji, Sulawesi Selatan, Indonesia",
    "stations": [
        {"id": "pos-1", "name": "Pos 1", "type": "damkar", "lon": 119.9, "lat": -5.5, "source": "test fixture"}
    ],
}


def _write(tmp_path: Path, data: Any, name: str = "test-kab.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _with(**changes: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(VALID))
    data.update(changes)
    return data


def test_valid_fixture_loads(tmp_path: Path) -> None:
    region = load_region(_write(tmp_path, VALID))
    assert region.stations[0].type == "damkar"
    assert region.target_response_s == 900


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_with(stations=[{**VALID["stations"][0], "type": "fire"}]), "stations.0.type"),
        (_with(target_response_s=-60), "target_response_s"),
        (_with(colour="red"), "colour"),
        (_with(kind="provinsi"), "kind"),
        (_with(bps_code="73.03"), "bps_code"),
        (_with(kemendagri_code="7303"), "kemendagri_code"),
        (_with(stations=[{k: v for k, v in VALID["stations"][0].items() if k != "source"}]), "stations.0.source"),
        (_with(stations=[{**VALID["stations"][0], "lat": -95}]), "stations.0.lat"),
        (_with(stations=[VALID["stations"][0], VALID["stations"][0]]), "duplicate station ids"),
        (_with(speeds_kph={"primary": -5}), "speeds_kph"),
    ],
)
def test_invalid_region_names_the_field(tmp_path: Path, data: dict[str, Any], field: str) -> None:
    with pytest.raises(RegionConfigError) as info:
        load_region(_write(tmp_path, data))
    assert field in str(info.value)
    assert str(tmp_path / "test-kab.yaml") in str(info.value)


def test_region_file_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(RegionConfigError, match="mapping"):
        load_region(_write(tmp_path, ["not", "a", "mapping"]))


def test_unknown_slug_lists_known_slugs() -> None:
    with pytest.raises(SourceNotFoundError) as info:
        load_region("atlantis")
    message = str(info.value)
    assert "atlantis" in message
    assert all(slug in message for slug in EXPECTED_SLUGS)


def test_broken_yaml_syntax(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("slug: broken\nname: [Kabupaten Rusak\nkind: kabupaten\n", encoding="utf-8")
    with pytest.raises(CorruptFileError, match="not valid YAML"):
        load_region(path)


def test_slug_must_match_file_name_in_regions_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(regions, "REGIONS_DIR", tmp_path.resolve())
    _write(tmp_path, VALID, name="other-name.yaml")
    with pytest.raises(RegionConfigError, match="does not match the file name"):
        load_region("other-name")
    _write(tmp_path, VALID)
    assert load_region("test-kab").slug == "test-kab"


# ---------------------------------------------------------------- stations from OSM tags
def _features_by_hand(crs: int = 4326) -> gpd.GeoDataFrame:
    """A features frame shaped like osmnx.features_from_place output (index: element, id)."""
    hospital = Polygon([(119.95, -5.55), (119.96, -5.55), (119.96, -5.54), (119.95, -5.54)])
    # an L-shaped building: its centroid lies outside, its representative point inside
    clinic = Polygon([(0, 0), (10, 0), (10, 1), (1, 1), (1, 10), (0, 10)])
    clinic = Polygon([(119.9 + x * 1e-3, -5.5 + y * 1e-3) for x, y in clinic.exterior.coords])
    rows = [
        ("node", 101, {"amenity": "fire_station", "name": "Pos Damkar Kota"}, Point(119.94, -5.54)),
        ("node", 102, {"amenity": "fire_station"}, Point(119.97, -5.52)),  # no name
        ("way", 201, {"amenity": "hospital", "name": "RSUD Prof. Dr. H. M. Anwar Makkatutu"}, hospital),
        ("way", 202, {"amenity": "clinic", "name": "Klinik L"}, clinic),
        ("node", 103, {"healthcare": "centre", "name": "Puskesmas Uji"}, Point(119.98, -5.51)),
        ("node", 104, {"emergency": "ambulance_station", "amenity": "hospital", "name": "PSC"}, Point(119.93, -5.53)),
        ("node", 105, {"amenity": "police", "name": "Polsek Uji"}, Point(119.92, -5.52)),
        ("node", 106, {"amenity": "school", "name": "SD Uji"}, Point(119.91, -5.51)),  # not a station
    ]
    index = pd.MultiIndex.from_tuples([(e, i) for e, i, _, _ in rows], names=["element", "id"])
    frame = pd.DataFrame([tags for _, _, tags, _ in rows], index=index)
    gdf = gpd.GeoDataFrame(frame, geometry=[g for *_, g in rows], crs=4326)
    return gdf.to_crs(crs) if crs != 4326 else gdf


def test_stations_from_hand_built_features() -> None:
    gdf = _features_by_hand()
    stations = {s.id: s for s in stations_from_osm_features(gdf)}
    assert set(stations) == {
        "osm-node-101",
        "osm-node-102",
        "osm-way-201",
        "osm-way-202",
        "osm-node-103",
        "osm-node-104",
        "osm-node-105",
    }
    assert {k: s.type for k, s in stations.items()} == {
        "osm-node-101": "damkar",
        "osm-node-102": "damkar",
        "osm-way-201": "rsud",
        "osm-way-202": "puskesmas",
        "osm-node-103": "puskesmas",
        "osm-node-104": "ambulance",
        "osm-node-105": "polisi",
    }
    assert stations["osm-node-101"].name == "Pos Damkar Kota"
    assert stations["osm-node-102"].name == ""
    assert (stations["osm-node-101"].lon, stations["osm-node-101"].lat) == (119.94, -5.54)
    assert stations["osm-way-201"].source == "OpenStreetMap way/201 (ODbL)"
    assert all(s.units == () for s in stations.values())
    for key in ("osm-way-201", "osm-way-202"):
        polygon = gdf.loc[("way", int(key.rsplit("-", 1)[1])), "geometry"]
        assert polygon.contains(Point(stations[key].lon, stations[key].lat))
    assert not gdf.loc[("way", 202), "geometry"].contains(gdf.loc[("way", 202), "geometry"].centroid)


def test_stations_from_projected_features_are_lonlat() -> None:
    ours = stations_from_osm_features(_features_by_hand(crs=32750))
    ref = stations_from_osm_features(_features_by_hand())
    assert [s.id for s in ours] == [s.id for s in ref]
    for a, b in zip(ours, ref, strict=True):
        assert a.lon == pytest.approx(b.lon, abs=1e-7) and a.lat == pytest.approx(b.lat, abs=1e-7)


def test_stations_from_empty_and_malformed_features() -> None:
    assert stations_from_osm_features(_features_by_hand().iloc[0:0]) == ()
    flat = _features_by_hand().reset_index(drop=True)
    with pytest.raises(InputError, match="element"):
        stations_from_osm_features(flat)
    # osmnx 1.x style: (element_type, osmid) as columns works too
    old = _features_by_hand().reset_index().rename(columns={"element": "element_type", "id": "osmid"})
    ref = stations_from_osm_features(_features_by_hand())
    assert [s.id for s in stations_from_osm_features(old)] == [s.id for s in ref]


def _write_features_osm(path: Path) -> Path:
    """OSM XML with tagged nodes and a closed way (a hospital building)."""
    nodes = {1: (119.950, -5.550), 2: (119.960, -5.550), 3: (119.960, -5.540), 4: (119.950, -5.540)}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="geodispatch-tests">']
    lines += [f'  <node id="{n}" version="1" lat="{lat}" lon="{lon}"/>' for n, (lon, lat) in nodes.items()]
    tagged = [
        (10, 119.94, -5.54, {"amenity": "fire_station", "name": "Pos Damkar"}),
        (11, 119.93, -5.53, {"emergency": "ambulance_station"}),
        (12, 119.92, -5.52, {"amenity": "cafe", "name": "Warung"}),
    ]
    for nid, lon, lat, tags in tagged:
        lines.append(f'  <node id="{nid}" version="1" lat="{lat}" lon="{lon}">')
        lines += [f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("  </node>")
    lines.append('  <way id="500" version="1">')
    lines += [f'    <nd ref="{r}"/>' for r in (1, 2, 3, 4, 1)]
    tags = {"amenity": "hospital", "building": "yes", "name": "RSUD Uji"}
    lines += [f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
    lines += ["  </way>", "</osm>"]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _osmnx_features(path: Path) -> gpd.GeoDataFrame:
    import osmnx as ox

    return ox.features_from_xml(path, tags=regions.OSM_STATION_TAGS)


def test_stations_from_real_osmnx_features(tmp_path: Path) -> None:
    stations = stations_from_osm_features(_osmnx_features(_write_features_osm(tmp_path / "f.osm")))
    by_id = {s.id: s for s in stations}
    assert set(by_id) == {"osm-node-10", "osm-node-11", "osm-way-500"}
    assert by_id["osm-way-500"].type == "rsud" and by_id["osm-way-500"].name == "RSUD Uji"
    assert 119.95 < by_id["osm-way-500"].lon < 119.96 and -5.55 < by_id["osm-way-500"].lat < -5.54
    assert by_id["osm-node-11"].type == "ambulance" and by_id["osm-node-11"].name == ""
    assert by_id["osm-node-10"].source == "OpenStreetMap node/10 (ODbL)"


# ---------------------------------------------------------------- download-time fill and cache
def _no_network(*_: Any, **__: Any) -> Any:
    raise AssertionError("the network was called although a cached copy exists")


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("GEODISPATCH_CACHE_DIR", str(cache))
    return cache


def test_osm_stations_cached_for_offline_rerun(
    tmp_path: Path, own_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    region = regions.parse_region(_with(stations=[]))
    expected = stations_from_osm_features(_features_by_hand())
    calls: list[str] = []

    def fetch(query: str) -> tuple[Station, ...]:
        calls.append(query)
        return expected

    monkeypatch.setattr(regions, "fetch_osm_stations", fetch)
    assert region_osm_stations(region) == expected
    assert calls == [region.osm_query]
    files = list((own_cache / "networks").glob("test-kab-stations-*.geojson"))
    assert len(files) == 1
    on_disk = gpd.read_file(files[0])
    assert sorted(on_disk["id"]) == sorted(s.id for s in expected)
    assert not list((own_cache / "networks").glob(".*"))  # no temporary files left

    monkeypatch.setattr(regions, "fetch_osm_stations", _no_network)
    assert region_osm_stations(region) == expected  # second run: offline, identical

    monkeypatch.setattr(regions, "fetch_osm_stations", fetch)
    assert region_osm_stations(region, refresh=True) == expected
    assert len(calls) == 2


def test_osm_stations_empty_result_is_cached_too(own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    region = regions.parse_region(_with(stations=[]))
    monkeypatch.setattr(regions, "fetch_osm_stations", lambda query: ())
    assert region_osm_stations(region) == ()
    monkeypatch.setattr(regions, "fetch_osm_stations", _no_network)
    assert region_osm_stations(region) == ()


def test_osm_station_download_failure_leaves_no_cache(own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    region = regions.parse_region(_with(stations=[]))

    def fail(query: str) -> tuple[Station, ...]:
        raise DownloadError("offline")

    monkeypatch.setattr(regions, "fetch_osm_stations", fail)
    assert region_osm_stations(region) == ()
    assert not list(own_cache.rglob("*.geojson"))


def test_corrupt_station_cache_is_downloaded_again(own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    region = regions.parse_region(_with(stations=[]))
    expected = stations_from_osm_features(_features_by_hand())
    monkeypatch.setattr(regions, "fetch_osm_stations", lambda query: expected)
    region_osm_stations(region)
    (cached,) = (own_cache / "networks").glob("*.geojson")
    cached.write_text("{not json", encoding="utf-8")
    assert region_osm_stations(region) == expected
    assert json.loads(cached.read_text(encoding="utf-8"))["type"] == "FeatureCollection"


@pytest.fixture
def offline_region_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace only the two network calls (roads, stations) by reads of local OSM XML files."""
    import osmnx as ox

    from tests.conftest import write_osm_xml

    roads = write_osm_xml(
        tmp_path / "roads.osm",
        {1: (119.94, -5.55), 2: (119.95, -5.55), 3: (119.96, -5.55), 4: (119.95, -5.54)},
        [([1, 2, 3], {"highway": "primary"}), ([2, 4], {"highway": "residential"})],
    )
    features = _write_features_osm(tmp_path / "features.osm")
    calls: list[str] = []

    def download_roads(query: str) -> Any:
        calls.append("roads")
        return ox.graph_from_xml(roads, retain_all=True)

    def download_stations(query: str) -> tuple[Station, ...]:
        calls.append("stations")
        return stations_from_osm_features(_osmnx_features(features))

    monkeypatch.setattr(netload, "_download_place", download_roads)
    monkeypatch.setattr(regions, "fetch_osm_stations", download_stations)
    return calls


def test_load_scenario_fills_empty_region_from_osm_then_runs_offline(
    tmp_path: Path, own_cache: Path, offline_region_download: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, _with(stations=[]))
    first = load_scenario(path)
    assert offline_region_download == ["roads", "stations"]
    assert first.region is not None and first.region.slug == "test-kab"
    assert {s.id for s in first.stations} == {"osm-node-10", "osm-node-11", "osm-way-500"}
    assert first.network.n_nodes >= 3

    monkeypatch.setattr(netload, "_download_place", _no_network)
    monkeypatch.setattr(regions, "fetch_osm_stations", _no_network)
    second = load_scenario(path)
    assert second.stations == first.stations
    assert second.network.n_edges == first.network.n_edges


def test_load_scenario_keeps_region_stations_and_user_files(
    tmp_path: Path, own_cache: Path, offline_region_download: list[str]
) -> None:
    scenario = load_scenario(_write(tmp_path, VALID))
    assert [s.id for s in scenario.stations] == ["pos-1"]
    csv = tmp_path / "stations.csv"
    csv.write_text("id,type,lon,lat\nmine,psc,119.95,-5.55\n", encoding="utf-8")
    empty = _write(tmp_path, _with(stations=[], slug="empty-kab"), name="empty-kab.yaml")
    assert [s.id for s in load_scenario(empty, stations=csv).stations] == ["mine"]
    assert "stations" not in offline_region_download

"""Standalone HTML maps (geodispatch.webmap): Leaflet inline, no CDN, layers render offline.

The headless-browser tests run when Debian's ``chromium`` is on PATH (skipped otherwise): they
open the page with every http(s) request sent to a dead proxy, so nothing can come from the
internet, and check that Leaflet built the map and drew the layers; the same map saved by
plain ``folium`` (CDN links) is the control that stays blank under the same conditions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import folium
import numpy as np
import pytest
from folium import plugins

from geodispatch.errors import OutputError
from geodispatch.webmap import LEAFLET_VERSION, leaflet_asset, popup, render_offline, save_offline

STATIC = Path(__file__).resolve().parents[1] / "geodispatch" / "static" / "leaflet"
# sha256 of dist/leaflet.js, dist/leaflet.css and LICENSE in the npm tarball leaflet-1.9.3.tgz
VENDORED_SHA256 = {
    "leaflet.js": "5819285cec137b229c94e1ee5ad73e8b6b84345a4367d60f75fe477fe0fb7b03",
    "leaflet.css": "90b693d86392a4779c861b28cf307e7e59c3fb35328c4d8b95f58f814d38c722",
    "LICENSE": "97c194191510b19c72d25094922821a888d5d9bafb909ea7a38c9bf5b6c40a08",
}
EXTERNAL_TAG = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.I)
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[116.80, -1.30], [116.90, -1.30], [116.90, -1.20], [116.80, -1.20], [116.80, -1.30]]],
}


def _small_map() -> folium.Map:
    """Like geodispatch's maps: no base tiles, optional OSM overlay, GeoJSON, circle markers, popups."""
    fmap = folium.Map(location=[-1.25, 116.85], zoom_start=11, tiles=None)
    folium.TileLayer("OpenStreetMap", name="OSM (online)", overlay=True, show=False).add_to(fmap)
    group = folium.FeatureGroup(name="isochrones")
    folium.GeoJson(
        SQUARE, style_function=lambda _f: {"color": "#b2182b", "fillOpacity": 0.4}
    ).add_child(popup("<b>Zone A</b>")).add_to(group)
    folium.CircleMarker([-1.25, 116.85], radius=7, fill=True, tooltip="PSC 119").add_child(
        popup("<b>PSC 119 Balikpapan</b><br>ambulance")
    ).add_to(group)
    group.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap


# --------------------------------------------------------------------------- vendored Leaflet
def test_vendored_leaflet_is_the_version_folium_links_and_unmodified() -> None:
    from folium import folium as folium_module

    linked = dict(folium_module._default_js)["leaflet"]
    assert f"leaflet@{LEAFLET_VERSION}/" in linked, f"folium now links {linked}: vendor that Leaflet version"
    assert leaflet_asset("leaflet.js").startswith(f"/* @preserve\n * Leaflet {LEAFLET_VERSION},")
    assert "BSD 2-Clause License" in leaflet_asset("LICENSE")
    for name, digest in VENDORED_SHA256.items():
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, name


def test_vendored_files_are_package_data() -> None:
    import tomllib

    pyproject = tomllib.loads((STATIC.parents[2] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["geodispatch"]
    assert any(STATIC.joinpath("leaflet.js").relative_to(STATIC.parents[1]).match(p) for p in patterns)


# --------------------------------------------------------------------------- render_offline
def test_page_loads_nothing_from_the_network_and_carries_leaflet_and_layers() -> None:
    cdn = _small_map().get_root().render()
    assert EXTERNAL_TAG.search(cdn)  # the control: plain folium links CDNs
    page = render_offline(_small_map())
    assert not EXTERNAL_TAG.search(page), EXTERNAL_TAG.findall(page)
    assert "cdn.jsdelivr" not in page and "code.jquery" not in page and "cdnjs" not in page
    assert leaflet_asset("leaflet.js") in page and leaflet_asset("leaflet.css") in page
    assert page.index(leaflet_asset("leaflet.js")) < page.index("L.map(")  # loaded before it is used
    assert '"type": "Polygon"' in page and "116.8" in page  # the layer is inline GeoJSON
    assert "bindPopup(" in page and "PSC 119 Balikpapan" in page
    assert "tile.openstreetmap.org" in page  # the optional tile layer is kept (loads when online)


def test_popup_html_cannot_break_out_of_the_script() -> None:
    fmap = folium.Map(location=[0, 0], tiles=None)
    folium.CircleMarker([0, 0]).add_child(popup("</script><script>alert(1)</script> `${x}`")).add_to(fmap)
    page = render_offline(fmap)
    call = re.search(r"\.bindPopup\((\".*?\"), (\{.*?\})\);", page)
    assert call is not None
    assert json.loads(call.group(1)) == "</script><script>alert(1)</script> `${x}`"
    assert json.loads(call.group(2)) == {"maxWidth": 300}
    assert "<script>alert" not in page


@pytest.mark.parametrize(
    ("add", "message"),
    [
        (lambda m: folium.CircleMarker([0, 0], popup="plain folium popup").add_to(m), "jQuery"),
        (lambda m: folium.Marker([0, 0], icon=folium.Icon(icon="home")).add_to(m), "awesome-markers"),
        (lambda m: plugins.MarkerCluster().add_to(m), "from the internet"),
    ],
    ids=["folium.Popup", "folium.Icon", "plugin"],
)
def test_maps_needing_non_vendored_assets_are_refused(add, message: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fmap = folium.Map(location=[0, 0], tiles=None)
    add(fmap)
    dest = tmp_path / "map.html"
    with pytest.raises(OutputError, match=message):
        save_offline(fmap, dest)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary left behind


def test_save_offline_writes_the_rendered_page(tmp_path: Path) -> None:
    dest = save_offline(_small_map(), tmp_path / "sub" / "map.html")
    text = dest.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and not EXTERNAL_TAG.search(text)
    assert [p.name for p in dest.parent.iterdir()] == ["map.html"]


# --------------------------------------------------------------------------- geodispatch's maps
@pytest.fixture(scope="module")
def coverage_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from geodispatch.coverage.report import run_coverage
    from geodispatch.scenario import load_scenario

    out = tmp_path_factory.mktemp("cov") / "out"
    report = run_coverage(load_scenario("synthetic:1500"), minutes=[10, 15], out_dir=out)
    return report, out / "map.html"


@pytest.fixture(scope="module")
def coverage_html(coverage_run) -> Path:  # type: ignore[no-untyped-def]
    return coverage_run[1]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def siting_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from geodispatch.siting.run import run_siting

    out = tmp_path_factory.mktemp("site") / "out"
    run_siting("synthetic:1500", model="mclp", new_posts=2, minutes=15, n_candidates=60, out=out)
    return out / "map.html"


@pytest.mark.parametrize("which", ["coverage_html", "siting_html"])
def test_geodispatch_maps_are_standalone(which: str, request: pytest.FixtureRequest) -> None:
    page = Path(request.getfixturevalue(which)).read_text(encoding="utf-8")
    assert not EXTERNAL_TAG.search(page), EXTERNAL_TAG.findall(page)[:3]
    assert leaflet_asset("leaflet.js") in page
    assert "L.circleMarker(" in page
    if which == "coverage_html":
        assert '"type": "Polygon"' in page or '"type": "MultiPolygon"' in page
        assert "bindPopup(" in page
        # a legend of the time bands (each service's swatches) and a metric-only scale
        assert page.count('class="gd-band"') == 2 * 2  # ambulance and damkar, 10 and 15 min
        assert "≤ 10 min" in page and "10–15 min" in page  # the band legend (UTF-8 page)
        assert "L.control.scale({metric: true, imperial: false})" in page
        assert "imperial: true" not in page and "L.control.scale().addTo" not in page


def _overlays(page: str) -> dict[str, str]:
    """Layer-control overlay name -> the JS variable of its layer."""
    block = re.search(r"overlays :\s*\{(.*?)\},", page, re.S)
    assert block is not None, "no layer control"
    return {json.loads(f'"{name}"'): var for name, var in re.findall(r'"([^"]+)" : (\w+),', block.group(1))}


def _added_to(page: str, var: str) -> list[str]:
    """Variables of the layers added to ``var`` (``x.addTo(var)`` or ``L.x(...).addTo(var)``)."""
    direct = re.findall(rf"(\w+)\.addTo\({var}\);", page)
    built = re.findall(rf"var (\w+) = L\.\w+\((?:(?!\bvar ).)*?\)\.addTo\({var}\);", page, re.S)
    return direct + built


def test_coverage_html_draws_the_network_roads_in_their_own_layers(coverage_run) -> None:  # type: ignore[no-untyped-def]
    """Arterials always (no toggle), minor roads one toggle, both exactly the simplified network roads."""
    from geodispatch.network.lines import RoadLines

    report, path = coverage_run
    page = path.read_text(encoding="utf-8")
    data = {var: json.loads(body) for var, body in re.findall(r"(geo_json_\w+)_add\((\{.*\})\);", page)}
    roads = {var: d["features"][0]["geometry"]["coordinates"] for var, d in data.items()
             if d["features"][0]["geometry"]["type"] == "MultiLineString"}
    minx, miny, maxx, maxy = report.network.bbox
    tolerance = max(2e-5, max(maxx - minx, maxy - miny) / 4000)  # folium_map's default
    lines = RoadLines(report.network)
    arterial = [line.tolist() for line in lines.simplified("arterial", tolerance)[0]]
    minor = [line.tolist() for line in lines.simplified("minor", tolerance)[0]]
    assert len(arterial) == lines.count("arterial") > 10 and len(minor) == lines.count("minor") > 100
    assert sorted(roads.values(), key=len) == [arterial, minor]
    overlays = _overlays(page)
    group_of = {layer: group for group in re.findall(r"var (feature_group_\w+) = ", page)
                for layer in _added_to(page, group)}
    art_var = next(v for v, c in roads.items() if c == arterial)
    min_var = next(v for v, c in roads.items() if c == minor)
    assert overlays["minor roads (simplified)"] == group_of[min_var]
    assert group_of[art_var] not in overlays.values()  # always drawn: not in the layer control
    map_var = re.search(r"var (map_\w+) = L\.map\(", page).group(1)  # type: ignore[union-attr]
    assert group_of[art_var] in _added_to(page, map_var) and group_of[min_var] in _added_to(page, map_var)
    for var in (art_var, min_var):  # in the roads pane (over the bands, under the markers), not clickable
        options = re.search(rf"var {var} = L\.geoJson\(null, \{{(.*?)\}}\);", page, re.S).group(1)  # type: ignore[union-attr]
        assert '"pane": "gd-roads"' in options and '"interactive": false' in options


def test_minor_roads_keep_the_longest_within_the_vertex_budget(coverage_run) -> None:  # type: ignore[no-untyped-def]
    import shapely

    from geodispatch.coverage.maps import folium_map
    from geodispatch.network.lines import RoadLines

    report, _ = coverage_run
    lines = RoadLines(report.network)
    every, none_dropped = lines.simplified("minor", 2e-5)
    assert none_dropped == 0
    sizes = np.array([len(line) for line in every])
    index = np.repeat(np.arange(len(every)), sizes)
    lengths = shapely.length(shapely.linestrings(np.concatenate(every), indices=index))
    budget = int(sizes.sum() // 3)
    kept, dropped = lines.simplified("minor", 2e-5, budget)
    assert sum(len(line) for line in kept) <= budget and dropped == len(every) - len(kept) > 0
    # brute force: the longest roads first, as many as fit
    order = np.argsort(-lengths, kind="stable")
    expect = order[np.cumsum(sizes[order]) <= budget]
    assert [line.tolist() for line in kept] == [every[i].tolist() for i in expect]
    page = render_offline(folium_map(report, simplify_deg=2e-5, max_road_vertices=budget))
    assert f"minor roads (simplified; {dropped:,} shortest left out)" in page


def test_each_service_layer_carries_only_its_own_hotspots(coverage_run) -> None:  # type: ignore[no-untyped-def]
    report, path = coverage_run
    page = path.read_text(encoding="utf-8")
    overlays = _overlays(page)
    tips = dict(re.findall(r"(circle_marker_\w+)\.bindTooltip\(\s*`<div>\s*(hotspot #\d+: [^<]*?)\s*</div>`", page))
    hot = report.hotspots
    seen = 0
    for service in ("ambulance", "damkar"):
        group = overlays[f"{service}: isochrones and uncovered hotspots (> 15 min)"]
        shown = sorted(int(re.match(r"hotspot #(\d+)", tips[m]).group(1))  # type: ignore[union-attr]
                       for m in _added_to(page, group) if m in tips)
        mine = hot[hot["type"] == service].sort_values("rank").head(15)
        assert shown == sorted(mine["number"]), service
        seen += len(shown)
    assert seen == len(tips) > 0  # no hotspot outside a service's layer
    # the first service is shown, the others start hidden (their layer is not added to the map)
    map_var = re.search(r"var (map_\w+) = L\.map\(", page).group(1)  # type: ignore[union-attr]
    on_map = _added_to(page, map_var)
    assert overlays["ambulance: isochrones and uncovered hotspots (> 15 min)"] in on_map
    assert overlays["damkar: isochrones and uncovered hotspots (> 15 min)"] not in on_map


def test_coverage_html_fetches_nothing_by_default(coverage_html: Path) -> None:
    """The only internet URLs are the optional OSM tile layer's, and that layer starts off the map."""
    page = coverage_html.read_text(encoding="utf-8")
    assert not EXTERNAL_TAG.search(page)
    tiles = re.findall(r"var (tile_layer_\w+) = L\.tileLayer\(\s*\"([^\"]+)\",(.*?)\);", page, re.S)
    assert [url for _, url, _ in tiles] == ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"]
    var, _, options = tiles[0]
    assert f"{var}.addTo(" not in page and not re.search(rf"\)\.addTo\(\w+\);\s*var {var}\b", page)
    assert var in _overlays(page).values()  # it can be switched on
    elsewhere = page.replace(options, "").replace(tiles[0][1], "")
    for asset in ("leaflet.js", "leaflet.css"):  # their licence comments name web sites
        elsewhere = elsewhere.replace(leaflet_asset(asset), "")
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", elsewhere)


# --------------------------------------------------------------------------- headless browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)")


def _dom_offline(path: Path, extra_js: str = "") -> str:
    """The DOM after the page's scripts ran, with every http(s) request sent to a dead proxy."""
    if extra_js:
        page = path.read_text(encoding="utf-8").replace("</html>", f"<script>{extra_js}</script></html>")
        path = path.with_name(path.stem + "_probe.html")
        path.write_text(page, encoding="utf-8")
    assert CHROMIUM is not None
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
         "--virtual-time-budget=5000", "--dump-dom", path.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _map_div(dom: str) -> str:
    found = re.search(r'<div class="folium-map[^"]*"', dom)
    assert found is not None, "no map div in the DOM"
    return found.group(0)


@needs_chromium
def test_offline_page_renders_in_a_browser_and_cdn_page_does_not(tmp_path: Path) -> None:
    offline = save_offline(_small_map(), tmp_path / "offline.html")
    cdn = tmp_path / "cdn.html"
    _small_map().save(str(cdn))
    open_popup = (
        "window.addEventListener('load', () => setTimeout(() => {"
        " for (const k of Object.keys(window)) if (k.startsWith('circle_marker_')) window[k].openPopup();"
        "}, 200));"
    )
    dom = _dom_offline(offline, open_popup)
    assert "leaflet-container" in _map_div(dom)
    assert len(re.findall(r'<path class="leaflet-interactive', dom)) == 2  # the polygon and the marker
    assert re.search(r'leaflet-popup-content"[^>]*><b>PSC 119 Balikpapan</b><br>ambulance', dom)
    assert "OSM (online)" in dom and "isochrones" in dom  # the layer control
    assert "leaflet-container" not in _map_div(_dom_offline(cdn))  # control: blank without the CDN


# counts what Leaflet really drew: vector layers on the map, painted canvas pixels, labels shown
PROBE = """
window.addEventListener('load', () => setTimeout(() => {
  const map = window[Object.keys(window).find(k => k.startsWith('map_'))];
  let paths = 0; map.eachLayer(l => { if (l instanceof L.Path) paths++; });
  let painted = 0;
  for (const c of document.querySelectorAll('canvas')) {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) painted++;
  }
  document.body.setAttribute('data-probe', JSON.stringify({paths: paths, painted: painted}));
}, 300));
"""


def _probe(dom: str) -> dict[str, int]:
    found = re.search(r"data-probe=\"([^\"]*)\"", dom)
    assert found is not None, "the probe did not run (a script error before it?)"
    return json.loads(found.group(1).replace("&quot;", '"'))  # type: ignore[no-any-return]


@needs_chromium
@pytest.mark.parametrize("which", ["coverage_html", "siting_html"])
def test_geodispatch_maps_render_in_a_browser_offline(which: str, request: pytest.FixtureRequest) -> None:
    path = Path(request.getfixturevalue(which))
    dom = _dom_offline(path, PROBE)
    assert "leaflet-container" in _map_div(dom)
    probe = _probe(dom)
    if which == "coverage_html":  # drawn on one canvas (prefer_canvas); the layer control lists the layers
        assert probe["paths"] > 20 and probe["painted"] > 10_000, probe
        assert re.search(r"leaflet-control-layers-selector\" checked=\"\"><span> ambulance: isochrones and uncovered "
                         r"hotspots \(&gt; 15 min\)</span>", dom)
    else:  # SVG: one path per demand circle and post; the new posts carry permanent labels
        assert probe["paths"] == len(re.findall(r'<path class="leaflet-interactive', dom)) > 100, probe
        assert len(re.findall(r"role=\"tooltip\"[^>]*><div>\s*NEW #\d: ", dom)) == 2  # open in the DOM


# --------------------------------------------------------------------------- README screenshots
SCREENSHOTS_ENV = "GEODISPATCH_SCREENSHOTS"
"""Set to a folder (the README uses ``docs``) to have the screenshot test publish there
``coverage_map.png`` (the coverage HTML in Chromium), ``coverage.png`` and ``siting.png``."""
REPO = Path(__file__).resolve().parents[1]


def _not_blank(path: Path, width: int, height: int) -> None:
    import matplotlib.image as mpimg

    pixels = mpimg.imread(path)
    assert pixels.shape[:2] == (height, width), pixels.shape
    colours = np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50, f"{path.name}: only {len(colours)} colours (blank?)"


def test_readme_screenshots(tmp_path: Path) -> None:
    """The coverage HTML opened in headless Chromium (offline: no request leaves the machine), and the
    coverage and siting PNGs, from the README's commands; published to $GEODISPATCH_SCREENSHOTS."""
    import time

    from console_harness import Browser, browser_paths

    from geodispatch.coverage.report import run_coverage
    from geodispatch.output import atomic_file
    from geodispatch.scenario import load_scenario
    from geodispatch.siting.run import run_siting

    browser_paths()  # skip with the reason when Chromium / chromedriver are missing
    cov = tmp_path / "cov"
    run_coverage(load_scenario("synthetic"), out_dir=cov)  # `geodispatch coverage synthetic`
    site = tmp_path / "site"
    run_siting("synthetic", model="mclp", new_posts=3, minutes=15, out=site, lang="id")
    b = Browser(1400, 900)
    try:
        b.driver.get((cov / "map.html").resolve().as_uri())
        b.wait(lambda: b.js("return document.querySelectorAll('.leaflet-gd-roads-pane canvas').length === 1 && "
                            "document.querySelectorAll('.leaflet-control-layers-selector').length > 5"),
               30, "the map with its roads and layer control")
        time.sleep(1.0)  # the canvases' first paint
        assert b.requested_hosts() == set()  # nothing fetched: no tiles, no CDN
        assert b.console_errors() == []
        shot = tmp_path / "coverage_map.png"
        assert b.driver.save_screenshot(str(shot)), "the browser took no screenshot"
        width, height = b.js("return [window.innerWidth, window.innerHeight]")
    finally:
        b.close()
    _not_blank(shot, width, height)
    images = {"coverage_map.png": shot, "coverage.png": cov / "map.png", "siting.png": site / "map.png"}
    for image in images.values():
        assert image.stat().st_size > 50_000, image
    folder = os.environ.get(SCREENSHOTS_ENV)
    if folder:
        dest = Path(folder) if Path(folder).is_absolute() else REPO / folder
        for name, image in images.items():
            with atomic_file(dest / name, suffix=".png") as part:
                shutil.copyfile(image, part)

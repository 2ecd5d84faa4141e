"""What people read: message tables per language, the siting map's standard, --lang."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from geodispatch.errors import InputError
from geodispatch.locale import check_lang, people, percent, text

REPO = Path(__file__).resolve().parents[1]


def _table(lang: str) -> dict[str, str]:
    raw = resources.files("geodispatch.locale").joinpath(f"{lang}.json").read_text(encoding="utf-8")
    return dict(json.loads(raw))


def test_message_tables_have_the_same_keys_and_placeholders() -> None:
    en, idn = _table("en"), _table("id")
    assert set(en) == set(idn)
    for key in en:
        assert set(re.findall(r"{(\w+)", en[key])) == set(re.findall(r"{(\w+)", idn[key])), key
        assert en[key].strip() and idn[key].strip(), key


def test_language_helpers() -> None:
    assert check_lang("ID") == "id"
    with pytest.raises(InputError, match="unknown language 'fr'"):
        check_lang("fr")
    assert people(47388.4, "en") == "47,388"
    assert "." not in people(47388.5, "en")  # no fractional people for a reader
    assert people(155923.02, "id") == "155.923"
    assert percent(0.7796, "id", 1) == "78,0%"
    assert text("map.siting.title", "id", region="Kabupaten Sintetis", n=3, service=text("service.ambulance", "id"),
                minutes="15") == "Kabupaten Sintetis: 3 pos PSC 119 baru, target 15 menit"


def test_siting_png_labels_never_overlap_and_the_map_has_its_parts(tmp_path: Path) -> None:
    """New posts' labels overlap neither each other nor a post marker; legend, scale and north are drawn."""
    import matplotlib

    matplotlib.use("Agg")
    from geodispatch.mapdraw import label_boxes
    from geodispatch.scenario import load_scenario
    from geodispatch.siting.gains import coverage_status, network_marginal_gain, new_posts_in_table_order
    from geodispatch.siting.inputs import build_siting_problem
    from geodispatch.siting.maps import png_map
    from geodispatch.siting.run import solve_problem

    scenario = load_scenario("synthetic")
    problem = build_siting_problem(scenario.network, scenario.population, scenario.stations, n_candidates=80)
    result = solve_problem(problem, "mclp", 6, 900.0)
    table, nearest = network_marginal_gain(problem, result, 900.0)
    new = new_posts_in_table_order(table)
    captured = {}
    import matplotlib.pyplot as plt

    real_close = plt.close

    def keep(fig=None):  # type: ignore[no-untyped-def]
        captured["fig"] = fig

    plt.close = keep  # type: ignore[assignment]
    try:
        labels = png_map(problem, result, new, coverage_status(nearest, 900.0), table, tmp_path / "map.png",
                         region=scenario.name, service="ambulance", threshold_s=900.0, areas=scenario.areas,
                         lang="id")
    finally:
        plt.close = real_close  # type: ignore[assignment]
    fig = captured["fig"]
    assert len(labels) == new.size == 6
    boxes = label_boxes(fig, labels)
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i], boxes[j]
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (labels[i], labels[j])
    ax = fig.axes[1]
    lon, lat = problem.cand_lonlat
    x, y = problem.network.to_metric(lon, lat)
    marks = ax.transData.transform(np.column_stack([x, y])[list(result.fixed) + list(new)])
    for box in boxes:  # a post marker is ~ +-6 px around its point
        inside = (marks[:, 0] + 6 > box[0]) & (marks[:, 0] - 6 < box[2]) & (marks[:, 1] + 6 > box[1]) & (
            marks[:, 1] - 6 < box[3])
        assert not inside.any()
    # the standard: hidden projected axes, legends with every status, title in words, north arrow
    for axis in fig.axes:
        assert not axis.get_xticks().size and not axis.get_yticks().size
        assert axis.get_legend() is not None
    legend_text = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert {"sudah terjangkau", "baru terjangkau", "tidak terjangkau", "pos yang ada"} <= set(legend_text)
    assert any(t.startswith("ukuran titik") for t in legend_text)
    assert fig._suptitle.get_text().startswith(f"{scenario.name}: 6 pos PSC 119 baru")
    assert any(t.get_text() == "U" for t in fig.axes[0].texts)
    plt.close(fig)


def test_site_cli_lang_id_prints_indonesian(tmp_path: Path) -> None:
    out = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "geodispatch", "site", "synthetic", "--new-posts", "1", "--n-candidates", "40",
         "--lang", "id", "--out", str(out)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300, env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr
    assert "pos yang ada" in done.stdout and "langkah" in done.stdout and "jiwa dibulatkan" in done.stdout
    header = (out / "marginal_gain.csv").read_text().splitlines()[0]
    assert header.startswith("step,site,name")  # CSV columns stay English
    bad = subprocess.run(
        [sys.executable, "-m", "geodispatch", "site", "synthetic", "--lang", "fr", "--out", str(tmp_path / "x")],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert bad.returncode == 2 and "unknown language 'fr'" in bad.stderr
    assert not (tmp_path / "x").exists()


def test_region_language_defaults_to_indonesian() -> None:
    from geodispatch.regions import load_region

    assert load_region("balikpapan").lang == "id"


# --------------------------------------------------------------------------- coverage PNG
def test_hotspot_numbers_follow_people_and_are_shared_by_one_place() -> None:
    """Numbered once by people descending; an overlapping hotspot of another service reuses the number."""
    import geopandas as gpd
    from shapely.geometry import box

    from geodispatch.coverage.hotspots import number_hotspots

    spots = gpd.GeoDataFrame(
        {
            "type": ["ambulance", "ambulance", "ambulance", "damkar", "damkar", "damkar", "damkar"],
            "rank": [1, 2, 3, 1, 2, 3, 4],
            "population": [500.0, 300.0, 50.0, 900.0, 400.0, 200.0, 40.0],
        },
        geometry=[
            box(0, 0, 2, 2),  # A1 overlaps D2 (largest overlap) and D3 (smaller)
            box(10, 10, 11, 11),  # A2 overlaps D1
            box(20, 20, 21, 21),  # A3 alone
            box(10.5, 10.5, 12, 12),  # D1 (biggest of all: number 1)
            box(1, 1, 3, 3),  # D2 overlaps A1 by 1.0
            box(1.5, -1, 4, 0.5),  # D3 overlaps A1 by 0.25 only: A1 is taken by D2 -> own number
            box(30, 30, 31, 31),  # D4 alone
        ],
        crs=4326,
    )
    numbers = number_hotspots(spots).tolist()
    # D1 900 -> 1, A1 500 -> 2, D2 400 overlaps A1 -> 2, A2 300 overlaps D1 -> 1, D3 200 -> 3, A3 -> 4, D4 -> 5
    assert numbers == [2, 1, 4, 1, 2, 3, 5]
    for service in ("ambulance", "damkar"):  # one number once per service
        mine = [n for n, t in zip(numbers, spots["type"], strict=True) if t == service]
        assert len(mine) == len(set(mine))
    assert number_hotspots(spots.iloc[:0]).tolist() == []


@pytest.fixture(scope="module")
def coverage_report():  # type: ignore[no-untyped-def]
    from geodispatch.coverage.report import run_coverage
    from geodispatch.scenario import load_scenario

    return run_coverage(load_scenario("synthetic:1500"), minutes=[10, 15])


def test_coverage_png_labels_never_overlap_and_one_place_keeps_its_number(coverage_report) -> None:  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    from geodispatch.coverage.maps import HOTSPOT_LABELS, static_figure
    from geodispatch.mapdraw import label_boxes

    report = coverage_report
    hot = report.hotspots
    assert "number" in hot.columns
    fig, labels = static_figure(report, dpi=90)
    try:
        assert list(labels) == ["ambulance", "damkar"]
        for ax, (service, texts) in zip(fig.axes, labels.items(), strict=False):
            mine = hot[hot["type"] == service].sort_values("rank").head(HOTSPOT_LABELS)
            assert len(texts) == len(mine) == HOTSPOT_LABELS
            # each label carries the report-wide number of its hotspot (the table's number)
            assert [t.get_text().split(":")[0] for t in texts] == [f"#{n}" for n in mine["number"]]
            boxes = label_boxes(fig, texts)
            for i in range(len(boxes)):
                for j in range(i + 1, len(boxes)):
                    a, b = boxes[i], boxes[j]
                    assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (texts[i], texts[j])
            frame = ax.get_window_extent()
            assert (boxes[:, 0] >= frame.x0).all() and (boxes[:, 2] <= frame.x1).all()  # inside the panel
            assert (boxes[:, 1] >= frame.y0).all() and (boxes[:, 3] <= frame.y1).all()
            st = report.station_status
            st = st[st["service"] == service]
            sx, sy = report.network.to_metric(st["lon"].to_numpy(), st["lat"].to_numpy())
            marks = ax.transData.transform(np.column_stack([sx, sy]))
            for box in boxes:  # a station marker is ~ +-8 px around its point
                inside = (marks[:, 0] + 8 > box[0]) & (marks[:, 0] - 8 < box[2]) & (marks[:, 1] + 8 > box[1]) & (
                    marks[:, 1] - 8 < box[3])
                assert not inside.any(), box
            # the one map standard (geodispatch.mapdraw): hidden axes, scale bar, north arrow, legend
            assert not ax.get_xticks().size and not ax.get_yticks().size
            assert any(t.get_text() == "N" for t in ax.texts) and ax.get_legend() is not None
            assert any(t.get_text().endswith("km") for t in ax.texts)  # the scale bar's length
    finally:
        plt.close(fig)
    # the same place has the same number in both panels: overlapping hotspots of the two services
    amb, dam = hot[hot["type"] == "ambulance"], hot[hot["type"] == "damkar"]
    shared = set(amb["number"]) & set(dam["number"])
    assert shared, "no place is a hotspot of both services (the check below would be empty)"
    for number in shared:
        a = amb[amb["number"] == number].geometry.iloc[0]
        d = dam[dam["number"] == number].geometry.iloc[0]
        assert a.intersection(d).area > 0, number
    for frame in (amb, dam):
        assert frame["number"].is_unique
    # numbers grow with people: the first time a number appears, the hotspots are ordered largest first
    first = hot.sort_values(["population", "rank"], ascending=[False, True], kind="stable").drop_duplicates("number")
    assert first["number"].tolist() == sorted(first["number"])


# --------------------------------------------------------------------------- warnings in the reader's language
def test_coverage_warnings_print_in_indonesian_and_stay_english_in_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import box

    from geodispatch import cli
    from geodispatch.coverage.messages import WARNING_CODES, CoverageWarning
    from geodispatch.scenario import load_scenario

    scenario = load_scenario("synthetic:1500")
    w0, s0, e0, n0 = scenario.network.bbox
    pop = scenario.population.iloc[:400][["lon", "lat", "population"]]
    far = pd.DataFrame({"lon": [e0 + 0.2, e0 + 0.21], "lat": [n0, n0], "population": [1200.0, 34.0]})  # ~22 km out
    pop = pd.concat([pop, far], ignore_index=True)
    pop.to_csv(tmp_path / "pop.csv", index=False)
    areas = gpd.GeoDataFrame(  # the west half of the regency and a desa out at sea with no road
        {"name": ["Barat", "Pulau Jauh"]},
        geometry=[box(w0 - 0.01, s0 - 0.01, (w0 + e0) / 2, n0 + 0.01), box(e0 + 0.1, s0, e0 + 0.15, s0 + 0.05)],
        crs=4326,
    )
    areas.to_file(tmp_path / "areas.geojson", driver="GeoJSON")
    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", [
        "geodispatch", "coverage", "synthetic:1500", "--minutes", "15", "--station-types", "ambulance",
        "--population", str(tmp_path / "pop.csv"), "--areas", str(tmp_path / "areas.geojson"),
        "--lang", "id", "--out", str(out)])
    monkeypatch.setattr(cli.console, "width", 400)
    cli.main()
    printed = " ".join(capsys.readouterr().out.split())
    summary = json.loads((out / "summary.json").read_text())
    codes = [w["code"] for w in summary["warnings"]]
    assert codes == ["points_off_road", "areas_without_road", "people_in_no_area"]
    for w in summary["warnings"]:  # machines read the code, the values and the English text
        assert w["message"] == CoverageWarning(w["code"], w["values"]).message("en")
        assert w["message"] not in printed
        shown = CoverageWarning(w["code"], w["values"]).message("id")
        assert " ".join(shown.split()) in printed, shown
    off = summary["warnings"][0]
    assert off["values"] == {"points": 2, "people": 1234.0, "snap_m": 1000.0}
    assert off["message"] == ("2 population point(s) (1,234 people) are more than 1000 m from any road and count "
                              "as not covered")
    assert "2 titik penduduk (1.234 jiwa) berjarak lebih dari 1000 m dari jalan mana pun" in printed
    assert "1 dari 2 wilayah tidak memiliki jalan dari jaringan ini (Pulau Jauh)" in printed
    assert "tidak berada di wilayah mana pun" in printed
    for code in WARNING_CODES:  # every code reads in both languages (the tables have the same keys)
        assert text(f"coverage.warning.{code}", "id", n=1, total=2, service="ambulance", points=1, people=2,
                    snap_m=3, names="x") != text(f"coverage.warning.{code}", "en", n=1, total=2, service="ambulance",
                                                 points=1, people=2, snap_m=3, names="x")


def test_coverage_maps_speak_the_report_language(coverage_report, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """With lang id every title, legend entry, label and footer of the coverage PNG and the HTML
    title and band legend are Indonesian; with en they are English."""
    import dataclasses

    import matplotlib.pyplot as plt

    from geodispatch.coverage.maps import save_html, static_figure

    words = {
        "id": ("menit", "Jangkauan darurat", "jiwa", "pos "),
        "en": ("min", "emergency coverage", "people", "station"),
    }
    for lang, (minutes, title, persons, post) in words.items():
        report = dataclasses.replace(coverage_report, lang=lang)
        fig, labels = static_figure(report, dpi=60)
        try:
            texts = [fig._suptitle.get_text()] + [t.get_text() for t in fig.texts]  # type: ignore[union-attr]
            for ax in fig.axes:
                texts.append(ax.get_title())
                legend = ax.get_legend()
                texts += [t.get_text() for t in legend.get_texts()] if legend is not None else []
            texts += [t.get_text() for group in labels.values() for t in group]
        finally:
            plt.close(fig)
        joined = "\n".join(texts)
        assert title in joined and f"10–15 {minutes}" in joined and persons in joined and post in joined, joined
        assert words["id" if lang == "en" else "en"][1] not in joined
        if lang == "id":
            assert not re.search(r"\b(min|people|station|road|within)\b", joined), joined
        page = save_html(report, tmp_path / f"map-{lang}.html").read_text(encoding="utf-8")
        assert ("jangkauan dalam" in page) == (lang == "id") and ("coverage within" in page) == (lang == "en")

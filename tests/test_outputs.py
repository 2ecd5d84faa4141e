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

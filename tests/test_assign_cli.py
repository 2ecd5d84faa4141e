"""Dispatch CLI, fleet files, demo lines and the evaluation harness on the synthetic regency."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from geodispatch.assign import demo_lines, units_from_stations
from geodispatch.assign.evaluate import evaluate, incident_stream
from geodispatch.assign.run import read_units
from geodispatch.errors import AssignmentError, SourceNotFoundError
from geodispatch.inputs.calibration import DEFAULT_CALIBRATION, calibrate
from geodispatch.scenario import load_scenario


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real entry point in a subprocess (slow: use once)."""
    return subprocess.run([sys.executable, "-m", "geodispatch.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run ``geodispatch.cli.main`` in-process; returns (exit code, stdout, stderr)."""
    from geodispatch import cli as cli_module

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["geodispatch", *args])
        code = 0
        try:
            cli_module.main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture(scope="module")
def scenario():  # type: ignore[no-untyped-def]
    return load_scenario("synthetic")


def _place(scenario) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    st = next(s for s in scenario.stations if s.type == "psc")
    return st.lon + 0.01, st.lat


def test_cli_recommend_json_and_text(scenario, cli) -> None:  # type: ignore[no-untyped-def]
    lon, lat = _place(scenario)
    res = run_cli("recommend", "synthetic", "--type", "kebakaran", "--at", f"{lon},{lat}", "--json", "--route")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert len(data["unit_ids"]) == 3 and len(data["routes"]) == 3
    assert all(isinstance(x, float) for x in data["etas_s"])
    busy = data["unit_ids"][2]
    code, out, err = cli("recommend", "synthetic", "--type", "kebakaran", "--at", f"{lon},{lat}", "--busy", busy)
    assert code == 0, err
    assert "SYNTHETIC" in out and f"{busy}: busy (on scene)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--type", "gempa", "--at", "119.9,-7.5"), "unknown incident type 'gempa'"),
        (("--type", "medis", "--at", "100,-7.5"), "from the nearest road"),
        (("--type", "medis", "--at", "119.9"), "--at expects LON,LAT"),
        (("--type", "medis", "--at", "119.9,-7.5", "--priority", "7"), "priority must be 1"),
        (("--type", "medis", "--at", "119.9,-7.5", "--busy", "nope"), "unknown unit id"),
    ],
)
def test_cli_recommend_bad_input(args: tuple[str, ...], message: str, cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("recommend", "synthetic", *args)
    assert code == 2
    assert message in " ".join(err.split()) and "Traceback" not in err and not out


def test_fleet_file(tmp_path: Path, scenario, cli) -> None:  # type: ignore[no-untyped-def]
    lon, lat = _place(scenario)
    good = tmp_path / "units.csv"
    good.write_text(
        "id,type,lon,lat,status,capabilities,home_station,home_lon,home_lat,position_time\n"
        f"a1,ambulance,{lon},{lat},available,ALS;BLS,psc,{lon},{lat},2026-01-05T10:00:00Z\n"
        f"d1,damkar,{lon},{lat},on_scene,,,,,\n"
    )
    units = read_units(good)
    assert units[0].capabilities == ("ALS", "BLS") and units[0].position_time is not None
    assert units[1].status == "on_scene" and units[1].home_lon is None
    code, out, err = cli(
        "recommend", "synthetic", "--type", "medis", "--at", f"{lon},{lat}", "--units", str(good), "--json"
    )
    assert code == 0, err
    assert json.loads(out)["unit_ids"] == ["a1"]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"id,type,lon,lat\nx1,helicopter,{lon},{lat}\n")
    with pytest.raises(AssignmentError, match=r"bad.csv row 1: unit x1: unknown unit type"):
        read_units(bad)
    bad.write_text("id,lon,lat\nx1,1,2\n")
    with pytest.raises(AssignmentError, match="missing column"):
        read_units(bad)


def test_demo_lines(scenario) -> None:  # type: ignore[no-untyped-def]
    text = "\n".join(demo_lines(scenario))
    assert "SYNTHETIC" in text and "Sample fire: kebakaran" in text and "Sample medical call" in text
    assert "send " in text and "why:" in text and "busy (en route)" in text


def test_calibration_reads_the_sf_file_given_explicitly(tmp_path: Path) -> None:
    from conftest import shared_path

    with pytest.raises(SourceNotFoundError, match="calibration file not found"):
        calibrate(tmp_path / "missing.csv")
    cal = calibrate(shared_path("incidents/sf_fire_calls_2016-12-31_to_2017-01-07.csv"))
    assert set(cal.type_share) == {"medis", "kebakaran", "kecelakaan", "penyelamatan"}
    assert 0.75 < cal.type_share["medis"] < 0.85  # 2,688 medical of 3,382 kept calls
    assert cal.hourly.shape == (24,) and abs(cal.hourly.mean() - 1) < 1e-9
    assert 0.75 < cal.transport_share < 0.9
    # medians of the real durations (seconds): ambulance on scene ~18 min, after transport ~49 min
    assert 900 < np.median(cal.onscene_s["ambulance"]) < 1300
    assert 2500 < np.median(cal.transport_to_available_s) < 3400
    for kind, shares in cal.priority_share.items():
        assert abs(sum(shares) - 1) < 1e-9, kind


def test_evaluation_is_seeded_and_consistent(scenario) -> None:  # type: ignore[no-untyped-def]
    cal = DEFAULT_CALIBRATION
    s1 = incident_stream(scenario, hours=6, calls_per_day=80, seed=3, calibration=cal)
    s2 = incident_stream(scenario, hours=6, calls_per_day=80, seed=3, calibration=cal)
    assert s1 == s2 and 5 < len(s1) < 60
    assert all(0 <= s.time_s < 6 * 3600 for s in s1)
    ev = evaluate(scenario, hours=6, calls_per_day=80, seed=3, calibration=cal, surge=(2.0, 1.0, 6.0))
    assert set(ev.results) == {"closest", "optimal", "coverage_aware"}
    for row in ev.table():
        assert row["incidents"] == ev.stream_size
        assert 0 <= row["within_target"] <= 1 and row["unmet_units"] >= 0
        res = ev.results[row["policy"]]
        assert len(res.response_s) + res.no_unit == res.incidents
        assert len(res.slot_response_s) + res.unmet == res.slots
        assert (res.response_s > 0).all()
    with pytest.raises(AssignmentError, match="unknown policy"):
        evaluate(scenario, units=units_from_stations(scenario.stations), policies=["nearest"], hours=1, calibration=cal)

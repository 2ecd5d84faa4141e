"""What ``geodispatch simulate`` runs: read the inputs, simulate each policy, write the outputs.

Outputs (written atomically into ``--out``): ``calls.csv`` (per call and replication),
``assignments.csv`` (per unit sent), ``summary.json`` (headline figures with 95% CIs per policy,
and a comparison table), ``map.html`` / ``map.png`` (where the late calls were) and
``response_times.png`` (the response-time distribution of each policy).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geodispatch.assign.model import Unit, units_from_stations
from geodispatch.errors import InputError, SimulationError
from geodispatch.sim.calibration import DEFAULT_CALIBRATION, Calibration, calibrate
from geodispatch.sim.calls import CallTable, read_calls
from geodispatch.sim.model import MOVE_UP, POLICIES, Hospital
from geodispatch.sim.result import SimResult

SERVICE_UNIT = {"ambulance": ("psc", "ambulance"), "damkar": ("damkar", "damkar")}
"""Service of ``--add-posts`` -> (station type of the new posts, type of their units)."""


def read_hospitals(path: str | os.PathLike[str]) -> list[Hospital]:
    """Hospitals from a CSV/GeoJSON: ``lon, lat`` and optional ``id``, ``name``, ``accepts``.

    ``accepts`` lists the incident types the hospital takes (``;`` or ``,`` separated; blank =
    every type).

    Raises
    ------
    SourceNotFoundError, CorruptFileError, InputError
    """
    import pandas as pd

    from geodispatch.inputs import check_lonlat, read_table

    df = read_table(path, "hospitals")
    origin = Path(path).name
    check_lonlat(df, origin)
    if df.empty:
        raise InputError(f"{origin}: no hospital in the file")
    out = []
    for i, rec in enumerate(df.to_dict("records")):

        def text(key: str, rec: dict[str, Any] = rec) -> str:
            v = rec.get(key)
            return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip()

        hid = text("id") or f"hospital-{i + 1}"
        accepts = tuple(a.strip() for a in text("accepts").replace(";", ",").split(",") if a.strip())
        out.append(Hospital(hid, text("name") or hid, float(rec["lon"]), float(rec["lat"]), accepts))
    ids = [h.id for h in out]
    if len(set(ids)) != len(ids):
        raise InputError(f"{origin}: duplicate hospital ids")
    del pd
    return out


def post_units(posts: Sequence[tuple[str, str, float, float]], service: str, per_post: int) -> list[Unit]:
    """Units for new posts (``per_post`` of the service's unit type at each)."""
    if service not in SERVICE_UNIT:
        raise InputError(f"unknown service {service!r} for new posts; use one of {', '.join(SERVICE_UNIT)}")
    if per_post < 1:
        raise InputError(f"units per new post must be >= 1, got {per_post}")
    utype = SERVICE_UNIT[service][1]
    return [
        Unit(f"{pid}-{utype}-{n + 1}", utype, lon, lat, home_station=pid, home_lon=lon, home_lat=lat)
        for pid, _, lon, lat in posts
        for n in range(per_post)
    ]


@dataclass
class SimulationRun:
    """Everything ``geodispatch simulate`` computed."""

    scenario: Any
    results: list[SimResult] = field(default_factory=list)
    calibration: Calibration = DEFAULT_CALIBRATION
    calls_note: str = ""


def run_simulation(
    source: str,
    out: str | os.PathLike[str],
    *,
    calls_file: str | os.PathLike[str] | None = None,
    calls_per_day: float | None = None,
    days: float | None = None,
    policies: Sequence[str] = ("optimal",),
    move_up: str = "none",
    replications: int = 1,
    seed: int = 0,
    dispatch_delay_s: float | None = None,
    turnout_s: float | None = None,
    units_file: str | os.PathLike[str] | None = None,
    hospitals_file: str | os.PathLike[str] | None = None,
    add_posts: str | os.PathLike[str] | None = None,
    post_service: str = "ambulance",
    units_per_post: int = 1,
    calibration_file: str | os.PathLike[str] | None = None,
    surge: tuple[float, float, float] | None = None,
    progress: Callable[[str], None] | None = None,
) -> SimulationRun:
    """Load everything, simulate each policy, write the outputs into ``out``.

    Raises
    ------
    GeodispatchError
        On any bad input, before anything is written.
    """
    from geodispatch.assign.run import read_units
    from geodispatch.inputs.tables import read_site_posts
    from geodispatch.scenario import load_scenario
    from geodispatch.sim import simulate

    if (calls_file is None) == (days is None):
        raise InputError("give either --calls FILE or --days D (with --calls-per-day N)")
    if calls_file is not None and calls_per_day is not None:
        raise InputError("--calls-per-day generates calls; it cannot be combined with --calls FILE")
    bad = [p for p in policies if p not in POLICIES]
    if bad or not policies:
        raise InputError(f"unknown policy {', '.join(bad) or '(none)'}; use one of {', '.join(POLICIES)}")
    if move_up not in MOVE_UP:
        raise InputError(f"unknown move-up rule {move_up!r}; use one of {', '.join(MOVE_UP)}")
    if days is not None and not (math.isfinite(days) and 0 < days <= 3660):
        raise InputError(f"--days must be in (0, 3660], got {days}")
    if calls_per_day is not None and not (math.isfinite(calls_per_day) and calls_per_day >= 0):
        raise InputError(f"--calls-per-day must be a non-negative number, got {calls_per_day}")
    say = progress or (lambda _msg: None)
    cal = calibrate(Path(calibration_file)) if calibration_file is not None else DEFAULT_CALIBRATION
    calls: CallTable | None = read_calls(calls_file) if calls_file is not None else None
    hospitals = read_hospitals(hospitals_file) if hospitals_file is not None else None
    posts = read_site_posts(add_posts) if add_posts is not None else []
    fleet_file = read_units(units_file) if units_file is not None else None
    say(f"loading {source}")
    scenario = load_scenario(source)
    fleet = list(fleet_file) if fleet_file is not None else units_from_stations(scenario.stations)
    if posts:
        fleet += post_units(posts, post_service, units_per_post)
    run = SimulationRun(scenario=scenario, calibration=cal)
    for policy in policies:
        say(f"simulating {policy}")
        res = simulate(
            scenario, calls, calls_per_day=calls_per_day, days=days, units=fleet, hospitals=hospitals,
            policy=policy, move_up=move_up, replications=replications, seed=seed,
            dispatch_delay_s=dispatch_delay_s, turnout_s=turnout_s, calibration=cal, surge=surge,
            progress=_replication_progress(say, policy),
        )  # fmt: skip
        if posts:
            name = Path(str(add_posts)).name
            res.notes.append(f"{len(posts)} new post(s) from {name}, {units_per_post} unit(s) each")
        run.results.append(res)
    say("writing outputs")
    write_outputs(run, out)
    return run


def _replication_progress(say: Callable[[str], None], policy: str) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        say(f"{policy}: replication {done}/{total}")

    return report


def comparison_rows(results: Sequence[SimResult]) -> list[dict[str, Any]]:
    """One row per policy: share within target, mean and p90 response, each with its 95% CI."""
    rows = []
    for res in results:
        f = res.summary()["figures"]
        rows.append(
            {
                "policy": res.policy,
                "move_up": res.move_up,
                "replications": len(res.replications),
                "within_target": f["within_target"],
                "mean_response_s": f["mean_response_s"],
                "p90_response_s": f["p90_response_s"],
                "relocations": f["relocations"],
            }
        )
    return rows


def write_outputs(run: SimulationRun, out: str | os.PathLike[str]) -> Path:
    """Write calls.csv, assignments.csv, summary.json, map.html, map.png, response_times.png."""
    import pandas as pd

    from geodispatch.output import atomic_dir

    if not run.results:
        raise SimulationError("nothing simulated")
    calls = pd.concat([r.calls_frame() for r in run.results], ignore_index=True)
    assignments = pd.concat([r.assignments_frame() for r in run.results], ignore_index=True)
    scenario = run.scenario
    summary = {
        "scenario": scenario.name,
        "synthetic": bool(scenario.synthetic),
        "target_s": run.results[0].model.target_s,
        "calibration": run.calibration.source,
        "comparison": comparison_rows(run.results),
        "runs": [r.summary() for r in run.results],
    }
    with atomic_dir(out) as tmp:
        calls.to_csv(tmp / "calls.csv", index=False)
        assignments.to_csv(tmp / "assignments.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(_jsonable(summary), indent=1, allow_nan=False), encoding="utf-8")
        from geodispatch.sim.maps import write_maps

        write_maps(run, calls, tmp)
    return Path(out)


def _jsonable(obj: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python (strict JSON)."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj

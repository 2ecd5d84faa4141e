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


@dataclass(frozen=True)
class SimulationSpec:
    """What a simulation study is made of: the ``geodispatch simulate`` arguments (picklable).

    Paths are strings; a batch ships this to its workers, which read the files themselves.
    """

    source: str
    calls_file: str | None = None
    calls_per_day: float | None = None
    days: float | None = None
    policies: tuple[str, ...] = ("optimal",)
    move_up: str = "none"
    replications: int = 1
    seed: int = 0
    dispatch_delay_s: float | None = None
    turnout_s: float | None = None
    units_file: str | None = None
    hospitals_file: str | None = None
    add_posts: str | None = None
    post_service: str = "ambulance"
    units_per_post: int = 1
    calibration_file: str | None = None
    surge: tuple[float, float, float] | None = None

    def input_files(self) -> list[str]:
        """The files the study reads (the source too when it is a file)."""
        files = [self.calls_file, self.units_file, self.hospitals_file, self.add_posts, self.calibration_file]
        out = [f for f in files if f]
        if os.path.exists(self.source):
            out.append(self.source)
        return out

    def check(self) -> None:
        """Raise :class:`InputError` on inconsistent or out-of-range arguments (nothing is read)."""
        if (self.calls_file is None) == (self.days is None):
            raise InputError("give either --calls FILE or --days D (with --calls-per-day N)")
        if self.calls_file is not None and self.calls_per_day is not None:
            raise InputError("--calls-per-day generates calls; it cannot be combined with --calls FILE")
        bad = [p for p in self.policies if p not in POLICIES]
        if bad or not self.policies:
            raise InputError(f"unknown policy {', '.join(bad) or '(none)'}; use one of {', '.join(POLICIES)}")
        if len(set(self.policies)) != len(self.policies):
            raise InputError(f"a policy is given twice: {', '.join(self.policies)}")
        if self.move_up not in MOVE_UP:
            raise InputError(f"unknown move-up rule {self.move_up!r}; use one of {', '.join(MOVE_UP)}")
        if self.days is not None and not (math.isfinite(self.days) and 0 < self.days <= 3660):
            raise InputError(f"--days must be in (0, 3660], got {self.days}")
        if self.calls_per_day is not None and not (math.isfinite(self.calls_per_day) and self.calls_per_day >= 0):
            raise InputError(f"--calls-per-day must be a non-negative number, got {self.calls_per_day}")
        if isinstance(self.replications, bool) or not isinstance(self.replications, int) or self.replications < 1:
            raise InputError(f"--replications must be a whole number >= 1, got {self.replications!r}")


@dataclass
class Study:
    """A :class:`SimulationSpec` with its files read and its scenario loaded."""

    spec: SimulationSpec
    scenario: Any
    calibration: Calibration
    calls: CallTable | None
    hospitals: list[Hospital] | None
    fleet: list[Unit]
    posts: list[tuple[str, str, float, float]]

    def model(self, policy: str) -> tuple[Any, Any]:
        """``(SimModel, CallSource)`` of one policy (see :func:`geodispatch.sim.prepare_study`)."""
        from geodispatch.sim import prepare_study

        sp = self.spec
        return prepare_study(
            self.scenario, self.calls, calls_per_day=sp.calls_per_day, days=sp.days, units=self.fleet,
            hospitals=self.hospitals, policy=policy, move_up=sp.move_up, dispatch_delay_s=sp.dispatch_delay_s,
            turnout_s=sp.turnout_s, calibration=self.calibration, surge=sp.surge,
        )  # fmt: skip

    def result(self, model: Any, replications: list[Any]) -> SimResult:
        """The :class:`SimResult` of one policy's replications, with its notes."""
        from geodispatch.sim import result_notes

        res = SimResult(model, replications, notes=result_notes(model, replications))
        if self.posts:
            name = Path(str(self.spec.add_posts)).name
            res.notes.append(f"{len(self.posts)} new post(s) from {name}, {self.spec.units_per_post} unit(s) each")
        return res


def load_study(spec: SimulationSpec, progress: Callable[[str], None] | None = None) -> Study:
    """Check the spec, read its files and load its scenario.

    Raises
    ------
    GeodispatchError
        On any bad input (nothing is written).
    """
    from geodispatch.assign.run import read_units
    from geodispatch.inputs.tables import read_site_posts
    from geodispatch.scenario import load_scenario

    spec.check()
    say = progress or (lambda _msg: None)
    cal = calibrate(Path(spec.calibration_file)) if spec.calibration_file is not None else DEFAULT_CALIBRATION
    calls: CallTable | None = read_calls(spec.calls_file) if spec.calls_file is not None else None
    hospitals = read_hospitals(spec.hospitals_file) if spec.hospitals_file is not None else None
    posts = read_site_posts(spec.add_posts) if spec.add_posts is not None else []
    fleet_file = read_units(spec.units_file) if spec.units_file is not None else None
    say(f"loading {spec.source}")
    scenario = load_scenario(spec.source)
    fleet = list(fleet_file) if fleet_file is not None else units_from_stations(scenario.stations)
    if posts:
        fleet += post_units(posts, spec.post_service, spec.units_per_post)
    return Study(spec, scenario, cal, calls, hospitals, fleet, posts)


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
    spec = make_spec(
        source, calls_file=calls_file, calls_per_day=calls_per_day, days=days, policies=policies, move_up=move_up,
        replications=replications, seed=seed, dispatch_delay_s=dispatch_delay_s, turnout_s=turnout_s,
        units_file=units_file, hospitals_file=hospitals_file, add_posts=add_posts, post_service=post_service,
        units_per_post=units_per_post, calibration_file=calibration_file, surge=surge,
    )  # fmt: skip
    say = progress or (lambda _msg: None)
    study = load_study(spec, say)
    run = SimulationRun(scenario=study.scenario, calibration=study.calibration)
    from geodispatch.sim import simulate_replication

    for policy in spec.policies:
        say(f"simulating {policy}")
        model, src = study.model(policy)
        report = _replication_progress(say, policy)
        reps = []
        for r in range(spec.replications):
            reps.append(simulate_replication(model, src, spec.seed, r))
            report(r + 1, spec.replications)
        run.results.append(study.result(model, reps))
    say("writing outputs")
    write_outputs(run, out)
    return run


def make_spec(source: str, **kwargs: Any) -> SimulationSpec:
    """A :class:`SimulationSpec` from ``run_simulation``'s keyword arguments (paths as strings)."""
    for key in ("calls_file", "units_file", "hospitals_file", "add_posts", "calibration_file"):
        if kwargs.get(key) is not None:
            kwargs[key] = os.fspath(kwargs[key])
    kwargs["policies"] = tuple(kwargs.get("policies") or ())
    if kwargs.get("surge") is not None:
        kwargs["surge"] = tuple(float(x) for x in kwargs["surge"])
    return SimulationSpec(str(source), **kwargs)


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

    from geodispatch.output import atomic_dir, json_safe

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
        (tmp / "summary.json").write_text(json.dumps(json_safe(summary), indent=1, allow_nan=False), encoding="utf-8")
        from geodispatch.sim.maps import write_maps

        write_maps(run, calls, tmp)
    return Path(out)

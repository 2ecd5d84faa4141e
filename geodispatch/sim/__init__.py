"""Discrete-event simulation of an EMS / fire fleet on the road network.

Replays calls (from a file or generated from a calibration) with busy units, hospital
transports, queues and optional move-up, using the assignment engine's policies for every
decision, over independent replications with 95% confidence intervals.

Public API::

    from geodispatch.sim import simulate

    res = simulate(scenario, calls_per_day=200, days=30, move_up="dmexclp", replications=5)
    res.summary()["figures"]["within_target"]      # {"mean": ..., "ci95": [lo, hi], "n": 5}

    # one replication as a task (what a Dask batch runs; same numbers as the loop above):
    from geodispatch.sim import build_model, CallSource, simulate_replication
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from geodispatch.assign.model import Unit
from geodispatch.errors import SimulationError
from geodispatch.sim.calibration import DEFAULT_CALIBRATION, Calibration, calibrate
from geodispatch.sim.calls import CallTable, generate_calls, read_calls
from geodispatch.sim.engine import CallSource, ReplicationResult, simulate_replication
from geodispatch.sim.model import MOVE_UP, POLICIES, Hospital, SimModel, build_model, prepare_calls
from geodispatch.sim.result import SimResult, ci95

__all__ = [
    "DEFAULT_CALIBRATION",
    "MOVE_UP",
    "POLICIES",
    "Calibration",
    "CallSource",
    "CallTable",
    "Hospital",
    "ReplicationResult",
    "SimModel",
    "SimResult",
    "build_model",
    "calibrate",
    "call_source",
    "ci95",
    "generate_calls",
    "prepare_calls",
    "prepare_study",
    "read_calls",
    "simulate",
    "simulate_replication",
]


def call_source(
    model: SimModel,
    scenario: Any,
    calls: CallTable | None = None,
    calls_per_day: float | None = None,
    days: float | None = None,
    surge: tuple[float, float, float] | None = None,
) -> CallSource:
    """The :class:`CallSource` of a study: a fixed table, or generated calls per replication.

    Raises
    ------
    SimulationError
        When both or neither of ``calls`` and ``days`` are given, or the scenario has no
        population to place generated calls.
    """
    if (calls is None) == (days is None):
        raise SimulationError("give either a calls table or days (with calls per day) to generate calls")
    if calls is not None:
        return CallSource(prepared=prepare_calls(model, calls))
    pop = scenario.population
    if pop is None or not len(pop):
        raise SimulationError("the scenario has no population points to place calls at; give a calls file")
    snap = scenario.network.snap(pop["lon"], pop["lat"], max_distance_m=model.snap_limit_m, strict=False)
    on_net = pop[snap.edge >= 0]
    people = float(on_net["population"].sum()) if len(on_net) else 0.0
    if people <= 0:
        raise SimulationError(f"no population point lies within {model.snap_limit_m:g} m of a road")
    per_day = calls_per_day if calls_per_day is not None else model.calibration.calls_per_person_day * people
    return CallSource(calls_per_day=float(per_day), days=float(days or 0.0), surge=surge, population=on_net)


def simulate(
    scenario: Any,
    calls: CallTable | None = None,
    *,
    calls_per_day: float | None = None,
    days: float | None = None,
    units: Sequence[Unit] | None = None,
    hospitals: Sequence[Hospital] | None = None,
    policy: str = "optimal",
    move_up: str = "none",
    replications: int = 1,
    seed: int = 0,
    dispatch_delay_s: float | None = None,
    turnout_s: float | None = None,
    calibration: Calibration | None = None,
    surge: tuple[float, float, float] | None = None,
    busy_fraction: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimResult:
    """Simulate a fleet answering calls on a scenario, over independent replications.

    Parameters
    ----------
    scenario : Scenario
        Network, stations (with units), population, SOP and target time.
    calls : CallTable, optional
        Calls to replay (the same in every replication; service times differ).
    calls_per_day, days : float, optional
        Generate calls instead: Poisson arrivals with the calibration's hour profile, placed by
        population; a new stream per replication. ``calls_per_day`` defaults to the calibrated
        rate per person times the scenario's population.
    units : sequence of Unit, optional
        The fleet (default: the units of the scenario's stations).
    hospitals : sequence of Hospital, optional
        Default: the scenario's ``rsud`` stations.
    policy : {"optimal", "closest", "coverage_aware"}
        The assignment engine's policy for every decision.
    move_up : {"none", "dmexclp"}
        What a unit does when it becomes free: drive back home, or to the post that adds the most
        expected coverage (dynamic MEXCLP, Jagtenberg, Bhulai and van der Mei 2015).
    replications : int
        Independent replications (>= 1).
    seed : int
        Base seed; replication ``r`` uses ``SeedSequence([seed, r])``.
    dispatch_delay_s, turnout_s : float, optional
        Fixed delays, seconds (default: drawn from the calibration).
    calibration : Calibration, optional
        Call mix and service times (default :data:`DEFAULT_CALIBRATION`; use :func:`calibrate`
        on the SF calls file for the real figures).
    surge : (start hour, hours, factor), optional
        A surge window for generated calls.
    busy_fraction : float, optional
        DMEXCLP's busy probability (default: estimated from the workload).
    progress : callable, optional
        Called as ``progress(done, total)`` after each replication.

    Returns
    -------
    SimResult
    """
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise SimulationError(f"replications must be a whole number >= 1, got {replications!r}")
    model, source = prepare_study(
        scenario, calls, calls_per_day=calls_per_day, days=days, units=units, hospitals=hospitals, policy=policy,
        move_up=move_up, dispatch_delay_s=dispatch_delay_s, turnout_s=turnout_s, calibration=calibration,
        surge=surge, busy_fraction=busy_fraction,
    )  # fmt: skip
    reps = []
    for r in range(replications):
        reps.append(simulate_replication(model, source, seed, r))
        if progress is not None:
            progress(r + 1, replications)
    return SimResult(model, reps, notes=result_notes(model, reps))


def prepare_study(
    scenario: Any,
    calls: CallTable | None = None,
    *,
    calls_per_day: float | None = None,
    days: float | None = None,
    units: Sequence[Unit] | None = None,
    hospitals: Sequence[Hospital] | None = None,
    policy: str = "optimal",
    move_up: str = "none",
    dispatch_delay_s: float | None = None,
    turnout_s: float | None = None,
    calibration: Calibration | None = None,
    surge: tuple[float, float, float] | None = None,
    busy_fraction: float | None = None,
) -> tuple[SimModel, CallSource]:
    """The model and call source of a study: what every replication of :func:`simulate` shares.

    A replication is then ``simulate_replication(model, source, seed, r)``, in this process or
    as a task on another (``geodispatch batch simulate``); the parameters are those of
    :func:`simulate`.
    """
    model = build_model(
        scenario, units, hospitals, policy=policy, move_up=move_up, dispatch_delay_s=dispatch_delay_s,
        turnout_s=turnout_s, calibration=calibration, busy_fraction=busy_fraction,
        expected_calls_per_day=_expected_per_day(calls, calls_per_day),
    )  # fmt: skip
    return model, call_source(model, scenario, calls, calls_per_day, days, surge)


def _expected_per_day(calls: CallTable | None, calls_per_day: float | None) -> float | None:
    if calls is not None and len(calls):
        return len(calls) / max(calls.span_s / 86400.0, 1.0)
    return calls_per_day


def result_notes(model: SimModel, reps: Sequence[ReplicationResult]) -> list[str]:
    """Plain-language notes on what could not be done (nothing is dropped silently)."""
    notes = []
    never = sum(int((r.unserved > 0).sum()) for r in reps)
    if never:
        notes.append(
            f"{never} call(s) over {len(reps)} replication(s) lacked units no fleet unit can reach "
            "(units_never_sent in calls.csv): no unit of the needed type, or none that reaches the place"
        )
    nohosp = sum(int(r.no_hospital.sum()) for r in reps)
    if nohosp:
        notes.append(
            f"{nohosp} transport(s) found no reachable suitable hospital; the patient was treated on scene "
            "(transport_without_hospital in calls.csv)"
        )
    if not model.hospitals:
        notes.append("no hospital given (no rsud station, no --hospitals): every call was treated on scene")
    return notes

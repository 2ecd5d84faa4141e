"""Simulator benchmark: calls simulated per second, and the policy comparison with 95% CIs.

Run:  .venv/bin/python benchmarks/bench_sim.py                       (full: about 10-20 min)
      .venv/bin/python benchmarks/bench_sim.py --days 30 --big-days 2 --table-days 14 --replications 3  (quick)

Prints three tables, everything on the SYNTHETIC regency:

1. speed: simulated calls per second for one replication of ``--days`` days on the default
   regency and ``--big-days`` on ``synthetic:100000``, for each policy, with and without
   ``dmexclp`` move-up (wall and CPU time include generating and preparing the calls, not
   building the model: that is paid once per study);
2. the peer: the project's earlier replay, :func:`geodispatch.assign.evaluate.simulate` (a full
   ``solve`` - one reverse Dijkstra per waiting incident - every 60 s; no hospitals, no move-up)
   on the same day of calls, against this simulator on those calls, with the ratio;
3. the policy table on the default regency: share of calls reached within 15 min (95% CI over
   ``--replications``), mean and p90 response for a normal period of ``--table-days`` days
   and for the same period with a daily evening surge (``--surge-factor`` x the calls from 17:00
   to 19:00).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
from _common import console, print_table

from geodispatch.scenario import load_scenario
from geodispatch.sim import POLICIES, build_model, call_source, simulate, simulate_replication
from geodispatch.sim.calls import CallTable

MOVE_UPS = ("none", "dmexclp")


def speed_rows(source: str, days: float, seed: int, policies: tuple[str, ...] = POLICIES) -> list[list[object]]:
    """One replication per policy x move-up: calls, wall and CPU time, calls per second of each.

    CPU time (this process) is the steadier figure on a shared machine: wall time there grows
    with the other processes' load.
    """
    sc = load_scenario(source)
    rows: list[list[object]] = []
    for move_up in MOVE_UPS:
        for policy in policies:
            t0 = time.perf_counter()
            model = build_model(sc, policy=policy, move_up=move_up)
            build_s = time.perf_counter() - t0
            src = call_source(model, sc, days=days)
            cpu = time.process_time()
            rep = simulate_replication(model, src, seed, 0)
            cpu = time.process_time() - cpu
            n = len(rep.calls)
            rows.append(
                [sc.name if not rows else "", policy, move_up, f"{n:,}", f"{build_s:.1f}", f"{rep.wall_s:.1f}",
                 f"{cpu:.1f}", f"{n / rep.wall_s:,.0f}", f"{n / cpu:,.0f}"]
            )  # fmt: skip
    return rows


def peer_rows(seed: int) -> list[list[object]]:
    """The earlier 60-s-cycle replay against this simulator on the same day of calls."""
    from geodispatch.assign import units_from_stations
    from geodispatch.assign.evaluate import DEFAULT_CALIBRATION as EVAL_CAL
    from geodispatch.assign.evaluate import incident_stream
    from geodispatch.assign.evaluate import simulate as replay

    sc = load_scenario("synthetic")
    stream = incident_stream(sc, hours=24.0, seed=seed, calibration=EVAL_CAL)
    calls = CallTable(
        id=[s.id for s in stream], time_s=[s.time_s for s in stream], type=[s.type for s in stream],
        priority=[s.priority for s in stream], lon=[s.lon for s in stream], lat=[s.lat for s in stream],
    )  # fmt: skip
    fleet = units_from_stations(sc.stations)
    rows: list[list[object]] = []
    for policy in POLICIES:
        t0 = time.perf_counter()
        replay(sc, fleet, stream, policy, seed=seed, calibration=EVAL_CAL)
        peer = time.perf_counter() - t0
        t0 = time.perf_counter()
        simulate(sc, calls, policy=policy, seed=seed)
        ours = time.perf_counter() - t0
        rows.append([policy, f"{len(stream):,}", f"{ours:.2f}", f"{peer:.2f}", f"{peer / ours:.1f}x"])
    return rows


def policy_rows(days: float, replications: int, surge_factor: float, seed: int) -> list[list[object]]:
    """Share within target (95% CI), mean and p90 response per policy x move-up, normal and surge."""
    sc = load_scenario("synthetic")
    rows: list[list[object]] = []
    for label, surge in (("normal", None), (f"surge x{surge_factor:g} 17-19 h", (17.0, 2.0, surge_factor))):
        for move_up in MOVE_UPS:
            for policy in POLICIES:
                if surge is None:
                    res = simulate(sc, days=days, policy=policy, move_up=move_up, replications=replications, seed=seed)
                else:
                    res = _daily_surge(sc, days, policy, move_up, replications, seed, surge)
                f = res.summary()["figures"]
                w, m, p90 = f["within_target"], f["mean_response_s"], f["p90_response_s"]
                ci = w["ci95"]
                rows.append(
                    [label, policy, move_up, f"{np.mean([len(r.calls) for r in res.replications]):,.0f}",
                     f"{100 * w['mean']:.1f}% ({100 * ci[0]:.1f}-{100 * ci[1]:.1f})",
                     f"{m['mean'] / 60:.1f}", f"{p90['mean'] / 60:.1f}", f"{f['relocations']['mean']:,.0f}"]
                )  # fmt: skip
    return rows


def _daily_surge(
    sc: Any, days: float, policy: str, move_up: str, replications: int, seed: int, surge: tuple[float, float, float]
) -> Any:
    """A surge every evening: the hour profile raised ``factor`` times in the surge hours, the
    other hours at the normal rate (the daily total grows accordingly)."""
    from dataclasses import replace

    from geodispatch.sim.calibration import DEFAULT_CALIBRATION as CAL

    start, hours, factor = surge
    hourly = np.asarray(CAL.hourly, dtype=float).copy()
    hourly[int(start) : int(start + hours)] *= factor
    base = CAL.calls_per_person_day * float(sc.population["population"].sum())
    per_day = base * float(hourly.sum() / np.asarray(CAL.hourly, dtype=float).sum())
    return simulate(sc, days=days, calls_per_day=per_day, policy=policy, move_up=move_up,
                    replications=replications, seed=seed, calibration=replace(CAL, hourly=hourly))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=float, default=365.0, help="days per replication, default regency (speed)")
    ap.add_argument("--big-days", type=float, default=7.0, help="days per replication on synthetic:100000 (0: skip)")
    ap.add_argument("--table-days", type=float, default=60.0, help="days per replication of the policy table")
    ap.add_argument("--replications", type=int, default=5)
    ap.add_argument("--surge-factor", type=float, default=6.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--policies", nargs="+", default=list(POLICIES), choices=POLICIES, help="speed table policies")
    ap.add_argument("--tables", nargs="+", default=["speed", "peer", "policies"], choices=["speed", "peer", "policies"])
    args = ap.parse_args()
    cols = ["scenario", "policy", "move-up", "calls", "model build (s)", "simulate (s)", "simulate CPU (s)",
            "calls / s", "calls / CPU s"]  # fmt: skip
    pol = tuple(args.policies)
    if "speed" in args.tables:
        console.print(f"load average {os.getloadavg()} on {os.cpu_count()} cores (a shared machine)")
        rows = speed_rows("synthetic", args.days, args.seed, pol)
        if args.big_days > 0:
            rows += speed_rows("synthetic:100000", args.big_days, args.seed, pol)
        print_table("Simulation speed (one replication, SYNTHETIC regencies)", cols, rows)
        console.print(f"load average {os.getloadavg()}")
    if "peer" in args.tables:
        print_table(
            "Same day of calls: this simulator vs assign.evaluate's 60 s replay (Dijkstra per decision)",
            ["policy", "calls", "sim (s)", "evaluate (s)", "ratio"],
            peer_rows(args.seed),
        )
    if "policies" in args.tables:
        print_table(
            f"Policies on the SYNTHETIC default regency: {args.table_days:g} days x {args.replications} replications",
            ["period", "policy", "move-up", "calls / repl.", "within 15 min (95% CI)", "mean (min)", "p90 (min)",
             "relocations"],
            policy_rows(args.table_days, args.replications, args.surge_factor, args.seed),
        )  # fmt: skip


if __name__ == "__main__":
    main()

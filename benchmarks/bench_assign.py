"""Dispatch engine benchmark: recommendation latency, batch optimisation, policy comparison.

Run:  .venv/bin/python benchmarks/bench_assign.py            (about 100k nodes, 200 units)
      .venv/bin/python benchmarks/bench_assign.py --nodes 3000 --units 31 --nx-incidents 2   (quick)

Prints four tables:

1. single-incident ``recommend`` latency (p50/p95/max over many incidents) on a warm engine,
   with and without the coverage tie-break, against computing every unit's ETA with one
   networkx reverse Dijkstra to the incident (one ``single_source_dijkstra_path_length`` on the
   reversed graph gives every unit), with the ratio;
   ETAs of both are checked equal;
2. a batch of 20 simultaneous incidents solved to optimality (min-cost flow), with an
   independent sequential CP-SAT solve of the same instance as a check;
3. the evaluation harness on one seeded day for the three policies, normal and with a surge;
4. the same on the small default regency over several seeds (mean of the per-seed figures).

Everything runs on the SYNTHETIC regency.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import networkx as nx
import numpy as np
from rich.console import Console
from rich.table import Table

from geodispatch.assign import Incident, Unit, recommend, units_from_stations
from geodispatch.assign.eta import EtaEngine, incident_etas, snap_incident, snap_units
from geodispatch.assign.evaluate import evaluate, incident_stream
from geodispatch.assign.optimize import objective, solve_lexicographic_cpsat, solve_optimal, unfilled_penalty_s
from geodispatch.assign.recommend import solve
from geodispatch.inputs.calibration import DEFAULT_CALIBRATION, calibrate
from geodispatch.scenario import load_scenario

SF_CALLS = Path(__file__).resolve().parents[2] / "shared" / "data" / "incidents" / (
    "sf_fire_calls_2016-12-31_to_2017-01-07.csv"
)
NOW = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)
console = Console(width=200)


def pick_fleet(units: list[Unit], n: int, seed: int = 0) -> list[Unit]:
    """Every unit of the rare types, then ambulances and police sampled to ``n`` in proportion."""
    rare = [u for u in units if u.type not in ("ambulance", "polisi")]
    common = [u for u in units if u.type in ("ambulance", "polisi")]
    if len(units) <= n:
        return units
    rng = np.random.default_rng(seed)
    take = rng.choice(len(common), size=max(n - len(rare), 0), replace=False)
    return rare + [common[i] for i in sorted(take)]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--units", type=int, default=200)
    ap.add_argument("--incidents", type=int, default=300, help="incidents for the latency table")
    ap.add_argument("--nx-incidents", type=int, default=3, help="incidents timed with the networkx reverse search")
    ap.add_argument("--calls-per-day", type=float, default=400.0)
    ap.add_argument("--small-seeds", type=int, default=5)
    args = ap.parse_args()

    t0 = time.perf_counter()
    sc = load_scenario(f"synthetic:{args.nodes}")
    net = sc.network
    fleet = pick_fleet(units_from_stations(sc.stations), args.units)
    console.print(
        f"{net.label}: {net.n_nodes:,} nodes, {net.n_edges:,} edges, {len(sc.stations)} stations; fleet "
        f"{len(fleet)} units {dict(Counter(u.type for u in fleet))}; built in {time.perf_counter() - t0:.1f} s"
    )
    cal = calibrate(SF_CALLS) if SF_CALLS.exists() else DEFAULT_CALIBRATION
    console.print(f"calibration: {cal.source}")

    # ------------------------------------------------------------------ incidents for latency
    stream = incident_stream(sc, hours=24 * 30, calls_per_day=args.incidents / 30, seed=11, calibration=cal)
    incs = [Incident(s.id, s.type, s.priority, s.lon, s.lat, reported_time=NOW) for s in stream[: args.incidents]]

    t = time.perf_counter()
    recommend(net, fleet, incs[0], now=NOW)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    engine = EtaEngine(net)  # what the API server holds: snaps, recent searches, coverage indexes
    index = engine.coverage_index(sc.population, sc.target_response_s)
    index.prepare([u.home_lon for u in fleet], [u.home_lat for u in fleet])
    prep = time.perf_counter() - t

    lat_plain, lat_cov, lat_again, limits = [], [], [], []
    for inc in incs:
        engine.forget_searches()  # a new incident: no cached search
        t = time.perf_counter()
        rec = recommend(net, fleet, inc, now=NOW, target_s=sc.target_response_s, engine=engine)
        lat_plain.append(time.perf_counter() - t)
        limits.append(rec.search_limit_s)
        engine.forget_searches()
        t = time.perf_counter()
        recommend(net, fleet, inc, now=NOW, population=sc.population, target_s=sc.target_response_s, engine=engine)
        lat_cov.append(time.perf_counter() - t)
        t = time.perf_counter()  # the dispatcher asks again for the same call (search cached)
        recommend(net, fleet, inc, now=NOW, population=sc.population, target_s=sc.target_response_s, engine=engine)
        lat_again.append(time.perf_counter() - t)

    # ETAs of all units (unbounded, exact) and the networkx reference (one reverse search)
    g = nx.DiGraph()
    t = time.perf_counter()
    for a, b, d in net.to_networkx().edges(data=True):
        if not g.has_edge(a, b) or g[a][b]["travel_time"] > d["travel_time"]:
            g.add_edge(a, b, travel_time=d["travel_time"])
    reverse = g.reverse(copy=False)
    nx_build = time.perf_counter() - t
    unit_nodes, _ = net.nearest_nodes([u.lon for u in fleet], [u.lat for u in fleet])
    usn = snap_units(net, np.asarray([u.lon for u in fleet]), np.asarray([u.lat for u in fleet]), engine=engine)
    ours_all, nx_times, worst = [], [], 0.0
    for inc in incs[: args.nx_incidents]:
        node, _ = net.nearest_nodes([inc.lon], [inc.lat])
        lon, lat = float(net.lon[node[0]]), float(net.lat[node[0]])  # on a junction, so both agree exactly
        engine.forget_searches()
        t = time.perf_counter()
        res = incident_etas(net, snap_incident(net, lon, lat), usn, math.inf, engine=engine)
        ours_all.append(time.perf_counter() - t)
        target_id = int(net.node_ids[node[0]])
        t = time.perf_counter()  # the fair networkx baseline: one reverse search to the incident, all units
        to_target = nx.single_source_dijkstra_path_length(reverse, target_id, weight="travel_time")
        ref = [to_target.get(int(net.node_ids[un]), math.inf) for un in unit_nodes]
        nx_times.append(time.perf_counter() - t)
        both = np.isfinite(ref) | np.isfinite(res.eta_s)
        worst = max(worst, float(np.max(np.abs(np.asarray(ref)[both] - res.eta_s[both]), initial=0.0)))

    tab = Table(title=f"1. Single-incident recommendation, {net.n_nodes:,} nodes, {len(fleet)} units (ms)")
    for c in ("method", "p50", "p95", "max", "n"):
        tab.add_column(c, justify="left" if c == "method" else "right")
    tab.add_row(
        "recommend (bounded search, no tie-break)",
        *(f"{pct(lat_plain, q) * 1e3:.1f}" for q in (50, 95, 100)),
        str(len(lat_plain)),
    )
    tab.add_row(
        "recommend + coverage tie-break", *(f"{pct(lat_cov, q) * 1e3:.1f}" for q in (50, 95, 100)), str(len(lat_cov))
    )
    tab.add_row(
        "the same call asked again (search cached)",
        *(f"{pct(lat_again, q) * 1e3:.1f}" for q in (50, 95, 100)),
        str(len(lat_again)),
    )
    tab.add_row(
        f"all {len(fleet)} ETAs, one unbounded reverse search",
        *(f"{pct(ours_all, q) * 1e3:.1f}" for q in (50, 95, 100)),
        str(len(ours_all)),
    )
    tab.add_row(
        "networkx, one reverse single_source_dijkstra_path_length (all units)",
        *(f"{pct(nx_times, q) * 1e3:.0f}" for q in (50, 95, 100)),
        str(len(nx_times)),
    )
    console.print(tab)
    used = Counter("unbounded" if math.isinf(x) else f"{x / 60:.0f} min" for x in limits)
    console.print(
        f"ratio networkx reverse search / recommend p50: "
        f"{statistics.median(nx_times) / statistics.median(lat_plain):,.0f}x; "
        f"/ unbounded all-unit search: {statistics.median(nx_times) / statistics.median(ours_all):,.0f}x; "
        f"max |ETA difference| vs networkx {worst:.2e} s. First call (cold unit snaps) {cold * 1e3:.0f} ms; "
        f"coverage reach sets for {len(fleet)} bases {prep:.1f} s once; networkx graph build {nx_build:.1f} s. "
        f"Search bounds used: {dict(used)}"
    )

    # ------------------------------------------------------------------ batch of 20
    batch = [Incident(s.id, s.type, s.priority, s.lon, s.lat, reported_time=NOW) for s in stream[-20:]]
    t = time.perf_counter()
    sol = solve(net, fleet, batch, policy="optimal", target_s=sc.target_response_s, now=NOW)
    total = time.perf_counter() - t
    t = time.perf_counter()
    flow = solve_optimal(sol.slots, sol.eta, sol.fits, sc.target_response_s)
    flow_s = time.perf_counter() - t
    t = time.perf_counter()
    cp = solve_lexicographic_cpsat(sol.slots, sol.eta, sol.fits, sc.target_response_s)
    cp_s = time.perf_counter() - t
    pen = unfilled_penalty_s(np.where(sol.fits, sol.eta[[s.incident_index for s in sol.slots]], np.inf))
    o_flow = objective(sol.slots, flow, sol.eta, sc.target_response_s, pen)
    o_cp = objective(sol.slots, cp, sol.eta, sc.target_response_s, pen)
    greedy = solve(net, fleet, batch, policy="closest", target_s=sc.target_response_s, now=NOW)
    o_gr = objective(greedy.slots, greedy.choice, greedy.eta, sc.target_response_s, pen)
    tab = Table(
        title=f"2. Batch of {len(batch)} simultaneous incidents ({len(sol.slots)} unit slots, {len(fleet)} units)"
    )
    for c in ("solver", "time (ms)", "P1 slots filled", "slots within target", "weighted ETA sum (s)"):
        tab.add_column(c, justify="left" if c == "solver" else "right")
    tab.add_row(
        "assign(policy='optimal') end to end (20 searches + solve)",
        f"{total * 1e3:.0f}",
        str(o_flow[0]),
        str(o_flow[1]),
        f"{-o_flow[2]:,.0f}",
    )
    tab.add_row(
        "min-cost flow solve only (OR-Tools)",
        f"{flow_s * 1e3:.1f}",
        str(o_flow[0]),
        str(o_flow[1]),
        f"{-o_flow[2]:,.0f}",
    )
    tab.add_row(
        "sequential lexicographic CP-SAT (check)", f"{cp_s * 1e3:.0f}", str(o_cp[0]), str(o_cp[1]), f"{-o_cp[2]:,.0f}"
    )
    tab.add_row("closest (greedy, arrival order)", "-", str(o_gr[0]), str(o_gr[1]), f"{-o_gr[2]:,.0f}")
    console.print(tab)

    # ------------------------------------------------------------------ policies on one day
    for label, surge in (("normal day", None), ("day with a surge x6 17:00-19:00", (17.0, 2.0, 6.0))):
        ev = evaluate(sc, units=fleet, calls_per_day=args.calls_per_day, seed=1, calibration=cal, surge=surge)
        console.print(
            policy_table(f"3. Policies, {net.n_nodes:,}-node regency, {label}: {ev.stream_size} incidents", ev.table())
        )

    # ------------------------------------------------------------------ small regency, several seeds
    small = load_scenario("synthetic")
    rows: dict[str, list[dict]] = {}
    for seed in range(args.small_seeds):
        ev = evaluate(small, calls_per_day=60, seed=seed, calibration=cal, surge=(17.0, 2.0, 8.0))
        for row in ev.table():
            rows.setdefault(row["policy"], []).append(row)
    mean_rows = [
        {"policy": p, **{k: float(np.nanmean([r[k] for r in rs])) for k in rs[0] if k != "policy"}}
        for p, rs in rows.items()
    ]
    console.print(
        policy_table(
            f"4. Policies, default {small.network.n_nodes:,}-node regency "
            f"({sum(len(s.units) for s in small.stations)} units), "
            f"60 calls/day with a x8 surge 17:00-19:00, mean over {args.small_seeds} seeds",
            mean_rows,
        )
    )


def policy_table(title: str, rows: list[dict]) -> Table:
    tab = Table(title=title)
    cols = [
        ("policy", "policy"), ("incidents", "incidents"), ("within_target", "first unit <=15 min"),
        ("p1_within_target", "P1 <=15 min"), ("units_within_target", "units <=15 min"),
        ("mean_response_s", "mean (min)"), ("p90_response_s", "p90 (min)"), ("p1_mean_response_s", "P1 mean (min)"),
        ("unmet_units", "unmet units"), ("no_unit_incidents", "no unit"), ("wall_s", "sim (s)"),
    ]  # fmt: skip
    for _, head in cols:
        tab.add_column(head, justify="left" if head == "policy" else "right")
    for r in rows:
        cells = []
        for key, _ in cols:
            v = r[key]
            if key == "policy":
                cells.append(str(v))
            elif key.endswith("within_target"):
                cells.append(f"{v:.1%}")
            elif key.endswith("_s") and key != "wall_s":
                cells.append(f"{v / 60:.1f}")
            elif key == "wall_s":
                cells.append(f"{v:.1f}")
            else:
                cells.append(f"{v:.1f}" if isinstance(v, float) and not float(v).is_integer() else f"{int(v)}")
        tab.add_row(*cells)
    return tab


if __name__ == "__main__":
    main()

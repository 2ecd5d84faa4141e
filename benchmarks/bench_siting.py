"""Siting benchmark: OR-Library p-median optima, spopt comparison, MCLP on a large regency.

(a) every ``pmedN.txt`` found in ``../shared/data/benchmarks/pmed``: our p-median objective
    vs the known optimum (optima.csv), status, proven gap and wall time, and our p-center
    radius vs pcenter_optima.csv, with a time limit per instance and model (``--limit``,
    default 60 s). "cands" = candidates left after the Lagrangian reduction.
(b) the same cost matrices with spopt (``PMedian.from_cost_matrix`` / ``MCLP.from_cost_matrix``
    solved by PuLP/CBC) in the same run: objective, time and time ratio. spopt builds the
    textbook x_ij formulation (it needed 206 s for pmed6 here), so it runs only on instances
    with n <= ``--spopt-max-n`` (default 100) and with the same time limit. MCLP threshold
    per instance = half the known p-center optimum (pcenter_optima.csv), rounded down, so
    that p sites cannot cover everyone.
(c) MCLP on the synthetic regency ``synthetic:100000`` with 2,000 grid candidate nodes, 1M
    population points and the existing ambulance posts fixed (``--large``): generation,
    inputs (snapping, aggregation, bounded forward travel times) and solve times.

Run: ``.venv/bin/python benchmarks/bench_siting.py [--instances pmed1,pmed6] [--limit 60]
[--spopt-max-n 100] [--no-spopt] [--large]``
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, console, print_table

from geodispatch.siting import mclp, p_center, p_median, read_orlib_pmed

PMED = SHARED_DATA / "benchmarks" / "pmed"


def _optima(name: str, column: str) -> dict[str, float]:
    path = PMED / name
    if not path.exists():
        return {}
    with path.open() as fh:
        return {row["instance"]: float(row[column]) for row in csv.DictReader(fh)}


def _spopt_p_median(cost: np.ndarray, p: int, limit: float) -> tuple[float, float, str]:
    import pulp
    from spopt.locate import PMedian

    start = time.perf_counter()
    model = PMedian.from_cost_matrix(cost.T, np.ones(cost.shape[1]), p)
    model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=limit))
    elapsed = time.perf_counter() - start
    open_sites = [i for i, v in enumerate(model.fac_vars) if (v.value() or 0) > 0.5]
    value = float(cost[open_sites].min(axis=0).sum()) if open_sites else math.nan
    return value, elapsed, pulp.LpStatus[model.problem.status]


def _spopt_mclp(cost: np.ndarray, p: int, radius: float, limit: float) -> tuple[float, float]:
    import pulp
    from spopt.locate import MCLP

    start = time.perf_counter()
    model = MCLP.from_cost_matrix(cost.T, np.ones(cost.shape[1]), radius, p)
    model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=limit))
    elapsed = time.perf_counter() - start
    open_sites = [i for i, v in enumerate(model.fac_vars) if (v.value() or 0) > 0.5]
    value = float((cost[open_sites].min(axis=0) <= radius).sum()) if open_sites else math.nan
    return value, elapsed


def run_pmed(names: list[str], limit: float, spopt_max_n: int, use_spopt: bool) -> None:
    optima = _optima("optima.csv", "optimum")
    centers = _optima("pcenter_optima.csv", "pcenter_optimum")
    rows_a: list[list[object]] = []
    rows_b: list[list[object]] = []
    total_a = 0.0
    for name in names:
        cost, p = read_orlib_pmed(PMED / f"{name}.txt")
        n = cost.shape[0]
        res = p_median(cost, p, time_limit_s=limit)
        total_a += res.solve_time_s
        known = optima.get(name, math.nan)
        rows_a.append(
            [
                name,
                n,
                p,
                f"{known:.0f}",
                f"{res.objective:.0f}",
                "yes" if res.objective == known else "NO",
                res.status,
                f"{100 * res.gap:.2f}%",
                f"{res.solve_time_s:.2f}",
                res.stats.get("candidates_after_reduction", n),
            ]
        )
        console.print(f"[dim]{name}: {res.summary()}[/dim]")
        pc = p_center(cost, p, time_limit_s=limit)
        total_a += pc.solve_time_s
        known_c = centers.get(name, math.nan)
        rows_a[-1] += [
            f"{known_c:.0f}",
            f"{pc.objective:.0f}",
            "yes" if pc.objective == known_c else "NO",
            pc.status,
            f"{pc.solve_time_s:.2f}",
        ]
        if use_spopt and n <= spopt_max_n:
            s_val, s_time, s_status = _spopt_p_median(cost, p, limit)
            rows_b.append(
                [
                    name,
                    "p-median",
                    f"{res.objective:.0f}",
                    f"{res.solve_time_s:.2f}",
                    f"{s_val:.0f}",
                    s_status,
                    f"{s_time:.2f}",
                    f"{s_time / res.solve_time_s:.1f}x",
                ]
            )
            radius = math.floor(0.5 * centers.get(name, float(np.median(cost))))
            ours = mclp(cost, p, radius, time_limit_s=limit)
            m_val, m_time = _spopt_mclp(cost, p, radius, limit)
            rows_b.append(
                [
                    name,
                    f"MCLP r={radius}",
                    f"{ours.objective:.0f}",
                    f"{ours.solve_time_s:.2f}",
                    f"{m_val:.0f}",
                    "",
                    f"{m_time:.2f}",
                    f"{m_time / ours.solve_time_s:.1f}x",
                ]
            )
    print_table(
        f"(a) OR-Library p-median and p-center, time limit {limit:g} s per instance and model "
        f"(total {total_a:.1f} s)",
        [
            "instance", "n", "p", "p-median opt", "ours", "= opt", "status", "gap", "time s",
            "cands", "p-center opt", "ours", "= opt", "status", "time s",
        ],
        rows_a,
    )
    if rows_b:
        print_table(
            "(b) same matrices with spopt (PuLP/CBC); ratio = spopt time / our time",
            ["instance", "model", "ours", "ours s", "spopt", "spopt status", "spopt s", "ratio"],
            rows_b,
        )


def run_large(n_nodes: int, n_candidates: int, n_points: int, limit: float) -> None:
    from geodispatch.siting.inputs import build_siting_problem
    from geodispatch.synthetic import synthetic_regency

    start = time.perf_counter()
    regency = synthetic_regency(n_nodes=n_nodes, n_population_points=n_points)
    gen_s = time.perf_counter() - start
    start = time.perf_counter()
    problem = build_siting_problem(
        regency.network,
        regency.population,
        regency.stations,
        service="ambulance",
        n_candidates=n_candidates,
        bound_s=900.0,
    )
    inputs_s = time.perf_counter() - start
    res = mclp(problem.cost, 3, 900.0, problem.weight, fixed=problem.fixed, time_limit_s=limit)
    table = res.marginal_gain
    n_new = len(problem.cand_node) - len(problem.fixed)
    print_table(
        f"(c) MCLP on synthetic:{n_nodes} (SYNTHETIC), 3 new ambulance posts, 15 min, "
        f"time limit {limit:g} s",
        ["figure", "value"],
        [
            ["road nodes / edges", f"{regency.network.n_nodes:,} / {regency.network.n_edges:,}"],
            ["population points / people", f"{len(regency.population):,} / "
             f"{regency.population['population'].sum():,.0f}"],
            ["generate regency s", f"{gen_s:.1f}"],
            ["demand rows (people merged per spot on the road)", f"{problem.weight.size:,}"],
            ["existing posts (fixed) / new candidates", f"{len(problem.fixed)} / {n_new:,}"],
            ["pairs within 15 min (matrix nnz)", f"{problem.cost.nnz:,}"],
            ["inputs s (snap, grid, bounded travel times)", f"{inputs_s:.1f}"],
            ["MCLP rows after merging equal cover sets", f"{res.stats['demand_rows']:,}"],
            ["covered today", f"{table['covered_weight'].iloc[0]:,.0f} "
             f"({100 * table['covered_share'].iloc[0]:.2f}%)"],
            ["covered with 3 new posts", f"{res.objective:,.0f} "
             f"({100 * table['covered_share'].iloc[-1]:.2f}%)"],
            ["status / proven gap", f"{res.status} / {100 * res.gap:.4f}%"],
            ["MCLP solve s (reductions + HiGHS)", f"{res.solve_time_s:.1f}"],
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", default="", help="comma list, e.g. pmed1,pmed6")
    parser.add_argument("--limit", type=float, default=60.0, help="seconds per instance")
    parser.add_argument("--spopt-max-n", type=int, default=100)
    parser.add_argument("--no-spopt", action="store_true")
    parser.add_argument("--large", action="store_true", help="run (c) on synthetic:100000")
    parser.add_argument("--large-nodes", type=int, default=100_000)
    parser.add_argument("--skip-pmed", action="store_true")
    args = parser.parse_args()
    if not args.skip_pmed:
        if not PMED.exists():
            console.print(f"no OR-Library data at {PMED}; skipping (a) and (b)")
        else:
            found = sorted(
                (p.stem for p in PMED.glob("pmed*.txt") if re.fullmatch(r"pmed\d+", p.stem)),
                key=lambda s: int(s[4:]),
            )
            names = [s for s in args.instances.split(",") if s] or found
            run_pmed(names, args.limit, args.spopt_max_n, not args.no_spopt)
    if args.large:
        run_large(args.large_nodes, 2000, 1_000_000, args.limit)


if __name__ == "__main__":
    main()

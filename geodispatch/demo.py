"""``geodispatch demo``: the planner's and dispatcher's walkthrough on one scenario.

Runs offline on the synthetic regency by default: a network summary, the travel times from its
stations, then each stage's part (coverage map and table, a dispatch recommendation, a siting
run) printed to the console.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from geodispatch.cli_tables import coverage_table, gain_table
from geodispatch.network.sea import crossing_label
from geodispatch.network.traveltime import point_travel_times
from geodispatch.scenario import Scenario, load_scenario


def station_traveltime_table(scenario: Scenario, limit_s: float) -> Table:
    """Per station type: stations, nodes first reached within the limit, median and slowest time.

    The search is unbounded, so the median and the slowest node are over every node a station
    of the type reaches at all (a bounded search would always report the limit as its maximum).
    """
    net = scenario.network
    table = Table(title=f"Travel times from stations, limit {limit_s / 60:g} min")
    cols = ("station type", "stations", "nodes within limit", "share", "median (min)", "slowest reached (min)")
    for col in cols:
        table.add_column(col, justify="right" if col != "station type" else "left")
    off_road: list[str] = []
    for stype in sorted({s.type for s in scenario.stations}):
        group = [s for s in scenario.stations if s.type == stype]
        snap = net.snap([s.lon for s in group], [s.lat for s in group], strict=False)
        off = [s.id for s, e in zip(group, snap.edge, strict=True) if e < 0]
        off_road += off
        _, time_s = point_travel_times(net, snap, min_only=True)
        reached = time_s[np.isfinite(time_s)]
        within = int((reached <= limit_s).sum())
        table.add_row(
            stype,
            f"{len(group)} ({len(off)} off road, not timed)" if off else str(len(group)),
            f"{within:,}",
            f"{within / net.n_nodes:.0%}",
            f"{np.median(reached) / 60:.1f}" if len(reached) else "-",
            f"{reached.max() / 60:.1f}" if len(reached) else "-",
        )
    if off_road:
        table.caption = f"not timed: {', '.join(off_road)} (too far from any road to snap)"
    return table


def sea_table(report: Any) -> Table | None:
    """Per service: the people whose fastest route crosses the sea, their times, and who is covered
    in time only thanks to the boat (None when the network has no ferry or sea link)."""
    net = report.network
    pop = report.population
    if not net.has_sea or pop is None or not len(pop):
        return None
    sea = np.flatnonzero(net.is_sea_edge)
    names = ", ".join(  # each crossing once (one of its two directions)
        f"{crossing_label(net, e)} ({net.edge_time_s[e] / 60:.0f} min crossing)"
        for e in sea[net.edge_u[sea] < net.edge_v[sea]].tolist()
    )
    last = report.minutes[-1]
    table = Table(title=f"Across the sea: {names}")
    for col in ("service", "people reached by boat", "median (min)", f"covered within {last:g} min only by boat"):
        table.add_column(col, justify="left" if col == "service" else "right")
    for service, info in report.summary["services"].items():
        column = f"via_sea_{service}"
        if column not in pop:
            continue
        by_boat = pop[column].to_numpy(dtype=bool)
        people = pop["population"].to_numpy()[by_boat]
        times = pop[f"time_s_{service}"].to_numpy()[by_boat]
        median = float(np.median(times)) / 60 if len(times) else float("nan")
        only = (info.get("population") or {}).get("covered_by_sea", {}).get(f"{last:g}", 0.0)
        table.add_row(service, f"{people.sum():,.0f}", f"{median:.0f}" if len(times) else "-", f"{only:,.0f}")
    return table


def run_demo(source: str, out: Path, console: Console) -> None:
    """Run the walkthrough and print each part.

    Parameters
    ----------
    source : str
        Scenario source (default ``synthetic``).
    out : Path
        Directory for the coverage outputs (map, tables).
    console : rich.console.Console
        Where to print.
    """
    with console.status(f"loading {source}"):
        scenario = load_scenario(source)
    summary = scenario.network.summary()
    table = Table(title=f"Road network: {scenario.name}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in ("nodes", "edges", "road_km", "components", "largest_component_nodes", "maxspeed_share", "crs"):
        table.add_row(key, str(summary[key]))
    console.print(table)
    if scenario.synthetic:
        console.print("[yellow]All figures below are for the SYNTHETIC regency, not a real place.[/yellow]")
    if not scenario.stations:
        console.print("no stations in this scenario; pass a region with stations or use the synthetic regency")
        return
    console.print(station_traveltime_table(scenario, scenario.target_response_s))

    from geodispatch.coverage import run_coverage

    with console.status("coverage: isochrones, desa table, maps") as status:
        report = run_coverage(
            scenario,
            minutes=(5.0, 10.0, 15.0),
            station_types="ambulance,damkar",
            combined=True,
            out_dir=out / "coverage",
            progress=lambda msg: status.update(f"coverage: {msg}"),
        )
    console.print(coverage_table(report, scenario.lang))
    crossings = sea_table(report)
    if crossings is not None:
        console.print(crossings)
    console.print(f"coverage map: {out / 'coverage' / 'map.html'} (PNG for reports: {out / 'coverage' / 'map.png'})")

    from geodispatch.assign import demo_lines

    for line in demo_lines(scenario):
        console.print(line, markup=False, highlight=False)

    demo_siting(scenario, out / "siting", console)


def demo_siting(scenario: Scenario, out: Path, console: Console, new_posts: int = 3) -> None:
    """The siting part of the demo: MCLP for ``new_posts`` ambulance posts, files and table.

    Prints a message instead when the scenario has no population or stations.
    """
    from geodispatch.siting.files import write_siting_outputs
    from geodispatch.siting.inputs import build_siting_problem
    from geodispatch.siting.run import solve_problem

    if scenario.population is None or not scenario.stations:
        console.print("siting: this scenario has no population or stations; skipped")
        return
    threshold_s = float(scenario.target_response_s)
    problem = build_siting_problem(
        scenario.network, scenario.population, scenario.stations, bound_s=threshold_s
    )
    result = solve_problem(problem, "mclp", new_posts, threshold_s)
    title = f"{scenario.name}: where to put {new_posts} new PSC 119 posts (MCLP)"
    table = write_siting_outputs(problem, result, out, threshold_s, title, region=scenario.name,
                                 areas=scenario.areas, lang=scenario.lang)
    console.print(
        gain_table(f"{title}, {result.status}, gap {100 * result.gap:.2g}%", table, threshold_s, scenario.lang)
    )
    console.print(f"siting maps and tables: {out}")

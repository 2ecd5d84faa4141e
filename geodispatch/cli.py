"""The ``geodispatch`` command line (typer). Thin: parse, call the library, print.

Every :class:`~geodispatch.errors.GeodispatchError` is printed on one line and exits with code 2;
no traceback reaches the user for bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from geodispatch.errors import GeodispatchError, InputError

app = typer.Typer(
    help="geodispatch: 15-minute coverage, dispatch and siting for Indonesian emergency services (112 / PSC 119).",
    pretty_exceptions_enable=False,
    add_completion=False,
)
network_app = typer.Typer(help="Build and inspect road networks.", no_args_is_help=True)
app.add_typer(network_app, name="network")
keys_app = typer.Typer(help="API keys of the dispatch server.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
batch_app = typer.Typer(help="Many regions at once on a Dask cluster (local or remote).", no_args_is_help=True)
app.add_typer(batch_app, name="batch")
audit_app = typer.Typer(help="The dispatch server's audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")

console = Console()
err_console = Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        from geodispatch import __version__

        typer.echo(f"geodispatch {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Bare ``geodispatch`` prints the help and exits 0."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit()


LangOption = Annotated[
    str | None,
    typer.Option("--lang", help="Language of tables and maps: id (Bahasa Indonesia) or en; default id for a region."),
]

MinutesListOption = Annotated[
    list[float] | None, typer.Option("--minutes", help="Threshold, minutes (repeat; default 5, 10, 15)."),
]

StationTypesOption = Annotated[
    str, typer.Option("--station-types", help="Comma-separated services or station types."),
]

CombinedOption = Annotated[
    bool, typer.Option("--combined", help="Covered only when every listed type reaches in time."),
]

OffroadOption = Annotated[
    float, typer.Option("--offroad-m", help="Off-road buffer of the isochrones, metres."),
]

StationsOption = Annotated[
    Path | None, typer.Option("--stations", help="Stations CSV/GeoJSON (id,type,lon,lat)."),
]

PopulationColumnOption = Annotated[
    str | None, typer.Option("--population-column", help="Column of people in the population file."),
]

SourceArg = Annotated[
    str,
    typer.Argument(
        help="Region slug (bantaeng), 'synthetic[:N]', OSM place query, or a .graphml/.osm/.osm.pbf/.npz file."
    ),
]
SeaLinksOption = Annotated[
    Path | None,
    typer.Option(
        "--sea-links",
        help="Sea links (speedboats) CSV: from_lon,from_lat,to_lon,to_lat,speed_kph,boarding_min[,name][,hours].",
    ),
]
NoFerriesOption = Annotated[
    bool, typer.Option("--no-ferries", help="Road-only network: no OSM ferries, no sea links of the source.")
]


def _sea(no_ferries: bool, sea_links: Path | None) -> dict[str, Any]:
    """Network options of ``--no-ferries`` / ``--sea-links`` for load_network / load_scenario."""
    return {"ferries": not no_ferries, "sea_links": sea_links}


def _progress(message: str) -> Any:
    """A spinner on stderr for long work (silent when not a terminal)."""
    return err_console.status(message, spinner="dots")


def _parse_point(text: str, option: str = "--from") -> tuple[float, float]:
    """Parse ``LON,LAT`` (the value of ``option``) into floats."""
    parts = text.split(",")
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError as exc:
        raise InputError(f"{option} expects LON,LAT in degrees (e.g. 119.95,-5.54), got {text!r}") from exc
    return lon, lat


@network_app.command("info")
def network_info(
    source: SourceArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    sea_links: SeaLinksOption = None,
    no_ferries: NoFerriesOption = False,
) -> None:
    """Nodes, edges, km of road, components, bbox, maxspeed coverage and sea crossings of a network."""
    from geodispatch.scenario import load_network

    with _progress(f"loading {source}"):
        net = load_network(source, **_sea(no_ferries, sea_links))
    info = net.summary()
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    table = Table(title=f"Road network: {net.label}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in info.items():
        table.add_row(key, str(value))
    console.print(table)


@network_app.command("build")
def network_build(
    source: SourceArg,
    out: Annotated[Path, typer.Option("--out", help="Output .npz file (fast reload with load_network).")],
    sea_links: SeaLinksOption = None,
    no_ferries: NoFerriesOption = False,
) -> None:
    """Load a network from any source and save its arrays (sea crossings included) for fast reloading."""
    from geodispatch.scenario import load_network

    with _progress(f"loading {source}"):
        net = load_network(source, **_sea(no_ferries, sea_links))
    path = net.save(out)
    console.print(f"wrote {path} ({net.n_nodes:,} nodes, {net.n_edges:,} edges)")


@app.command("traveltime")
def traveltime(
    source: SourceArg,
    from_: Annotated[list[str], typer.Option("--from", help="Start point LON,LAT (repeat for several).")],
    minutes: Annotated[float, typer.Option("--minutes", help="Time limit, minutes.")] = 15.0,
    out: Annotated[Path | None, typer.Option("--out", help="CSV of reached nodes.")] = None,
    sea_links: SeaLinksOption = None,
    no_ferries: NoFerriesOption = False,
) -> None:
    """Travel times from one or more points to every node within a time limit (across the sea too)."""
    from geodispatch.network import point_travel_times
    from geodispatch.output import write_csv
    from geodispatch.scenario import load_network

    if not np.isfinite(minutes) or minutes < 0:
        raise InputError(f"--minutes must be a non-negative number, got {minutes}")
    points = [_parse_point(p) for p in from_]
    with _progress(f"loading {source}"):
        net = load_network(source, **_sea(no_ferries, sea_links))
    snap = net.snap([p[0] for p in points], [p[1] for p in points])
    which, time_s = point_travel_times(net, snap, limit=minutes * 60.0, min_only=True)
    reached = np.flatnonzero(np.isfinite(time_s))
    if out is not None:
        import pandas as pd

        frame = pd.DataFrame(
            {
                "node_id": net.node_ids[reached],
                "lon": net.lon[reached],
                "lat": net.lat[reached],
                "travel_time_s": np.round(time_s[reached], 3),
                "from_index": which[reached],
            }
        )
        write_csv(frame, out)
    table = Table(title=f"Travel times on {net.label}, limit {minutes:g} min")
    table.add_column("from (lon,lat)")
    table.add_column("snap distance (m)", justify="right")
    table.add_column("nodes reached first", justify="right")
    for i, (lon, lat) in enumerate(points):
        table.add_row(f"{lon:.5f},{lat:.5f}", f"{snap.distance_m[i]:.0f}", f"{int((which == i).sum()):,}")
    console.print(table)
    console.print(
        f"{len(reached):,} of {net.n_nodes:,} nodes reachable within {minutes:g} min"
        + (f"; wrote {out}" if out else "")
    )


@app.command("demo")
def demo(
    source: Annotated[str, typer.Argument(help="Region or source; default: the synthetic regency.")] = "synthetic",
    out: Annotated[Path, typer.Option("--out", help="Directory for the coverage outputs.")] = Path("demo-out"),
) -> None:
    """Run the planner and dispatcher walkthrough on the synthetic regency (no network needed)."""
    from geodispatch.demo import run_demo

    run_demo(source, out, console)


@app.command("coverage")
def coverage(
    source: SourceArg,
    out: Annotated[Path, typer.Option("--out", help="Output directory (written atomically).")],
    minutes: MinutesListOption = None,
    station_types: StationTypesOption = "ambulance,damkar",
    stations: StationsOption = None,
    population: Annotated[
        Path | None, typer.Option("--population", help="Population CSV (lon,lat,population), GeoJSON/GPKG, GeoTIFF.")
    ] = None,
    areas: Annotated[Path | None, typer.Option("--areas", help="Desa/kecamatan polygons with a name column.")] = None,
    population_column: PopulationColumnOption = None,
    area_name_column: Annotated[
        str | None, typer.Option("--area-name-column", help="Column of area names in the areas file.")
    ] = None,
    kecamatan: Annotated[
        Path | None, typer.Option("--kecamatan", help="Kecamatan polygons: a kecamatan column in the area table.")
    ] = None,
    per_station: Annotated[bool, typer.Option("--per-station", help="Also one isochrone per station.")] = False,
    combined: CombinedOption = False,
    offroad: OffroadOption = 100.0,
    sea_links: SeaLinksOption = None,
    no_ferries: NoFerriesOption = False,
    lang: LangOption = None,
) -> None:
    """Isochrones, population and desa coverage, hotspots and maps from today's stations."""
    from geodispatch.cli_tables import coverage_table
    from geodispatch.coverage import coverage_from_source
    from geodispatch.locale import check_lang, text

    language = check_lang(lang) if lang is not None else None
    with _progress(f"loading {source}") as status:
        scenario, report = coverage_from_source(
            source,
            out,
            network_options=_sea(no_ferries, sea_links),
            minutes=minutes or (5.0, 10.0, 15.0),
            stations=stations,
            station_types=station_types,
            per_station=per_station,
            combined=combined,
            population=population,
            areas=areas,
            population_column=population_column,
            area_name_column=area_name_column,
            kecamatan=kecamatan,
            lang=language,
            offroad_m=offroad,
            progress=lambda msg: status.update(f"coverage: {msg}"),
        )
    language = language or scenario.lang
    console.print(coverage_table(report, language))
    files = "isochrones.geojson, surface.geojson, coverage_by_area.csv, summary.json, map.html, map.png"
    console.print(text("cli.coverage.wrote", language, out=out, files=files))


@app.command("site")
def site(
    source: SourceArg,
    model: Annotated[str, typer.Option("--model", help="mclp, lscp, mexclp, pmedian or pcenter.")] = "mclp",
    new_posts: Annotated[int, typer.Option("--new-posts", help="New posts to add (LSCP finds the count).")] = 3,
    minutes: Annotated[
        float | None, typer.Option("--minutes", help="Coverage threshold, minutes (default: region target).")
    ] = None,
    stations: StationsOption = None,
    candidates: Annotated[
        str | None, typer.Option("--candidates", help="Candidate sites CSV/GeoJSON (lon,lat[,name]) or 'stations'.")
    ] = None,
    population: Annotated[Path | None, typer.Option("--population", help="Population CSV/GeoJSON/GeoTIFF.")] = None,
    population_column: PopulationColumnOption = None,
    service: Annotated[str, typer.Option("--service", help="ambulance (PSC 119) or damkar.")] = "ambulance",
    n_candidates: Annotated[int, typer.Option("--n-candidates", help="Grid candidates without a file.")] = 300,
    busy: Annotated[float, typer.Option("--busy", help="MEXCLP: probability a post is busy.")] = 0.2,
    share: Annotated[float, typer.Option("--share", help="LSCP: share of people to cover.")] = 1.0,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Solver time limit, seconds.")] = 60.0,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("site-out"),
    sea_links: SeaLinksOption = None,
    no_ferries: NoFerriesOption = False,
    lang: LangOption = None,
) -> None:
    """Where to put the next PSC 119 / fire posts: siting models with marginal gains and maps."""
    from geodispatch.cli_tables import gain_table
    from geodispatch.locale import check_lang, text
    from geodispatch.siting.run import run_siting

    language = check_lang(lang) if lang is not None else None

    with _progress(f"siting on {source}"):
        run = run_siting(
            source, model, new_posts, minutes, stations=stations, candidates=candidates,
            population=population, population_column=population_column, service=service,
            n_candidates=n_candidates, busy_fraction=busy, share=share, time_limit_s=time_limit, out=out, lang=language,
            network_options=_sea(no_ferries, sea_links),
        )
    res = run.result
    title = text("cli.site.title", run.lang, name=run.name, model=model, status=res.status,
                 gap=f"{100 * res.gap:.2g}", seconds=f"{res.solve_time_s:.1f}")
    console.print(gain_table(title, run.table, run.threshold_s, run.lang))
    for note in run.problem.notes + res.notes:
        console.print(text("cli.site.note", run.lang, note=note), markup=False, highlight=False)
    console.print(text("cli.site.wrote", run.lang, out=out))


@app.command("recommend")
def recommend_cmd(
    source: SourceArg,
    incident_type: Annotated[str, typer.Option("--type", help="Incident type: kebakaran, kecelakaan, medis...")],
    at: Annotated[str, typer.Option("--at", help="Incident location LON,LAT (degrees).")],
    priority: Annotated[int, typer.Option("--priority", help="1 life-threatening, 2 urgent, 3 non-urgent.")] = 1,
    units: Annotated[
        Path | None, typer.Option("--units", help="Fleet CSV: id,type,lon,lat[,status,capabilities,...].")
    ] = None,
    busy: Annotated[str, typer.Option("--busy", help="Comma-separated unit ids to treat as busy.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the recommendation as JSON.")] = False,
    route: Annotated[bool, typer.Option("--route", help="Include each unit's route (GeoJSON) in --json.")] = False,
    sea_links: SeaLinksOption = None,
    no_ferries: NoFerriesOption = False,
) -> None:
    """Which units to send to one call, with ETAs, distances and the reasons."""
    from geodispatch.assign.demo import recommendation_lines
    from geodispatch.assign.run import read_units, recommend_on_scenario
    from geodispatch.scenario import load_scenario

    lon, lat = _parse_point(at, "--at")
    with _progress(f"loading {source}"):
        scenario = load_scenario(source, **_sea(no_ferries, sea_links))
        fleet = read_units(units) if units is not None else None
        res = recommend_on_scenario(
            scenario, incident_type, priority, lon, lat, fleet, [b for b in busy.split(",") if b], routes=route
        )
    if as_json:
        print(json.dumps(res.recommendation.to_dict(), indent=2, allow_nan=False))
        return
    if scenario.synthetic:
        console.print("[yellow]SYNTHETIC regency: made-up roads, stations and units.[/yellow]")
    for line in recommendation_lines("Call", res.incident, res.recommendation):
        console.print(line, markup=False, highlight=False)


def _parse_surge(text: str | None) -> tuple[float, float, float] | None:
    """Parse ``START_HOUR,HOURS,FACTOR`` (the value of ``--surge``)."""
    if text is None:
        return None
    try:
        a, b, c = (float(x) for x in text.split(","))
    except ValueError as exc:
        raise InputError(f"--surge expects START_HOUR,HOURS,FACTOR (e.g. 17,2,8), got {text!r}") from exc
    return a, b, c


SimCallsOpt = Annotated[
    Path | None, typer.Option("--calls", help="Calls CSV: id,time,type,priority,lon,lat[,on_scene_min,transport].")
]
SimPerDayOpt = Annotated[
    float | None, typer.Option("--calls-per-day", help="Generate calls: mean per day (default: calibrated rate).")
]
SimDaysOpt = Annotated[float | None, typer.Option("--days", help="Generate calls for this many days.")]
SimPolicyOpt = Annotated[
    list[str] | None, typer.Option("--policy", help="optimal, closest or coverage_aware (repeat to compare).")
]
SimMoveUpOpt = Annotated[str, typer.Option("--move-up", help="none or dmexclp.")]
SimReplicationsOpt = Annotated[int, typer.Option("--replications", help="Independent replications.")]
SimSeedOpt = Annotated[int, typer.Option("--seed", help="Base random seed.")]
SimDelayOpt = Annotated[
    float | None, typer.Option("--dispatch-delay-s", help="Fixed call-taking delay, s (default: calibrated).")
]
SimTurnoutOpt = Annotated[float | None, typer.Option("--turnout-s", help="Fixed turnout, s (default: calibrated).")]
SimUnitsOpt = Annotated[Path | None, typer.Option("--units", help="Fleet CSV (id,type,lon,lat[,home_lon,...]).")]
SimHospitalsOpt = Annotated[
    Path | None, typer.Option("--hospitals", help="Hospitals CSV/GeoJSON (lon,lat[,id,name,accepts]).")
]
SimAddPostsOpt = Annotated[
    Path | None, typer.Option("--add-posts", help="sites.geojson from 'geodispatch site': simulate the plan.")
]
SimPostServiceOpt = Annotated[str, typer.Option("--post-service", help="Service of the new posts.")]
SimPerPostOpt = Annotated[int, typer.Option("--units-per-post", help="Units at each new post.")]
SimCalibrationOpt = Annotated[
    Path | None,
    typer.Option("--calibration", help="DataSF fire calls CSV to calibrate from (default: built-in figures)."),
]
SimSurgeOpt = Annotated[
    str | None, typer.Option("--surge", help="Generated calls: START_HOUR,HOURS,FACTOR rate surge.")
]


@app.command("simulate")
def simulate_cmd(
    source: SourceArg,
    out: Annotated[Path, typer.Option("--out", help="Output directory (written atomically).")],
    calls: SimCallsOpt = None,
    calls_per_day: SimPerDayOpt = None,
    days: SimDaysOpt = None,
    policy: SimPolicyOpt = None,
    move_up: SimMoveUpOpt = "none",
    replications: SimReplicationsOpt = 5,
    seed: SimSeedOpt = 0,
    dispatch_delay: SimDelayOpt = None,
    turnout: SimTurnoutOpt = None,
    units: SimUnitsOpt = None,
    hospitals: SimHospitalsOpt = None,
    add_posts: SimAddPostsOpt = None,
    post_service: SimPostServiceOpt = "ambulance",
    units_per_post: SimPerPostOpt = 1,
    calibration: SimCalibrationOpt = None,
    surge: SimSurgeOpt = None,
) -> None:
    """Replay a period of calls with busy units, hospitals and move-up; 95% CIs over replications."""
    from geodispatch.sim.run import run_simulation

    with _progress(f"simulating on {source}") as status:
        run = run_simulation(
            source, out, calls_file=calls, calls_per_day=calls_per_day, days=days,
            policies=policy or ["optimal"], move_up=move_up, replications=replications, seed=seed,
            dispatch_delay_s=dispatch_delay, turnout_s=turnout, units_file=units, hospitals_file=hospitals,
            add_posts=add_posts, post_service=post_service, units_per_post=units_per_post,
            calibration_file=calibration, surge=_parse_surge(surge), progress=status.update,
        )  # fmt: skip
    _print_simulation(run)
    console.print(
        f"wrote {out}/ (calls.csv, assignments.csv, summary.json, map.html, map.png, response_times.png)"
    )


def _print_simulation(run: Any) -> None:
    """The policy comparison table and the notes of a simulation run."""
    from geodispatch.sim.run import comparison_rows

    first = run.results[0]
    n_calls = int(np.mean([len(r.calls) for r in first.replications]))
    target = first.model.target_s
    title = f"{run.scenario.name}: {n_calls:,} calls per replication, {len(first.replications)} replication(s)"
    table = Table(title=title)
    for col in ("policy", "move-up", f"within {target / 60:g} min (95% CI)", "mean (min)", "p90 (min)", "relocations"):
        table.add_column(col, justify="left" if col in ("policy", "move-up") else "right")

    def fmt(fig: dict[str, Any], scale: float, digits: int, unit: str = "") -> str:
        if fig["mean"] is None:
            return "-"
        text = f"{fig['mean'] * scale:.{digits}f}{unit}"
        if fig["ci95"] is not None:
            lo, hi = fig["ci95"]
            text += f" ({lo * scale:.{digits}f}-{hi * scale:.{digits}f})"
        return text

    for row in comparison_rows(run.results):
        table.add_row(
            row["policy"], row["move_up"], fmt(row["within_target"], 100, 1, "%"),
            fmt(row["mean_response_s"], 1 / 60, 1), fmt(row["p90_response_s"], 1 / 60, 1),
            fmt(row["relocations"], 1, 0),
        )  # fmt: skip
    if run.scenario.synthetic:
        console.print("[yellow]SYNTHETIC regency: made-up roads, stations and units.[/yellow]")
    console.print(table)
    console.print(f"calibration: {run.calibration.source}", markup=False, highlight=False)
    for res in run.results:
        for note in res.notes:
            console.print(f"note ({res.policy}): {note}", markup=False, highlight=False)


@batch_app.command("simulate")
def batch_simulate(
    source: SourceArg,
    out: Annotated[
        Path, typer.Option("--out", help="Output folder: replications/ (one file each) and simulation/ (the results).")
    ],
    calls: SimCallsOpt = None,
    calls_per_day: SimPerDayOpt = None,
    days: SimDaysOpt = None,
    policy: SimPolicyOpt = None,
    move_up: SimMoveUpOpt = "none",
    replications: SimReplicationsOpt = 5,
    seed: SimSeedOpt = 0,
    dispatch_delay: SimDelayOpt = None,
    turnout: SimTurnoutOpt = None,
    units: SimUnitsOpt = None,
    hospitals: SimHospitalsOpt = None,
    add_posts: SimAddPostsOpt = None,
    post_service: SimPostServiceOpt = "ambulance",
    units_per_post: SimPerPostOpt = 1,
    calibration: SimCalibrationOpt = None,
    surge: SimSurgeOpt = None,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler address (tcp://host:8786) or scheduler file.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Worker processes of the local cluster (default: the cores).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Recompute replications already stored.")] = False,
) -> None:
    """'geodispatch simulate' with its replications as Dask tasks (same results, resumable)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from geodispatch.batch.simulate import run_batch_simulation
    from geodispatch.sim.run import make_spec

    spec = make_spec(
        source, calls_file=calls, calls_per_day=calls_per_day, days=days, policies=policy or ["optimal"],
        move_up=move_up, replications=replications, seed=seed, dispatch_delay_s=dispatch_delay, turnout_s=turnout,
        units_file=units, hospitals_file=hospitals, add_posts=add_posts, post_service=post_service,
        units_per_post=units_per_post, calibration_file=calibration, surge=_parse_surge(surge),
    )  # fmt: skip
    progress = Progress(
        TextColumn("[bold]replications"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(), console=err_console, transient=False,
    )  # fmt: skip
    task: list[Any] = []

    def started(n_run: int, n_resumed: int, dashboard: str | None) -> None:
        if dashboard:
            err_console.print(f"Dask dashboard: {dashboard}")
        if n_resumed:
            err_console.print(f"{n_resumed} replication(s) already stored in {out} (use --force to recompute)")
        task.append(progress.add_task("batch", total=n_run + n_resumed, completed=n_resumed, detail=""))

    def finished(status: dict[str, Any]) -> None:
        progress.update(task[0], advance=1, detail=f"{status['policy']} r{status['replication']}")
        if status["status"] != "ok":
            progress.console.print(
                f"[red]{status['policy']} replication {status['replication']}[/red]: {status['error']}",
                highlight=False,
            )

    with progress:
        res = run_batch_simulation(
            spec, out, scheduler=scheduler, workers=workers, force=force, on_start=started, on_result=finished
        )
    _print_simulation(res.run)
    console.print(
        f"{res.computed} replication(s) computed, {res.resumed} resumed; wrote {res.out}/simulation/ (calls.csv, "
        "assignments.csv, summary.json, map.html, map.png, response_times.png)",
        highlight=False,
    )


@batch_app.command("coverage")
def batch_coverage(
    manifest: Annotated[
        Path, typer.Option("--manifest", help="CSV: name,source,stations[,population,areas,sea_links,code].")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder: <name>/ per region, national.csv/.geojson/.png.")],
    minutes: MinutesListOption = None,
    station_types: StationTypesOption = "ambulance,damkar",
    combined: CombinedOption = False,
    offroad: OffroadOption = 100.0,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler address (tcp://host:8786) or scheduler file.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Worker processes of the local cluster (default: the cores).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Recompute regions whose outputs are complete.")] = False,
    boundaries: Annotated[
        Path | None,
        typer.Option("--boundaries", help="Kabupaten/kota polygons (kode, nama) for national.geojson and .png."),
    ] = None,
    map_service: Annotated[str, typer.Option("--map-service", help="Service shown on the national map.")] = "ambulance",
) -> None:
    """Coverage of every region of a manifest as Dask tasks, with a national table and map."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from geodispatch.batch import CoverageOptions, run_batch_coverage

    options = CoverageOptions(
        minutes=tuple(minutes or (5.0, 10.0, 15.0)), station_types=station_types, combined=combined, offroad_m=offroad
    )
    progress = Progress(
        TextColumn("[bold]regions"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(), console=err_console, transient=False,
    )
    counts = {"ok": 0, "error": 0}
    task: list[Any] = []

    def started(n_run: int, n_resumed: int, dashboard: str | None) -> None:
        if dashboard:
            err_console.print(f"Dask dashboard: {dashboard}")
        if n_resumed:
            err_console.print(f"{n_resumed} region(s) already complete in {out} (use --force to recompute)")
        task.append(progress.add_task("batch", total=n_run + n_resumed, detail=""))

    def finished(row: dict[str, Any]) -> None:
        counts["ok" if row["status"] == "ok" else "error"] += 1
        progress.update(task[0], advance=1, detail=f"ok {counts['ok']}, failed {counts['error']}")
        if row["status"] != "ok":
            progress.console.print(f"[red]{row['name']}[/red]: {row['error']}", highlight=False)

    with progress:
        res = run_batch_coverage(
            manifest, out, options, scheduler=scheduler, workers=workers, force=force, boundaries=boundaries,
            map_service=map_service, on_start=started, on_result=finished,
        )
    table = Table(title=f"Batch coverage: {len(res.rows)} regions ({res.computed} computed, {res.resumed} resumed, "
                        f"{res.failed} failed)")
    for col in ("region", "status", "boundary", f"{map_service} within 15 min"):
        table.add_column(col)
    for row in res.rows:
        share = row.get(f"{map_service}_population_share_15")
        if share is None or share != share:
            share = row.get(f"{map_service}_node_share_15")
            text = "-" if share is None or share != share else f"{share:.0%} of road nodes"
        else:
            text = f"{share:.0%} of people"
        table.add_row(row["name"], row["status"], row.get("boundary_name") or "-", text)
    console.print(table)
    for row in res.rows:
        if row["status"] != "ok":
            console.print(f"error: {row['name']}: {row['error']}", highlight=False)
    for name, reason in res.national.unmatched:
        console.print(f"not on the map: {name}: {reason}", highlight=False)
    files = [res.national.csv, res.national.geojson, res.national.png]
    console.print("wrote " + ", ".join(str(f) for f in files if f is not None))


DbOption = Annotated[
    str,
    typer.Option("--db", help="Database URL: sqlite:///FILE.db (default geodispatch.db) or postgresql+psycopg://..."),
]


SHUTDOWN_GRACE_S = 3
"""Seconds ``serve`` waits for open requests (and /events streams) on shutdown."""


@app.command("serve")
def serve(
    source: SourceArg,
    db: DbOption = "sqlite:///geodispatch.db",
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    sea_links: SeaLinksOption = None,
    no_ferries: NoFerriesOption = False,
    db_timeout: Annotated[
        float | None, typer.Option("--db-timeout", help="Seconds to wait on the database before a 503 (default 5).")
    ] = None,
    request_timeout: Annotated[
        float | None,
        typer.Option("--request-timeout", help="Seconds before an unanswered request gets a 503 (default 15)."),
    ] = None,
    fleet: Annotated[bool, typer.Option("--fleet", help="Put the scenario's stations and units into the database "
                                        "when it has no unit yet (a first start, the demo).")] = False,
    ack_timeout: Annotated[
        float | None,
        typer.Option("--ack-timeout", help="Seconds an agency (OPD) has to acknowledge a report before it is "
                     "overdue (default: the region's ack_timeout_s, 60 s); e.g. shorter for a drill."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", help="Server processes on the same database (each loads the network).")
    ] = 1,
) -> None:
    """Run the dispatch HTTP API (docs at /docs, operator's console at /console) with the network loaded once."""
    import uvicorn

    from geodispatch.api import create_app

    if not 0 < port < 65536:
        raise InputError(f"--port must be 1..65535, got {port}")
    if not 1 <= workers <= 64:
        raise InputError(f"--workers must be 1..64, got {workers}")
    if workers > 1:
        import os

        from geodispatch.api.app import SERVE_ENV, serve_environment
        from geodispatch.api.db import Database

        database = Database(db, timeout_s=db_timeout)
        try:
            database.upgrade()  # once, before the processes start
            if fleet:
                from geodispatch.api.fleet import load_fleet
                from geodispatch.scenario import load_scenario

                with _progress(f"loading {source} for the fleet"):
                    scenario = load_scenario(source, **_sea(no_ferries, sea_links))
                added = load_fleet(database, scenario)
                err_console.print(f"fleet: {added} units of {scenario.name} added" if added
                                  else "fleet: the database already has units; left as they are")
        finally:
            database.dispose()
        os.environ[SERVE_ENV] = serve_environment(
            source, db, db_timeout_s=db_timeout, request_deadline_s=request_timeout, ack_timeout_s=ack_timeout,
            network_options=_sea(no_ferries, sea_links),
        )
        err_console.print(f"serving {source} on http://{host}:{port} with {workers} processes (docs: /docs)")
        uvicorn.run("geodispatch.api.app:app_from_env", factory=True, workers=workers, host=host, port=port,
                    log_level=log_level, access_log=False, timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
        return
    from geodispatch.scenario import load_scenario

    with _progress(f"loading {source}"):
        api = create_app(
            load_scenario(source, **_sea(no_ferries, sea_links)), db,
            db_timeout_s=db_timeout, request_deadline_s=request_timeout, ack_timeout_s=ack_timeout,
        )
    if fleet:
        from geodispatch.api.fleet import load_fleet

        runtime = api.state.runtime
        added = load_fleet(runtime.db, runtime.scenario)
        homes = [(st.lon, st.lat, u.type) for st in runtime.scenario.stations for u in st.units]
        runtime.prepare_positions([h[0] for h in homes], [h[1] for h in homes], [h[2] for h in homes])  # tie-break
        err_console.print(f"fleet: {added} units of {runtime.scenario.name} added" if added
                          else "fleet: the database already has units; left as they are")
    err_console.print(f"serving {api.state.runtime.scenario.name} on http://{host}:{port} "
                      f"(console: /console, docs: /docs)")
    # Requests are CPU-bound Python in a few threads; a 1 ms GIL switch interval (default 5 ms)
    # lets a thread that finished a SQLite call carry on sooner (shorter tail latencies).
    sys.setswitchinterval(0.001)
    # open /events streams never end by themselves: on Ctrl-C wait a few seconds, then close them
    uvicorn.run(api, host=host, port=port, log_level=log_level, access_log=False,
                timeout_graceful_shutdown=SHUTDOWN_GRACE_S)


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", help="dispatcher, unit, planner, admin or agency.")],
    db: DbOption = "sqlite:///geodispatch.db",
    unit: Annotated[str | None, typer.Option("--unit", help="The unit a 'unit' key may act on.")] = None,
    agency: Annotated[
        str | None, typer.Option("--agency", help="The agency (OPD) an 'agency' key acts for (GET /agencies).")
    ] = None,
    label: Annotated[str, typer.Option("--label", help="Who holds the key (free text).")] = "",
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from geodispatch.api.keys import create_key_cli

    typer.echo(create_key_cli(db, role, unit, label, agency))


@audit_app.command("verify")
def audit_verify(
    db: DbOption = "sqlite:///geodispatch.db",
    head: Annotated[
        str | None,
        typer.Option("--head", help="ID:HASH printed by an earlier verify: it must still be in the chain."),
    ] = None,
) -> None:
    """Walk the audit log's hash chain: exit 0 when intact, 1 naming the first changed, inserted or removed row."""
    from geodispatch.api.audit import verify_database

    verdict = verify_database(db, head)
    if verdict.intact:
        where = f"{verdict.last_id}:{verdict.head}" if verdict.last_id is not None else "(empty log)"
        typer.echo(f"audit log intact: {verdict.rows} entries; head {where} (keep it: --head pins the chain)")
        return
    err_console.print(f"audit log BROKEN: {verdict.problem}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(1)  # a finding, not a usage error (2)


def _click_errors() -> tuple[type[Exception], type[Exception]]:
    """``ClickException`` and ``UsageError`` of the click that typer runs on.

    typer 0.2x vendors click as ``typer._click`` and raises its own classes; older typer raises
    the ``click`` package's. Both are found through ``typer.BadParameter``, a ``UsageError``.
    """
    by_name = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
    return by_name["ClickException"], by_name["UsageError"]


def _one_line(exc: Exception) -> str:
    """The click exception's message on one line."""
    return " ".join(str(getattr(exc, "format_message", exc.__str__)()).split())


def main(args: list[str] | None = None) -> None:
    """Entry point: run the app, turning user errors into one line and exit code 2.

    Usage errors (unknown command or option, missing or malformed value) are printed on one
    line with a pointer to the command's ``--help``; ``geodispatch`` and a bare command group
    print their help and exit 0.
    """
    click_error, usage_error = _click_errors()
    try:
        code = app(args=args, prog_name="geodispatch", standalone_mode=False)
    except GeodispatchError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except usage_error as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:  # a bare command group
            typer.echo(ctx.get_help())
            sys.exit(0)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        err_console.print(
            f"error: {_one_line(exc)}{hint}", markup=False, highlight=False, soft_wrap=True
        )
        sys.exit(2)
    except click_error as exc:  # e.g. a file option that cannot be opened
        err_console.print(f"error: {_one_line(exc)}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except typer.Exit as exc:  # raised outside click's own handling (older typer)
        sys.exit(exc.exit_code)
    if isinstance(code, int) and code:  # standalone_mode=False returns the code of a typer.Exit
        sys.exit(code)


if __name__ == "__main__":
    main()

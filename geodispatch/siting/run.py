"""One siting run from a region/source to output files (what the ``site`` CLI calls).

The console table of the run lives with the CLI (:mod:`geodispatch.cli_tables`).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from geodispatch.errors import SitingError
from geodispatch.siting.covering import lscp, mclp, mexclp
from geodispatch.siting.files import write_siting_outputs
from geodispatch.siting.inputs import SitingProblem, build_siting_problem, read_candidates
from geodispatch.siting.pcenter import p_center
from geodispatch.siting.pmedian import p_median
from geodispatch.siting.result import SitingResult

logger = logging.getLogger(__name__)

MODELS = ("mclp", "lscp", "mexclp", "pmedian", "pcenter")


@dataclass
class SitingRun:
    """What a run produced: the problem, the model result and the marginal-gain table."""

    name: str
    problem: SitingProblem
    result: SitingResult
    table: pd.DataFrame
    threshold_s: float
    out: Path | None
    lang: str = "en"


def solve_problem(
    problem: SitingProblem,
    model: str,
    new_posts: int,
    threshold_s: float,
    *,
    busy_fraction: float = 0.2,
    share: float = 1.0,
    time_limit_s: float | None = 60.0,
) -> SitingResult:
    """Run ``model`` on a :class:`SitingProblem` (threshold in seconds)."""
    args: dict[str, Any] = {
        "weights": problem.weight,
        "fixed": problem.fixed,
        "time_limit_s": time_limit_s,
    }
    if model == "mclp":
        return mclp(problem.cost, new_posts, threshold_s, **args)
    if model == "mexclp":
        return mexclp(problem.cost, new_posts, threshold_s, busy_fraction, **args)
    if model == "lscp":
        return lscp(problem.cost, threshold_s, share=share, **args)
    if model == "pmedian":
        return p_median(problem.cost, new_posts, **args)
    if model == "pcenter":
        return p_center(problem.cost, new_posts, **args)
    raise SitingError(f"unknown model {model!r}; use one of {', '.join(MODELS)}.")


def run_siting(
    source: str,
    model: str = "mclp",
    new_posts: int = 3,
    minutes: float | None = None,
    *,
    stations: str | os.PathLike[str] | None = None,
    candidates: str | os.PathLike[str] | None = None,
    population: str | os.PathLike[str] | None = None,
    population_column: str | None = None,
    service: str = "ambulance",
    n_candidates: int = 300,
    busy_fraction: float = 0.2,
    share: float = 1.0,
    time_limit_s: float | None = 60.0,
    out: str | os.PathLike[str] | None = None,
    lang: str | None = None,
    network_options: Mapping[str, Any] | None = None,
) -> SitingRun:
    """Load a scenario, build the siting problem, solve it and (optionally) write outputs.

    Parameters
    ----------
    source : str
        Region slug, ``synthetic[:N]``, place query or road file (see ``load_scenario``).
    model : {"mclp", "lscp", "mexclp", "pmedian", "pcenter"}
        Siting model.
    new_posts : int
        New posts to add (ignored by LSCP, which finds the count).
    minutes : float, optional
        Coverage threshold in minutes (default: the region's target, usually 15).
    stations, candidates, population : path, optional
        Files replacing the scenario's stations, the grid candidates ("stations" = the
        region's other buildings) and the scenario's population. They are read before the
        network, so a bad file is reported before a download starts.
    population_column : str, optional
        Column of people in the population file (default: the first usual name present).
    service : str
        ``"ambulance"`` (PSC 119) or ``"damkar"`` (fire posts): which existing stations stay.
    n_candidates : int
        Grid candidates when no candidate file is given.
    busy_fraction : float
        MEXCLP busy probability per post.
    share : float
        LSCP share of the population to cover.
    time_limit_s : float, optional
        Solver limit, seconds.
    out : path, optional
        Output directory (``sites.geojson``, ``marginal_gain.csv``, ``map.html``,
        ``map.png``, ``summary.json``).
    lang : {"id", "en"}, optional
        Language of the maps (default: the scenario's, ``id`` for a region).
    network_options : mapping, optional
        Passed to ``load_scenario`` (``ferries``, ``sea_links``, ``boat_speed_kph``, ...).
    """
    from geodispatch.locale import check_lang
    from geodispatch.scenario import load_scenario

    if model not in MODELS:
        raise SitingError(f"unknown model {model!r}; use one of {', '.join(MODELS)}.")
    if minutes is not None and not (math.isfinite(float(minutes)) and float(minutes) > 0):
        raise SitingError(f"--minutes must be a positive number, got {minutes!r}.")
    # the user's files are read before the network, which may be a long download
    people: Any = None
    if population is not None:
        from geodispatch.inputs.population import read_population

        people = read_population(population, population_column)
    cand: pd.DataFrame | str | None = None
    if candidates is not None:
        cand = "stations" if str(candidates) == "stations" else read_candidates(str(candidates))
    scenario = load_scenario(source, stations=stations, **dict(network_options or {}))
    language = check_lang(lang) if lang is not None else scenario.lang
    threshold_s = scenario.target_response_s if minutes is None else float(minutes) * 60.0
    if not math.isfinite(threshold_s) or threshold_s <= 0:
        raise SitingError(f"--minutes must be a positive number, got {minutes!r}.")
    if people is None:
        people = scenario.population
    if people is None:
        raise SitingError(
            f"{source} brings no population; give --population FILE (CSV lon,lat,population, "
            "GeoJSON or a WorldPop GeoTIFF)."
        )
    bounded = model in ("mclp", "lscp", "mexclp")
    problem = build_siting_problem(
        scenario.network,
        people,
        scenario.stations,
        service=service,
        candidates=cand,
        n_candidates=n_candidates,
        extra_stations=scenario.stations,
        bound_s=threshold_s if bounded else None,
        areas=scenario.areas,
    )
    result = solve_problem(
        problem, model, new_posts, threshold_s, busy_fraction=busy_fraction, share=share,
        time_limit_s=time_limit_s,
    )
    title = f"{scenario.name}: {model.upper()} {result.new.size} new {service} post(s), " \
        f"{threshold_s / 60:g} min"
    out_path = Path(out) if out is not None else None
    if out_path is not None:
        table = write_siting_outputs(problem, result, out_path, threshold_s, title, region=scenario.name,
                                     service=service, areas=scenario.areas, lang=language)
    else:
        from geodispatch.siting.gains import network_marginal_gain

        table, _ = network_marginal_gain(problem, result, threshold_s)
    return SitingRun(scenario.name, problem, result, table, threshold_s, out_path, language)

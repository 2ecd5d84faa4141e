"""The console tables of the CLI (rich), in the reader's language.

Presentation only: each function turns a stage's computed result into a
:class:`rich.table.Table` with headers and captions from :mod:`geodispatch.locale`. People are
rounded to whole persons here, for reading; the results themselves keep the input's figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
from rich.table import Table

from geodispatch.locale import people, percent, text

if TYPE_CHECKING:
    from geodispatch.coverage.report import CoverageReport

__all__ = ["coverage_table", "gain_table"]


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}"


def gain_table(title: str, table: pd.DataFrame, threshold_s: float, lang: str = "en") -> Table:
    """The marginal-gain table of a siting run.

    Parameters
    ----------
    title : str
        Table title.
    table : pandas.DataFrame
        From :func:`geodispatch.siting.gains.network_marginal_gain`.
    threshold_s : float
        Coverage threshold, seconds (column header).
    lang : {"id", "en"}
        Language of the headers.
    """
    out = Table(title=title, caption=text("table.caption.rounded", lang), caption_justify="left")
    cols = (
        ("table.col.step", "right"),
        ("table.col.post", "left"),
        ("table.col.lonlat", "left"),
        ("table.col.newly_covered", "right"),
        ("table.col.covered", "right"),
        ("table.col.mean_response", "right"),
        ("table.col.change", "right"),
    )
    for key, justify in cols:
        out.add_column(text(key, lang, minutes=f"{threshold_s / 60:g}"), justify=justify)  # type: ignore[arg-type]
    unit = "menit" if lang == "id" else "min"
    for row in table.itertuples(index=False):
        first = row.step == 0
        out.add_row(
            str(row.step),
            text("table.existing_posts", lang) if first else str(row.name),
            "" if first else f"{row.lon:.5f}, {row.lat:.5f}",
            "" if first else people(row.newly_covered_weight, lang),
            percent(row.covered_share, lang, 1),
            f"{row.mean_response_s / 60:.1f} {unit}",
            "" if first else f"{row.delta_mean_response_s / 60:+.1f} {unit}",
        )
    return out


def coverage_table(report: CoverageReport, lang: str = "en") -> Table:
    """Per service and threshold: people, share, road and area covered, with the caveats."""
    total = report.summary.get("population_total")
    title = text("table.coverage.title", lang, name=report.name)
    if total:
        title += text("table.coverage.population", lang, total=people(total, lang))
    table = Table(title=title, caption=_caption(report, lang), caption_justify="left")
    for key, justify in (
        ("table.col.type", "left"),
        ("table.col.stations", "right"),
        ("table.col.within", "right"),
        ("table.col.people", "right"),
        ("table.col.share", "right"),
        ("table.col.road", "right"),
        ("table.col.km2", "right"),
        ("table.col.med_p90", "right"),
    ):
        table.add_column(text(key, lang), justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for service, info in report.summary["services"].items():
        pop = info.get("population")
        src = pop if pop else info
        timing = f"{_minutes(src.get('median_s'))}/{_minutes(src.get('p90_s'))}"
        stations_text = text("table.combined", lang) if info.get("stations_text") == "both" else info.get(
            "stations_text", "")
        for i, m in enumerate(report.minutes):
            key = f"{m:g}"
            if pop:
                covered = people(pop["covered"][key], lang)
                share = pop["share"][key]
                share_text = percent(share, lang) if share is not None else "-"
            else:
                covered, share_text = "-", percent(info["node_share"][key], lang) + "*"
            table.add_row(
                service if i == 0 else "",
                stations_text if i == 0 else "",
                text("table.min", lang, minutes=f"{m:g}"),
                covered,
                share_text,
                percent(info["road_share"][key], lang),
                f"{info['area_km2'].get(key, float('nan')):,.1f}",
                timing if i == 0 else "",
                end_section=i == len(report.minutes) - 1,
            )
    return table


def _caption(report: CoverageReport, lang: str) -> str:
    parts = []
    if report.population is None or not len(report.population):
        parts.append(text("table.caption.no_population", lang))
    else:
        parts.append(text("table.caption.rounded", lang))
    if report.synthetic:
        parts.append(text("table.caption.synthetic", lang))
    bad: Any = report.station_status
    if len(bad):
        bad = bad[bad["status"] != "ok"]
        for row in bad.itertuples(index=False):
            parts.append(text("table.caption.station", lang, id=row.id, service=row.service, status=row.status,
                              note=row.note))
    last_key = f"{report.minutes[-1]:g}"
    for service, info in report.summary["services"].items():
        by_sea = ((info.get("population") or {}).get("covered_by_sea") or {}).get(last_key, 0.0)
        if by_sea > 0:
            parts.append(text("table.caption.by_sea", lang, service=service, people=people(by_sea, lang),
                              minutes=last_key))
    parts.extend(w.message(lang) for w in report.warnings)  # summary.json keeps them in English
    return "\n".join(parts)

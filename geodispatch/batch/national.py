"""The national view of a batch: ``national.csv``, ``national.geojson`` and ``national.png``.

Each job is placed on a kabupaten/kota boundary (the file is always given explicitly, e.g.
``../shared/data/boundaries/indonesia_kabupaten_kota.geojson``, properties ``kode`` and
``nama``) by, in this order:

1. the manifest's ``code`` column: a Kemendagri code (``64.71``) or a BPS code (``6471``,
   turned into the Kemendagri code through the region YAMLs that list both);
2. the job's source or name being a region slug (``balikpapan``): the region YAML's
   ``kemendagri_code``;
3. the job's name equal to a boundary name (``kota-balikpapan`` = ``Kota Balikpapan``), or to
   the name without its Kabupaten/Kota prefix when only one boundary has it (``bantaeng``;
   ``bandung`` is ambiguous: Kabupaten Bandung and Kota Bandung).

Jobs that match nothing are reported (``boundary_match`` in ``national.csv``), never guessed.
Several jobs on one boundary (kecamatan networks of one kota) are combined, weighted by their
population (or road nodes when no population was given).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geodispatch.batch.manifest import Job
from geodispatch.errors import CorruptFileError, InputError, SourceNotFoundError
from geodispatch.output import atomic_file, write_csv

HEAD_COLUMNS: tuple[str, ...] = (
    "name",
    "status",
    "error",
    "boundary_code",
    "boundary_name",
    "boundary_match",
    "source",
    "computed",
    "elapsed_s",
    "nodes",
    "road_km",
    "population_total",
)
"""The first columns of ``national.csv``; the per-service shares follow."""


@dataclass(frozen=True)
class Match:
    """Where a job sits on the national map (``code`` None when it matched no boundary)."""

    code: str | None
    name: str | None
    how: str


@dataclass
class NationalOutputs:
    """Files written and what did not match.

    Attributes
    ----------
    csv : Path
        ``national.csv``.
    geojson, png : Path or None
        Written when a boundaries file was given.
    unmatched : list of (str, str)
        Job name and the reason it is not on the map.
    mapped : int
        Boundaries coloured on the map.
    rows : list of dict
        The rows as written (manifest order, with the ``boundary_*`` columns).
    """

    csv: Path
    geojson: Path | None = None
    png: Path | None = None
    unmatched: list[tuple[str, str]] = field(default_factory=list)
    mapped: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)


def read_boundaries(path: str | os.PathLike[str]) -> Any:
    """Read kabupaten/kota polygons with a code and a name column, as ``code, name, geometry``.

    Raises
    ------
    SourceNotFoundError, CorruptFileError, InputError
        Missing file, unreadable file, no ``kode``/``code`` or ``nama``/``name`` column.
    """
    import geopandas as gpd

    p = Path(path).expanduser()
    if not p.is_file():
        raise SourceNotFoundError(f"boundaries file {p} not found (e.g. ../shared/data/boundaries/"
                                  "indonesia_kabupaten_kota.geojson)")
    try:
        gdf = gpd.read_file(p)
    except Exception as exc:  # pyogrio raises its own DataSourceError types
        raise CorruptFileError(f"boundaries file {p.name}: cannot read it ({exc})".replace("\n", " ")) from exc
    code = next((c for c in ("kode", "code") if c in gdf.columns), None)
    name = next((c for c in ("nama", "name") if c in gdf.columns), None)
    if code is None or name is None or gdf.geometry is None:
        raise InputError(f"boundaries file {p.name}: needs polygons with columns kode (or code) and nama (or name)")
    out = gpd.GeoDataFrame({"code": gdf[code].astype(str), "name": gdf[name].astype(str)}, geometry=gdf.geometry)
    return out.set_crs(4326) if out.crs is None else out.to_crs(4326)


_PREFIX = re.compile(r"^(kabupaten|kab|kota administrasi|kota adm|kota)\s+")


def _norm(text: str) -> str:
    """Lower case, words only: ``Kota Adm. Jakarta-Timur`` -> ``kota adm jakarta timur``."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


def _bare(text: str) -> str:
    return _PREFIX.sub("", _norm(text))


def _region_codes() -> tuple[dict[str, str], dict[str, str]]:
    """(slug -> Kemendagri code, BPS code -> Kemendagri code) from the packaged region YAMLs."""
    from geodispatch.regions import list_regions, load_region

    by_slug: dict[str, str] = {}
    by_bps: dict[str, str] = {}
    for slug in list_regions():
        region = load_region(slug)
        if region.kemendagri_code:
            by_slug[slug] = region.kemendagri_code
            if region.bps_code:
                by_bps[region.bps_code] = region.kemendagri_code
    return by_slug, by_bps


def match_jobs(jobs: Sequence[Job], boundaries: Any) -> dict[str, Match]:
    """Place each job on a boundary (see the module docstring for the rules).

    Returns
    -------
    dict
        Job name -> :class:`Match`; ``code`` None with the reason in ``how`` when unmatched.
    """
    names = dict(zip(boundaries["code"], boundaries["name"], strict=True))
    full: dict[str, list[str]] = {}
    bare: dict[str, list[str]] = {}
    for code, name in names.items():
        full.setdefault(_norm(name), []).append(code)
        bare.setdefault(_bare(name), []).append(code)
    by_slug, by_bps = _region_codes()
    out: dict[str, Match] = {}
    for job in jobs:
        out[job.name] = _match_one(job, names, full, bare, by_slug, by_bps)
    return out


def _match_one(
    job: Job,
    names: dict[str, str],
    full: dict[str, list[str]],
    bare: dict[str, list[str]],
    by_slug: dict[str, str],
    by_bps: dict[str, str],
) -> Match:
    if job.code:
        code = job.code.strip()
        if re.fullmatch(r"\d{4}", code):
            if code not in by_bps:
                return Match(None, None, f"unmatched: BPS code {code} is in no region YAML; give the Kemendagri "
                                         "code (NN.NN)")
            code = by_bps[code]
        if code in names:
            return Match(code, names[code], f"code {job.code.strip()}")
        return Match(None, None, f"unmatched: code {job.code.strip()} is not in the boundaries file")
    for slug in (job.source, job.name):
        if slug in by_slug and by_slug[slug] in names:
            return Match(by_slug[slug], names[by_slug[slug]], f"region {slug}")
    key = _norm(job.name)
    for table, how in ((full, "name"), (bare, "name without Kabupaten/Kota")):
        hits = table.get(key if table is full else _bare(job.name), [])
        if len(hits) == 1:
            return Match(hits[0], names[hits[0]], how)
        if len(hits) > 1:
            listed = ", ".join(f"{names[c]} ({c})" for c in hits)
            return Match(None, None, f"unmatched: name is ambiguous ({listed}); give the code column")
    return Match(None, None, "unmatched: no code column, region slug or boundary of that name")


def map_value(row: dict[str, Any], service: str, minutes: float) -> tuple[float | None, str, float]:
    """The share a job puts on the map, what it measures, and its weight.

    The population share within ``minutes`` for ``service`` (weight: people); without
    population, the share of road nodes reached (weight: nodes).
    """
    m = f"{minutes:g}"
    pop = row.get(f"{service}_population_share_{m}")
    people = row.get("population_total")
    if pop is not None and people is not None and _finite(pop) and _finite(people):
        return float(pop), "population", float(people)
    node = row.get(f"{service}_node_share_{m}")
    if node is not None and _finite(node):
        return float(node), "road nodes", float(row.get("nodes") or 1.0)
    return None, "", 0.0


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def write_national(
    rows: Sequence[dict[str, Any]],
    jobs: Sequence[Job],
    out: str | os.PathLike[str],
    boundaries: str | os.PathLike[str] | None = None,
    service: str = "ambulance",
    minutes: float = 15.0,
) -> NationalOutputs:
    """Write ``national.csv`` and, with a boundaries file, ``national.geojson`` and ``national.png``.

    Parameters
    ----------
    rows : sequence of dict
        One row per job (see :func:`geodispatch.batch.jobs.summary_row`), any order.
    jobs : sequence of Job
        The manifest (gives the row order and the codes).
    out : path
        The batch output folder.
    boundaries : path, optional
        Kabupaten/kota polygons (``kode``, ``nama``).
    service : str
        Service whose share is mapped.
    minutes : float
        Threshold of the mapped share, minutes.

    Returns
    -------
    NationalOutputs
    """
    import pandas as pd

    root = Path(out)
    by_name = {r["name"]: r for r in rows}
    ordered = [dict(by_name[j.name]) for j in jobs if j.name in by_name]
    outputs = NationalOutputs(csv=root / "national.csv", rows=ordered)
    matches: dict[str, Match] = {}
    gdf = None
    if boundaries is not None:
        gdf = read_boundaries(boundaries)
        matches = match_jobs(jobs, gdf)
    for row in ordered:
        m = matches.get(row["name"])
        row["boundary_code"] = m.code if m else None
        row["boundary_name"] = m.name if m else None
        row["boundary_match"] = m.how if m else "no --boundaries file given"
        if m is not None and m.code is None:
            outputs.unmatched.append((row["name"], m.how.removeprefix("unmatched: ")))
    frame = pd.DataFrame(ordered)
    extra = [c for c in frame.columns if c not in HEAD_COLUMNS]
    frame = frame.reindex(columns=[*HEAD_COLUMNS, *extra])
    frame["nodes"] = frame["nodes"].astype("Int64")  # error rows have none: keep counts integers
    write_csv(frame, outputs.csv)
    if gdf is not None:
        mapped = _mapped(gdf, ordered, service, minutes)
        outputs.mapped = len(mapped)
        outputs.geojson = root / "national.geojson"
        with atomic_file(outputs.geojson, suffix=".geojson") as tmp:
            tmp.write_text(mapped.to_json(na="null", drop_id=True), encoding="utf-8")
        outputs.png = root / "national.png"
        with atomic_file(outputs.png, suffix=".png") as tmp:
            _draw(gdf, mapped, tmp, service, minutes, len(ordered))
    return outputs


def _mapped(gdf: Any, rows: Sequence[dict[str, Any]], service: str, minutes: float) -> Any:
    """One feature per boundary holding at least one ok job: the combined share and its jobs."""
    import geopandas as gpd

    acc: dict[str, dict[str, Any]] = {}
    for row in rows:
        code = row.get("boundary_code")
        if row.get("status") != "ok" or not code:
            continue
        share, measure, weight = map_value(row, service, minutes)
        a = acc.setdefault(code, {"jobs": [], "num": 0.0, "den": 0.0, "measures": set()})
        a["jobs"].append(row["name"])
        if share is not None and weight > 0:
            a["num"] += share * weight
            a["den"] += weight
            a["measures"].add(measure)
    sub = gdf[gdf["code"].isin(list(acc))].copy()
    key = f"share_{minutes:g}min"
    sub[key] = [round(acc[c]["num"] / acc[c]["den"], 4) if acc[c]["den"] > 0 else None for c in sub["code"]]
    sub["measure"] = [" + ".join(sorted(acc[c]["measures"])) for c in sub["code"]]
    sub["service"] = service
    sub["jobs"] = [",".join(acc[c]["jobs"]) for c in sub["code"]]
    return gpd.GeoDataFrame(sub.reset_index(drop=True), geometry="geometry", crs=4326)


def _draw(gdf: Any, mapped: Any, path: Path, service: str, minutes: float, n_jobs: int) -> None:
    """Choropleth of the mapped share over every boundary (grey: no job), with markers so
    that small kota stay visible at national scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    key = f"share_{minutes:g}min"
    cmap = colormaps["RdYlGn"]
    norm = Normalize(0.0, 1.0)
    fig, ax = plt.subplots(figsize=(14, 6.5), dpi=110)
    try:
        gdf.plot(ax=ax, facecolor="#e6e6e6", edgecolor="#b0b0b0", linewidth=0.2)
        has = mapped[mapped[key].notna()] if len(mapped) else mapped
        if len(has):
            has.plot(ax=ax, column=key, cmap=cmap, norm=norm, edgecolor="#333333", linewidth=0.4)
            pts = has.geometry.representative_point()
            ax.scatter(pts.x, pts.y, c=cmap(norm(has[key].to_numpy(dtype=float))), s=60, edgecolors="black",
                       linewidths=0.6, zorder=3)
            for x, y, text in zip(pts.x, pts.y, has["name"], strict=True):
                ax.annotate(text, (x, y), xytext=(5, 5), textcoords="offset points", fontsize=7)
        sm = plt.cm.ScalarMappable(cmap=cmap, norm=norm)
        fig.colorbar(sm, ax=ax, fraction=0.025, pad=0.01, label=f"share reached within {minutes:g} min")
        ax.set_title(
            f"{service}: share within {minutes:g} min per kabupaten/kota "
            f"({len(has)} of {len(gdf)} boundaries from {n_jobs} jobs; grey: not in the batch)\n"
            "share of people, or of road nodes where no population was given; "
            "a job's network may cover only part of its kabupaten/kota",
            fontsize=9,
        )
        ax.set_axis_off()
        fig.savefig(path, format="png", bbox_inches="tight")
    finally:
        plt.close(fig)


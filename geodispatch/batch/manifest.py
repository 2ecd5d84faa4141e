"""The batch manifest: one row per region job, read and checked before anything runs.

A manifest is a CSV with the columns ``name,source,stations`` and optionally ``population``,
``areas``, ``sea_links`` and ``code``:

* ``name``: the job's name, also its output folder ``DIR/<name>/`` (letters, digits, ``-``,
  ``_``, ``.``; unique; not starting with a dot);
* ``source``: anything :func:`geodispatch.network.load_network` takes (region slug,
  ``synthetic:N``, place query, ``.graphml`` / ``.osm`` / ``.osm.pbf`` / ``.npz`` file);
* ``stations``: a stations file, or empty for the source's own stations;
* ``population``, ``areas``: files as for ``geodispatch coverage --population/--areas``;
* ``sea_links``: a sea-links CSV (as ``geodispatch coverage --sea-links``), added to the
  source's network and its own ferries;
* ``code``: the Kemendagri (``64.71``) or BPS (``6471``) code of the kabupaten/kota, to place
  the job on the national map (otherwise matched through the region YAMLs or by name).

Relative file paths are relative to the manifest's folder, so a manifest in ``data/batch/``
that names ``../../../shared/data/roads/x.graphml`` works from any working directory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from geodispatch.errors import CorruptFileError, InputError, SourceNotFoundError
from geodispatch.network.load import PBF_SUFFIXES, XML_SUFFIXES

REQUIRED_COLUMNS: tuple[str, ...] = ("name", "source", "stations")
OPTIONAL_COLUMNS: tuple[str, ...] = ("population", "areas", "sea_links", "code")
_FILE_SUFFIXES = (".graphml", ".npz", ".yaml", ".yml", *XML_SUFFIXES, *PBF_SUFFIXES)
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class Job:
    """One region of a batch: what ``geodispatch coverage`` is given for it.

    Attributes
    ----------
    name : str
        Job name and output folder name.
    source : str
        Network source; a file path is absolute (resolved against the manifest's folder).
    stations, population, areas, sea_links : str or None
        Absolute file paths, or None for the source's own.
    code : str or None
        Kemendagri or BPS code of the kabupaten/kota, when the manifest gives one.
    """

    name: str
    source: str
    stations: str | None = None
    population: str | None = None
    areas: str | None = None
    sea_links: str | None = None
    code: str | None = None

    def input_files(self) -> list[str]:
        """The local files this job reads (source when it is a file, stations, population, ...)."""
        files = [self.stations, self.population, self.areas, self.sea_links]
        if _is_file_source(self.source):
            files.insert(0, self.source)
        return [f for f in files if f]


def _is_file_source(text: str) -> bool:
    """True when a ``source`` value names a file rather than a slug, ``synthetic:N`` or a place."""
    return "/" in text or os.sep in text or text.lower().endswith(_FILE_SUFFIXES)


def _resolve(base: Path, value: str) -> str:
    path = Path(value).expanduser()
    return os.path.normpath(path if path.is_absolute() else base / path)


def read_manifest(path: str | os.PathLike[str]) -> list[Job]:
    """Read and check a batch manifest.

    Parameters
    ----------
    path : path-like
        The manifest CSV.

    Returns
    -------
    list of Job
        In the manifest's order, with file paths made absolute.

    Raises
    ------
    SourceNotFoundError
        When the manifest does not exist.
    CorruptFileError
        When it is not a readable CSV.
    InputError
        On a missing or unknown column, an empty manifest, an empty, duplicate or unsafe name,
        or an empty source.
    """
    import pandas as pd

    manifest = Path(path).expanduser()
    if not manifest.is_file():
        raise SourceNotFoundError(f"manifest {manifest} not found; give a CSV with columns name,source,stations")
    try:
        frame = pd.read_csv(manifest, dtype=str, keep_default_na=False, skipinitialspace=True, comment="#")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"manifest {manifest.name}: not a readable CSV ({exc})".replace("\n", " ")) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(
            f"manifest {manifest.name}: missing column(s) {', '.join(missing)} (need name,source,stations)"
        )
    unknown = [c for c in frame.columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise InputError(
            f"manifest {manifest.name}: unknown column(s) {', '.join(unknown)}; "
            f"use {', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}"
        )
    if frame.empty:
        raise InputError(f"manifest {manifest.name}: no jobs (one row per region)")
    base = manifest.resolve().parent
    jobs: list[Job] = []
    seen: set[str] = set()
    for line, rec in enumerate(frame.to_dict("records"), start=2):
        values = {k: str(v).strip() for k, v in rec.items()}
        name, source = values["name"], values["source"]
        if not _NAME.match(name):
            raise InputError(
                f"manifest {manifest.name} line {line}: bad name {name!r}; use letters, digits, '-', '_', '.' "
                "(it names the output folder)"
            )
        if name in seen:
            raise InputError(f"manifest {manifest.name} line {line}: duplicate name {name!r}")
        seen.add(name)
        if not source:
            raise InputError(f"manifest {manifest.name} line {line} ({name}): empty source")
        files = {k: _resolve(base, values[k]) if values.get(k) else None for k in ("stations", "population", "areas",
                                                                                   "sea_links")}
        jobs.append(
            Job(
                name=name,
                source=_resolve(base, source) if _is_file_source(source) else source,
                code=values.get("code") or None,
                **files,
            )
        )
    return jobs

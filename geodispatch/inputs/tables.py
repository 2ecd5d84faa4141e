"""Readers for user-supplied input files (stations, and other point tables).

Shared by the CLI, coverage, siting and the API: each reader validates at the boundary and
raises a :class:`~geodispatch.errors.GeodispatchError` that names the file and what to fix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from geodispatch.domain import STATION_TYPES
from geodispatch.errors import CorruptFileError, InputError, SourceNotFoundError, UnsupportedFormatError
from geodispatch.geometry import lonlat_problem
from geodispatch.regions import Station

VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp")


def existing_file(path: str | os.PathLike[str], what: str) -> Path:
    """Return ``path`` as a Path, raising :class:`SourceNotFoundError` when it does not exist."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise SourceNotFoundError(f"{what} file not found: {p}")
    return p


def read_table(path: str | os.PathLike[str], what: str) -> pd.DataFrame:
    """Read a CSV or vector file into a DataFrame with ``lon``/``lat`` columns for points.

    Vector files (GeoJSON, GeoPackage, Shapefile) are reprojected to EPSG:4326; their point
    coordinates become ``lon``/``lat``. CSV files must already have ``lon`` and ``lat``
    columns (``lng``/``longitude``/``x`` and ``latitude``/``y`` are accepted too).

    Raises
    ------
    SourceNotFoundError, UnsupportedFormatError, CorruptFileError
    """
    p = existing_file(path, what)
    name = p.name.lower()
    if name.endswith(".csv"):
        try:
            df = pd.read_csv(p)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise CorruptFileError(f"{p}: cannot read CSV ({exc})") from exc
        renames = {}
        for col in df.columns:
            low = str(col).strip().lower()
            if low in ("lng", "longitude", "long", "x") and "lon" not in df.columns:
                renames[col] = "lon"
            elif low in ("latitude", "y") and "lat" not in df.columns:
                renames[col] = "lat"
            elif low in ("lon", "lat"):
                renames[col] = low
        return df.rename(columns=renames)
    if name.endswith(VECTOR_SUFFIXES):
        import geopandas as gpd

        try:
            gdf = gpd.read_file(p)
        except Exception as exc:
            raise CorruptFileError(f"{p}: cannot read {what} file ({type(exc).__name__}: {exc})") from exc
        gdf = to_wgs84(gdf, p)
        if len(gdf) and (gdf.geom_type == "Point").all():
            gdf = gdf.assign(lon=gdf.geometry.x, lat=gdf.geometry.y)
        return pd.DataFrame(gdf)
    raise UnsupportedFormatError(f"{p}: unsupported {what} file type; use .csv, .geojson or .gpkg")


def to_wgs84(gdf: Any, origin: Path | str) -> Any:
    """Reproject a GeoDataFrame to EPSG:4326, detecting CRS-less projected coordinates.

    Raises
    ------
    InputError
        When the file has no CRS and its coordinates are not lon/lat degrees.
    """
    if gdf.crs is None:
        if len(gdf):
            minx, miny, maxx, maxy = gdf.total_bounds
            if min(minx, miny) < -180 or maxx > 180 or maxy > 90 or miny < -90:
                raise InputError(
                    f"{origin}: coordinates look projected (metres) but the file has no CRS; "
                    "save it with its CRS or in EPSG:4326"
                )
        return gdf.set_crs(4326)
    if gdf.crs.to_epsg() != 4326:
        return gdf.to_crs(4326)
    if len(gdf):
        minx, miny, maxx, maxy = gdf.total_bounds
        if min(minx, miny) < -180 or maxx > 180 or maxy > 90 or miny < -90:
            raise InputError(
                f"{origin}: the file says EPSG:4326 (GeoJSON always does) but its coordinates look projected "
                "(metres); reproject it to lon/lat degrees"
            )
    return gdf


def check_lonlat(df: pd.DataFrame, origin: Path | str) -> None:
    """Check a table has numeric lon/lat columns in degrees (not projected, not swapped)."""
    for col in ("lon", "lat"):
        if col not in df.columns:
            raise InputError(f"{origin}: missing column {col!r} (need lon, lat in EPSG:4326 degrees)")
        if not pd.api.types.is_numeric_dtype(df[col]) or df[col].isna().any():
            raise InputError(f"{origin}: column {col!r} must be numbers with no blanks")
    problem = lonlat_problem(df["lon"].to_numpy(float), df["lat"].to_numpy(float))
    if problem is not None:
        raise InputError(f"{origin}: {problem}")


def read_stations(path: str | os.PathLike[str]) -> tuple[Station, ...]:
    """Read stations from a CSV or GeoJSON with columns ``id, type, lon, lat`` (``name`` optional).

    Parameters
    ----------
    path : path-like
        CSV (``id,type,lon,lat[,name,source]``) or point GeoJSON / GeoPackage.

    Returns
    -------
    tuple of Station
        ``source`` defaults to the file name when the file has no ``source`` column.

    Raises
    ------
    InputError
        On missing columns, unknown station types, duplicate ids or an empty file.
    """
    df = read_table(path, "stations")
    origin = Path(path).name
    for col in ("id", "type"):
        if col not in df.columns:
            raise InputError(f"{origin}: missing column {col!r} (need id, type, lon, lat)")
    check_lonlat(df, origin)
    if df.empty:
        raise InputError(f"{origin}: the station list is empty")
    bad = sorted(set(df["type"].astype(str)) - set(STATION_TYPES))
    if bad:
        raise InputError(f"{origin}: unknown station type(s) {', '.join(bad)}; use one of {', '.join(STATION_TYPES)}")
    ids = df["id"].astype(str)
    if ids.duplicated().any():
        raise InputError(f"{origin}: duplicate station ids: {', '.join(sorted(set(ids[ids.duplicated()])))}")
    stations = []
    for row in df.itertuples(index=False):
        rec = row._asdict()
        name = rec.get("name")
        source = rec.get("source")
        stations.append(
            Station(
                id=str(rec["id"]),
                name="" if name is None or pd.isna(name) else str(name),
                type=str(rec["type"]),  # type: ignore[arg-type]
                lon=float(rec["lon"]),
                lat=float(rec["lat"]),
                source=str(source) if source is not None and not pd.isna(source) else f"file: {origin}",
            )
        )
    return tuple(stations)


def read_site_posts(path: str | os.PathLike[str]) -> list[tuple[str, str, float, float]]:
    """New posts of a siting plan: the ``sites.geojson`` written by ``geodispatch site``.

    Features whose ``status`` is ``new`` are returned (``existing`` ones are today's stations,
    already in the scenario); a file without a ``status`` property is taken as all new posts.

    Returns
    -------
    list of (id, name, lon, lat)
        ``id`` is ``post-<step>`` (or ``post-<row>``), ``name`` the site's name when it has one.

    Raises
    ------
    SourceNotFoundError, CorruptFileError, InputError
        Missing or unreadable file, non-point features, no new post.
    """
    df = read_table(path, "sites")
    origin = Path(path).name
    check_lonlat(df, origin)
    if "status" in df.columns:
        df = df[df["status"].astype(str) == "new"]
    if df.empty:
        raise InputError(f"{origin}: no new post in the file (features with status 'new')")
    out = []
    for i, rec in enumerate(df.to_dict("records")):
        step = rec.get("step")
        pid = f"post-{int(step)}" if step is not None and not pd.isna(step) else f"post-{i + 1}"
        name = rec.get("name")
        label = str(name) if name is not None and not pd.isna(name) and str(name) else pid
        out.append((pid, label, float(rec["lon"]), float(rec["lat"])))
    return out

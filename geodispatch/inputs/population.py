"""Readers for population and administrative areas, validated at the boundary.

Population comes as points (GeoJSON / GeoPackage points, or CSV ``lon,lat,population``), as
polygons with a population column (spread evenly over a regular grid of points inside each
polygon), or as a WorldPop-style GeoTIFF raster of people per cell (one point per populated
cell centre, read with rasterio). Every reader returns a DataFrame ``lon, lat, population``
in EPSG:4326 with finite, non-negative population.

Areas (desa / kelurahan / kecamatan polygons) come from GeoJSON / GeoPackage / Shapefile with
a name column; they are returned as a GeoDataFrame ``name, geometry`` in EPSG:4326.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geodispatch.errors import CorruptFileError, CoverageError, UnsupportedFormatError
from geodispatch.inputs.tables import VECTOR_SUFFIXES, check_lonlat, existing_file, read_table, to_wgs84

POPULATION_COLUMNS = (
    "population",
    "pop",
    "penduduk",
    "jumlah_penduduk",
    "jumlah",
    "jiwa",
    "total_population",
    "pop_total",
    "value",
)
"""Column names recognised as population (case-insensitive), in order of preference."""

NAME_COLUMNS = ("name", "nama", "desa", "kelurahan", "nama_desa", "namobj", "wadmkd", "village", "kecamatan", "wadmkc")
"""Column names recognised as an area's name (case-insensitive), in order of preference."""

KECAMATAN_COLUMNS = ("kecamatan", "nama_kecamatan", "nama_kec", "wadmkc", "district")
"""Column names recognised as the kecamatan of a desa (kept as ``kecamatan`` when not the name)."""

CODE_COLUMNS = ("kode", "code", "kode_wilayah", "kdepum", "kode_desa")
"""Column names recognised as the BPS/Kemendagri area code (kept as ``code``)."""

RASTER_SUFFIXES = (".tif", ".tiff")
POLYGON_SPACING_M = 100.0
"""Grid spacing (m) of the points that spread a polygon's population."""
MAX_POINTS_PER_POLYGON = 5000


_POPULATION_OPTION = "--population-column (column= of read_population)"
_AREA_NAME_OPTION = "--area-name-column (name_column= of read_areas)"


def _find_column(
    columns: Any, wanted: str | None, candidates: tuple[str, ...], what: str, origin: str, option: str
) -> str:
    """The column holding ``what``: ``wanted`` when given, else the first of ``candidates`` present.

    ``option`` is the CLI option (and keyword) that names the column, quoted in the error.
    """
    cols = [str(c) for c in columns]
    if wanted is not None:
        if wanted in cols:
            return wanted
        raise CoverageError(f"{origin}: no column {wanted!r} for {what}; columns are: {', '.join(cols)}")
    lower = {c.lower(): c for c in cols}
    for cand in candidates:
        if cand in lower:
            return lower[cand]
    raise CoverageError(
        f"{origin}: no {what} column found (looked for {', '.join(candidates)}); "
        f"columns are: {', '.join(c for c in cols if c != 'geometry')}; name it with {option}"
    )


def _check_population(values: Any, origin: str) -> np.ndarray:
    pop = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    if np.isnan(pop).any():
        bad = int(np.isnan(pop).sum())
        raise CoverageError(f"{origin}: {bad} population value(s) are blank or not numbers; fix or remove those rows")
    if (pop < 0).any():
        bad = int((pop < 0).sum())
        raise CoverageError(
            f"{origin}: {bad} negative population value(s) (min {pop.min():g}); population must be >= 0"
        )
    if not np.isfinite(pop).all():
        raise CoverageError(f"{origin}: population values must be finite numbers")
    return pop


def population_frame(lon: Any, lat: Any, population: Any, origin: str = "population") -> pd.DataFrame:
    """Build and validate a ``lon, lat, population`` DataFrame (degrees, people).

    Raises
    ------
    CoverageError
        On blank, negative or infinite population.
    InputError
        On projected or swapped coordinates.
    """
    df = pd.DataFrame(
        {
            "lon": np.asarray(lon, dtype=float),
            "lat": np.asarray(lat, dtype=float),
            "population": _check_population(population, origin),
        }
    )
    check_lonlat(df, origin)
    return df


def read_population(
    path: str | os.PathLike[str], column: str | None = None, spacing_m: float = POLYGON_SPACING_M
) -> pd.DataFrame:
    """Read population points from CSV, GeoJSON / GeoPackage (points or polygons) or GeoTIFF.

    Parameters
    ----------
    path : path-like
        ``.csv`` with ``lon, lat`` and a population column; a vector file with a population
        column; or a ``.tif`` raster of people per cell (WorldPop style).
    column : str, optional
        Population column name (default: the first of :data:`POPULATION_COLUMNS` present).
    spacing_m : float
        Grid spacing (m) used to spread polygon population over points.

    Returns
    -------
    pandas.DataFrame
        ``lon``, ``lat`` (degrees, EPSG:4326) and ``population`` (people, >= 0).

    Raises
    ------
    CoverageError
        No population column, negative or blank values, an empty file.
    InputError
        Projected coordinates without a CRS.
    SourceNotFoundError, UnsupportedFormatError, CorruptFileError
        Missing, unknown or unreadable file.
    """
    p = existing_file(path, "population")
    origin = p.name
    low = p.name.lower()
    if low.endswith(RASTER_SUFFIXES):
        df = _read_raster(p)
    elif low.endswith(VECTOR_SUFFIXES):
        df = _read_vector_population(p, column, spacing_m)
    elif low.endswith(".csv"):
        table = read_table(p, "population")
        col = _find_column(table.columns, column, POPULATION_COLUMNS, "population", origin, _POPULATION_OPTION)
        check_lonlat(table, origin)
        df = population_frame(table["lon"], table["lat"], table[col], origin)
    else:
        raise UnsupportedFormatError(f"{p}: unsupported population file; use .csv, .geojson, .gpkg or .tif")
    if df.empty:
        raise CoverageError(f"{origin}: the population file has no populated points")
    return df


def _read_vector_population(p: Path, column: str | None, spacing_m: float) -> pd.DataFrame:
    import geopandas as gpd

    try:
        gdf = gpd.read_file(p)
    except Exception as exc:
        raise CorruptFileError(f"{p}: cannot read population file ({type(exc).__name__}: {exc})") from exc
    gdf = to_wgs84(gdf, p.name)
    col = _find_column(gdf.columns, column, POPULATION_COLUMNS, "population", p.name, _POPULATION_OPTION)
    located = (gdf.geometry.notna() & ~gdf.geometry.is_empty).to_numpy()
    lost = _check_population(gdf[col], p.name)[~located]
    if (lost > 0).any():  # people with no place would silently vanish from every total
        raise CoverageError(
            f"{p.name}: {int((lost > 0).sum())} feature(s) with {lost.sum():g} people have no geometry; "
            "give them a location or remove them"
        )
    gdf = gdf[located]
    pop = _check_population(gdf[col], p.name)
    kinds = set(gdf.geom_type)
    if kinds <= {"Point"}:
        return population_frame(gdf.geometry.x, gdf.geometry.y, pop, p.name)
    if kinds <= {"Polygon", "MultiPolygon"}:
        return spread_polygons(gdf.geometry.to_numpy(), pop, spacing_m, p.name)
    raise CoverageError(f"{p.name}: population geometries must be all points or all polygons, got {sorted(kinds)}")


def spread_polygons(
    polygons: Any, population: Any, spacing_m: float = POLYGON_SPACING_M, origin: str = ""
) -> pd.DataFrame:
    """Spread each polygon's population evenly over grid points inside it.

    Parameters
    ----------
    polygons : array of shapely (Multi)Polygon
        Lon/lat polygons (EPSG:4326).
    population : array-like of float
        People per polygon.
    spacing_m : float
        Grid spacing, metres (widened for very large polygons to at most
        :data:`MAX_POINTS_PER_POLYGON` points); a polygon too small for any grid point gets its
        representative point.

    Returns
    -------
    pandas.DataFrame
        ``lon, lat, population``.
    """
    import shapely
    from pyproj import Transformer

    from geodispatch.geometry import utm_crs

    geoms = np.asarray(polygons, dtype=object)
    pop = np.asarray(population, dtype=float)
    if len(geoms) == 0:
        return population_frame([], [], [], origin)
    bounds = shapely.total_bounds(geoms)
    crs = utm_crs((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
    fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    inv = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    metric = shapely.transform(geoms, lambda xy: np.column_stack(fwd.transform(xy[:, 0], xy[:, 1])))
    xs, ys, ps = [], [], []
    for geom, people in zip(metric, pop, strict=True):
        if people <= 0:
            continue
        minx, miny, maxx, maxy = geom.bounds
        step = max(spacing_m, np.sqrt(geom.area / MAX_POINTS_PER_POLYGON))
        mx, my = np.meshgrid(np.arange(minx + step / 2, maxx, step), np.arange(miny + step / 2, maxy, step))
        gx, gy = mx.ravel(), my.ravel()
        inside = shapely.contains_xy(geom, gx, gy) if len(gx) else np.zeros(0, dtype=bool)
        if not inside.any():
            rep = geom.representative_point()
            gx, gy, inside = np.array([rep.x]), np.array([rep.y]), np.array([True])
        k = int(inside.sum())
        xs.append(gx[inside])
        ys.append(gy[inside])
        ps.append(np.full(k, people / k))
    if not xs:
        return population_frame([], [], [], origin)
    lon, lat = inv.transform(np.concatenate(xs), np.concatenate(ys))
    return population_frame(lon, lat, np.concatenate(ps), origin)


def _read_raster(p: Path) -> pd.DataFrame:
    import rasterio
    from pyproj import CRS, Transformer

    try:
        with rasterio.open(p) as src:
            band = src.read(1, masked=True)
            transform = src.transform
            crs = src.crs
    except rasterio.errors.RasterioIOError as exc:
        raise CorruptFileError(f"{p}: cannot read raster ({exc})") from exc
    values = np.ma.filled(band.astype(float), np.nan)
    finite = np.isfinite(values)
    if (values[finite] < 0).any():
        raise CoverageError(
            f"{p.name}: negative population cells (min {np.nanmin(values):g}); set the raster's nodata value "
            "or fix the values"
        )
    rows, cols = np.nonzero(finite & (values > 0))
    xs, ys = rasterio.transform.xy(transform, rows, cols, offset="center")
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if crs is None:
        if len(xs) and (np.abs(xs).max() > 180 or np.abs(ys).max() > 90):
            raise CoverageError(f"{p.name}: raster coordinates look projected but it has no CRS; save it with its CRS")
    elif CRS.from_user_input(crs.to_wkt()).to_epsg() != 4326:
        tr = Transformer.from_crs(CRS.from_user_input(crs.to_wkt()), "EPSG:4326", always_xy=True)
        xs, ys = tr.transform(xs, ys)
    return population_frame(xs, ys, values[rows, cols], p.name)


def read_areas(path: str | os.PathLike[str], name_column: str | None = None) -> Any:
    """Read administrative areas (desa / kelurahan / kecamatan polygons).

    Parameters
    ----------
    path : path-like
        GeoJSON, GeoPackage or Shapefile of polygons.
    name_column : str, optional
        Column with the area name (default: first of :data:`NAME_COLUMNS` present).

    Returns
    -------
    geopandas.GeoDataFrame
        ``name`` and ``geometry`` (EPSG:4326), one row per area.

    Raises
    ------
    CoverageError
        No name column, no polygons.
    InputError
        Projected coordinates without a CRS.
    """
    import geopandas as gpd

    p = existing_file(path, "areas")
    if not p.name.lower().endswith(VECTOR_SUFFIXES):
        raise UnsupportedFormatError(f"{p}: areas must be a .geojson, .gpkg or .shp file of polygons")
    try:
        gdf = gpd.read_file(p)
    except Exception as exc:
        raise CorruptFileError(f"{p}: cannot read areas file ({type(exc).__name__}: {exc})") from exc
    return areas_frame(gdf, name_column, p.name)


def areas_frame(gdf: Any, name_column: str | None = None, origin: str = "areas") -> Any:
    """Validate a GeoDataFrame of areas and return ``name, geometry`` in EPSG:4326.

    Raises
    ------
    CoverageError
        No name column, no polygon geometries, or some rows without a polygon (named in the message).
    """
    import geopandas as gpd

    gdf = to_wgs84(gdf, origin)
    geoms = gdf.geometry
    polygon = (geoms.notna() & ~geoms.is_empty & gdf.geom_type.isin(["Polygon", "MultiPolygon"])).to_numpy()
    if not polygon.any():
        raise CoverageError(f"{origin}: no polygons found; areas must be desa/kecamatan polygons with a name column")
    col = _find_column(gdf.columns, name_column, NAME_COLUMNS, "area name", origin, _AREA_NAME_OPTION)
    if not polygon.all():  # a desa without a polygon would silently lose its row in every area table
        names = gdf[col].astype(str).to_numpy()[~polygon]
        shown = ", ".join(repr(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")
        raise CoverageError(
            f"{origin}: {len(names)} area(s) have no polygon (empty geometry, a point or a line): {shown}; "
            "give them their boundary or remove them"
        )
    geom = gdf.geometry.make_valid() if not gdf.geometry.is_valid.all() else gdf.geometry
    columns = {"name": gdf[col].astype(str).to_numpy()}
    lower = {str(c).lower(): c for c in gdf.columns if c != col}
    for key, names in (("code", CODE_COLUMNS), ("kecamatan", KECAMATAN_COLUMNS)):
        found = next((lower[n] for n in names if n in lower), None)
        if found is not None:
            columns[key] = gdf[found].fillna("").astype(str).to_numpy()
    return gpd.GeoDataFrame(columns, geometry=geom.to_numpy(), crs=4326)


def add_kecamatan(areas: Any, kecamatan: Any) -> Any:
    """Give each desa/kelurahan the name of its kecamatan, as a ``kecamatan`` column.

    A desa whose BPS/Kemendagri code starts with a kecamatan's code (``73.03.01.1001`` in
    ``73.03.01``) belongs to it; otherwise (no codes) to the kecamatan holding the desa's
    representative point. A desa matched by neither gets an empty name.

    Parameters
    ----------
    areas : GeoDataFrame
        From :func:`read_areas` / :func:`areas_frame` (``name``, optional ``code``).
    kecamatan : GeoDataFrame
        Kecamatan polygons from :func:`read_areas` (``name``, optional ``code``).

    Returns
    -------
    GeoDataFrame
        A copy of ``areas`` with ``kecamatan``.
    """
    from geodispatch.inputs.areas import assign_areas

    names = kecamatan["name"].astype(str).to_numpy()
    out = np.full(len(areas), "", dtype=object)
    if "code" in areas.columns and "code" in kecamatan.columns:
        by_code = {str(c): n for c, n in zip(kecamatan["code"], names, strict=True) if str(c)}
        for i, code in enumerate(areas["code"].astype(str)):
            parent = code.rsplit(".", 1)[0] if "." in code else ""
            out[i] = by_code.get(parent, "")
    todo = np.flatnonzero(out == "")
    if todo.size:
        pts = areas.geometry.iloc[todo].representative_point()
        which = assign_areas(kecamatan, pts.x.to_numpy(), pts.y.to_numpy())
        out[todo] = np.where(which >= 0, names[np.maximum(which, 0)], "")
    result = areas.copy()
    result["kecamatan"] = out.astype(str)
    return result

"""The calls a simulation replays: read from a file or generated from a calibration.

A :class:`CallTable` is columnar (plain numpy arrays, picklable): one row per call with its time
in seconds from the start of the simulated period, type, priority and place, and optionally a
fixed on-scene time and whether the patient is taken to hospital (drawn from the calibration
when missing).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geodispatch.errors import InputError
from geodispatch.sim.calibration import Calibration, check_calibration

_TRUE = {"1", "true", "yes", "y", "ya"}
_FALSE = {"0", "false", "no", "n", "tidak"}


@dataclass(frozen=True)
class CallTable:
    """Calls, one row each, sorted by time.

    Attributes
    ----------
    id : ndarray of str
        Unique call ids.
    time_s : ndarray of float64
        Seconds from the start of the simulated period (non-decreasing).
    type : ndarray of str
        Incident type (a key of the SOP table).
    priority : ndarray of int64
        1 (life-threatening) to 3.
    lon, lat : ndarray of float64
        Place, degrees (EPSG:4326).
    on_scene_s : ndarray of float64
        Fixed on-scene time, seconds; NaN = draw from the calibration.
    transport : ndarray of int8
        1 = the ambulance takes the patient to hospital, 0 = not, -1 = draw.
    start : str
        ISO 8601 time of ``time_s`` 0 when known (a calls file with dates), else "".
    """

    id: np.ndarray
    time_s: np.ndarray
    type: np.ndarray
    priority: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    on_scene_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    transport: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    start: str = ""

    def __post_init__(self) -> None:
        n = len(self.id)
        set_ = object.__setattr__
        set_(self, "id", np.asarray(self.id, dtype=object).astype(str).astype(object))
        set_(self, "time_s", np.asarray(self.time_s, dtype=np.float64))
        set_(self, "type", np.asarray(self.type, dtype=object).astype(str).astype(object))
        set_(self, "priority", np.asarray(self.priority, dtype=np.int64))
        set_(self, "lon", np.asarray(self.lon, dtype=np.float64))
        set_(self, "lat", np.asarray(self.lat, dtype=np.float64))
        if len(self.on_scene_s) == 0 and n:
            set_(self, "on_scene_s", np.full(n, np.nan))
        if len(self.transport) == 0 and n:
            set_(self, "transport", np.full(n, -1, dtype=np.int8))
        set_(self, "on_scene_s", np.asarray(self.on_scene_s, dtype=np.float64))
        set_(self, "transport", np.asarray(self.transport, dtype=np.int8))
        for name in ("time_s", "type", "priority", "lon", "lat", "on_scene_s", "transport"):
            if len(getattr(self, name)) != n:
                raise InputError(f"calls: column {name} has {len(getattr(self, name))} rows, id has {n}")
        _validate(self)

    def __len__(self) -> int:
        return len(self.id)

    @property
    def span_s(self) -> float:
        """Time from 0 to the last call, seconds."""
        return float(self.time_s[-1]) if len(self) else 0.0


def _validate(calls: CallTable, origin: str = "calls") -> None:
    """Ids unique, times finite, non-negative and in order, priorities 1-3, lon/lat degrees."""
    if len(calls) == 0:
        return
    ids = calls.id
    if len(set(ids.tolist())) != len(ids):
        seen: set[str] = set()
        dupes = sorted({i for i in ids.tolist() if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
        raise InputError(f"{origin}: duplicate call ids: {', '.join(dupes[:5])}")
    t = calls.time_s
    if not np.isfinite(t).all() or (t < 0).any():
        row = int(np.flatnonzero(~np.isfinite(t) | (t < 0))[0])
        raise InputError(f"{origin}: call {ids[row]} has time {t[row]!r}; times must be finite seconds >= 0")
    back = np.flatnonzero(np.diff(t) < 0)
    if len(back):
        j = int(back[0]) + 1
        raise InputError(
            f"{origin}: times out of order at call {ids[j]} ({t[j]:g} s comes after {t[j - 1]:g} s); "
            "sort the calls by time"
        )
    bad = ~np.isin(calls.priority, (1, 2, 3))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(f"{origin}: call {ids[row]} has priority {calls.priority[row]}; use 1, 2 or 3")
    lonlat_bad = (
        ~(np.isfinite(calls.lon) & np.isfinite(calls.lat)) | (np.abs(calls.lon) > 180) | (np.abs(calls.lat) > 90)
    )
    if lonlat_bad.any():
        row = int(np.flatnonzero(lonlat_bad)[0])
        raise InputError(
            f"{origin}: call {ids[row]} at lon={calls.lon[row]!r}, lat={calls.lat[row]!r} is not EPSG:4326 degrees"
        )
    scene = calls.on_scene_s
    if (np.isfinite(scene) & (scene < 0)).any() or np.isinf(scene).any():
        row = int(np.flatnonzero(np.isinf(scene) | (scene < 0))[0])
        raise InputError(f"{origin}: call {ids[row]} has a negative or infinite on-scene time")


def read_calls(path: str | os.PathLike[str]) -> CallTable:
    """Read calls from a CSV: ``id,time,type,priority,lon,lat[,on_scene_min,transport]``.

    ``time`` is either seconds from the start of the period or an ISO 8601 timestamp (then time 0
    is midnight of the first call's day, so hours of the day are kept). ``transport`` is
    1/0/true/false/yes/no; blank = drawn from the calibration.

    Raises
    ------
    SourceNotFoundError, CorruptFileError, InputError
        Missing file, unreadable CSV, missing columns, bad values, times out of order.
    """
    import pandas as pd

    from geodispatch.inputs import read_table

    df = read_table(path, "calls")
    origin = os.path.basename(str(path))
    need = ["id", "time", "type", "priority", "lon", "lat"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputError(f"{origin}: missing column(s) {', '.join(missing)} (need {','.join(need)})")
    if df.empty:
        raise InputError(f"{origin}: no calls")
    raw = df["time"]
    start = ""
    numeric = pd.to_numeric(raw, errors="coerce")
    if numeric.notna().all():
        time_s = numeric.to_numpy(dtype=float)
    else:
        stamps = pd.to_datetime(raw.astype(str), errors="coerce", utc=True, format="ISO8601")
        if stamps.isna().any():
            row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
            raise InputError(
                f"{origin}: call {df['id'].iloc[row]} has time {raw.iloc[row]!r}; "
                "give seconds from the start or an ISO 8601 timestamp"
            )
        t0 = stamps.min().floor("D")
        time_s = (stamps - t0).dt.total_seconds().to_numpy(dtype=float)
        start = t0.isoformat()
    prio = pd.to_numeric(df["priority"], errors="coerce")
    if prio.isna().any() or (prio != prio.round()).any():
        row = int(np.flatnonzero((prio.isna() | (prio != prio.round())).to_numpy())[0])
        raise InputError(
            f"{origin}: call {df['id'].iloc[row]} has priority {df['priority'].iloc[row]!r}; use 1, 2 or 3"
        )
    for col in ("lon", "lat"):
        if not pd.api.types.is_numeric_dtype(df[col]) or df[col].isna().any():
            raise InputError(f"{origin}: column {col!r} must be numbers (degrees) with no blanks")
    scene = np.full(len(df), np.nan)
    if "on_scene_min" in df.columns:
        v = pd.to_numeric(df["on_scene_min"], errors="coerce")
        blank = df["on_scene_min"].isna()
        if (v.isna() & ~blank).any():
            row = int(np.flatnonzero((v.isna() & ~blank).to_numpy())[0])
            raise InputError(f"{origin}: call {df['id'].iloc[row]}: on_scene_min must be minutes")
        scene = v.to_numpy(dtype=float) * 60.0
    transport = np.full(len(df), -1, dtype=np.int8)
    if "transport" in df.columns:
        for j, value in enumerate(df["transport"].tolist()):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            text = str(value).strip().lower()
            if text.endswith(".0"):
                text = text[:-2]
            if text in _TRUE:
                transport[j] = 1
            elif text in _FALSE:
                transport[j] = 0
            elif text:
                raise InputError(f"{origin}: call {df['id'].iloc[j]}: transport must be 1/0, yes/no or blank")
    try:
        return CallTable(
            id=df["id"].astype(str).to_numpy(dtype=object),
            time_s=time_s,
            type=df["type"].astype(str).str.strip().to_numpy(dtype=object),
            priority=prio.to_numpy(dtype=np.int64),
            lon=df["lon"].to_numpy(dtype=float),
            lat=df["lat"].to_numpy(dtype=float),
            on_scene_s=scene,
            transport=transport,
            start=start,
        )
    except InputError as exc:
        raise InputError(str(exc).replace("calls:", f"{origin}:", 1)) from None


def generate_calls(
    population: Any,
    days: float,
    calls_per_day: float,
    seed: int = 0,
    calibration: Calibration | None = None,
    surge: tuple[float, float, float] | None = None,
) -> CallTable:
    """A seeded stream of calls: Poisson arrivals by hour of day, placed by population.

    Arrivals are a non-homogeneous Poisson process whose rate is constant within each hour
    (``calls_per_day`` x the calibration's hour-of-day profile / 24 per hour, times the surge
    factor inside the surge window): the count of each hour is Poisson and its calls are
    uniform within the hour. Each call is placed at a population point drawn in proportion to its
    people; type and priority follow the calibration's mix.

    Parameters
    ----------
    population : DataFrame or mapping
        ``lon``, ``lat`` (degrees) and ``population`` (people) of the points calls may come from
        (pass only points on the network).
    days : float
        Length of the period, days.
    calls_per_day : float
        Mean calls per day (before a surge).
    seed : int
        Random seed.
    calibration : Calibration, optional
        Default :data:`~geodispatch.sim.calibration.DEFAULT_CALIBRATION`.
    surge : (start hour, duration hours, factor), optional
        Multiply the rate by ``factor`` (>= 1) from ``start`` for ``duration`` hours (a storm,
        a Lebaran traffic peak), hours from the start of the period.

    Returns
    -------
    CallTable
    """
    from geodispatch.sim.calibration import DEFAULT_CALIBRATION

    cal = check_calibration(calibration or DEFAULT_CALIBRATION)
    if not (math.isfinite(days) and days > 0):
        raise InputError(f"days must be a positive number, got {days!r}")
    if not (math.isfinite(calls_per_day) and calls_per_day >= 0):
        raise InputError(f"calls per day must be a non-negative number, got {calls_per_day!r}")
    try:
        lon = np.asarray(population["lon"], dtype=float)
        lat = np.asarray(population["lat"], dtype=float)
        weight = np.nan_to_num(np.asarray(population["population"], dtype=float), nan=0.0)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError("population must have lon, lat (degrees) and population (people) columns") from exc
    if len(weight) == 0 or weight.sum() <= 0 or (weight < 0).any():
        raise InputError("no population to place calls at (need points with people on the network)")
    s0, s_len, s_factor = surge if surge is not None else (0.0, 0.0, 1.0)
    if not (s_factor >= 1.0 and s_len >= 0 and s0 >= 0):
        raise InputError("surge needs a start hour >= 0, a duration >= 0 hours and a factor >= 1")
    rng = np.random.default_rng(seed)
    n_hours = math.ceil(days * 24)
    hour = np.arange(n_hours)
    profile = np.asarray(cal.hourly, dtype=float)
    profile = profile / profile.mean()
    rate = calls_per_day / 24.0 * profile[hour % 24]
    rate = np.where((hour + 1 > s0) & (hour < s0 + s_len), rate * s_factor, rate)
    # the last hour may be cut short by a fractional day count
    length = np.minimum(1.0, days * 24 - hour)
    counts = rng.poisson(rate * length)
    start = np.repeat(hour * 3600.0, counts)
    times = np.sort(start + rng.random(len(start)) * 3600.0 * np.repeat(length, counts))
    # a surge window that starts or ends inside an hour: thin the boosted hour's calls outside it
    if surge is not None and s_factor > 1.0 and len(times):
        inside = (times >= s0 * 3600.0) & (times < (s0 + s_len) * 3600.0)
        boosted = (np.floor(times / 3600.0) + 1 > s0) & (np.floor(times / 3600.0) < s0 + s_len)
        keep = inside | ~boosted | (rng.random(len(times)) < 1.0 / s_factor)
        times = times[keep]
    n = len(times)
    kinds = list(cal.type_share)
    p_kind = np.asarray([cal.type_share[k] for k in kinds], dtype=float)
    kind = rng.choice(len(kinds), size=n, p=p_kind / p_kind.sum())
    prio = np.empty(n, dtype=np.int64)
    for j, k in enumerate(kinds):
        m = kind == j
        pr = np.asarray(cal.priority_share[k], dtype=float)
        prio[m] = rng.choice(3, size=int(m.sum()), p=pr / pr.sum()) + 1
    where = rng.choice(len(weight), size=n, p=weight / weight.sum())
    width = max(5, len(str(n)))
    return CallTable(
        id=np.asarray([f"c{j:0{width}d}" for j in range(n)], dtype=object),
        time_s=times,
        type=np.asarray([kinds[j] for j in kind], dtype=object),
        priority=prio,
        lon=lon[where],
        lat=lat[where],
    )

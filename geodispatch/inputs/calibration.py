"""Call mix and service times, calibrated from a real week of fire/EMS calls or built in.

The calibration is always an explicit input: :func:`calibrate` reads the file it is given (the
DataSF "Fire Department Calls for Service" export, e.g.
``../shared/data/incidents/sf_fire_calls_2016-12-31_to_2017-01-07.csv``: 7,704 unit responses
to 3,560 San Francisco calls) and :data:`DEFAULT_CALIBRATION` is used when no file is given.

What is taken from the file
---------------------------
* **type mix** (one row per ``Call Number``) mapped to SOP incident types: ``Medical Incident``
  -> medis; structure/outside/vehicle fires, alarms, electrical hazards, gas leaks, odours, fuel
  spills, outside smoke, HazMat, explosions -> kebakaran; ``Traffic Collision`` -> kecelakaan;
  elevator, water, confined-space, industrial, high-angle and extrication rescues ->
  penyelamatan; every other call type (``Other``, ``Citizen Assist / Service Call``, ...) has no
  112 counterpart and is left out.
* **priority mix per type**: ``Final Priority`` 3 (lights and siren) with ``Call Type Group``
  "Potentially Life-Threatening" or "Fire" -> 1; other ``Final Priority`` 3 -> 2; ``Final
  Priority`` 2 (non-emergency) -> 3.
* **hour-of-day profile** of ``Received DtTm`` and **calls per person per day** (calls kept / 8
  days / San Francisco's 2016 population, 870,887, US Census Bureau estimate, not in the file).
* **durations** (rows with both timestamps, 0 < duration < 6 h), sampled empirically: dispatch
  delay = ``Dispatch DtTm`` - ``Received DtTm`` (per call); turnout = ``Response DtTm`` -
  ``Dispatch DtTm``; on scene = (``Transport DtTm`` or ``Available DtTm``) - ``On Scene DtTm``;
  handover at the hospital = ``Available DtTm`` - ``Hospital DtTm``; ambulances from ``Unit Type``
  MEDIC and PRIVATE rows, every other unit type from ENGINE and TRUCK rows.
* **transport share**: share of ambulance rows on scene that have a ``Transport DtTm``.
* **transport to available** = ``Available DtTm`` - ``Transport DtTm`` (drive to hospital,
  handover, clear), for models without hospitals on the network.

The simulator (:mod:`geodispatch.sim`) does not use the drive to the hospital from the file: it
drives it on the road network and takes only the handover. The network-free day replay
(:mod:`geodispatch.assign.evaluate`) takes the whole hospital leg from the file. Both read this
one calibration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geodispatch.errors import CorruptFileError, InputError, SourceNotFoundError
from geodispatch.inputs.sf_calls import MAX_DURATION_S as _MAX_DURATION_S
from geodispatch.inputs.sf_calls import SF_POPULATION_2016, SF_TYPE

_SF_FORMAT = "%m/%d/%Y %I:%M:%S %p"


@dataclass(frozen=True)
class Calibration:
    """Call mix and service-time samples.

    Attributes
    ----------
    type_share : dict
        Incident type -> share of calls.
    priority_share : dict
        Incident type -> shares of priorities 1, 2, 3.
    hourly : ndarray, shape (24,)
        Relative arrival intensity per hour of day (mean 1).
    calls_per_person_day : float
        Calls per person per day.
    dispatch_delay_s : ndarray
        Call received -> unit dispatched, seconds (samples).
    turnout_s, onscene_s : dict of ndarray
        ``"ambulance"`` / ``"other"`` -> duration samples, seconds.
    handover_s : ndarray
        Ambulance at the hospital -> available again, seconds (samples).
    transport_share : float
        Share of ambulance responses that take a patient to hospital.
    source : str
        Where the figures come from.
    transport_to_available_s : ndarray
        Ambulance leaving the scene with a patient -> available again (drive to hospital,
        handover, clear), seconds (samples); for models with no hospitals on the network.
    """

    type_share: dict[str, float]
    priority_share: dict[str, tuple[float, float, float]]
    hourly: np.ndarray
    calls_per_person_day: float
    dispatch_delay_s: np.ndarray
    turnout_s: dict[str, np.ndarray]
    onscene_s: dict[str, np.ndarray]
    handover_s: np.ndarray
    transport_share: float
    source: str
    transport_to_available_s: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def mean_service_s(self, kind: str) -> float:
        """Mean turnout + on scene (+ share x handover for ambulances), seconds (no driving)."""
        mean = float(np.mean(self.turnout_s[kind]) + np.mean(self.onscene_s[kind]))
        if kind == "ambulance":
            mean += self.transport_share * float(np.mean(self.handover_s))
        return mean


def _lognormal(median: float, sigma: float, n: int = 2000, seed: int = 0) -> np.ndarray:
    return np.exp(np.log(median) + sigma * np.random.default_rng(seed).standard_normal(n))


DEFAULT_CALIBRATION = Calibration(
    type_share={"medis": 0.80, "kebakaran": 0.17, "kecelakaan": 0.03, "penyelamatan": 0.01},
    priority_share={
        "medis": (0.55, 0.03, 0.42),
        "kebakaran": (0.15, 0.80, 0.05),
        "kecelakaan": (0.60, 0.20, 0.20),
        "penyelamatan": (0.20, 0.70, 0.10),
    },
    hourly=np.ones(24),
    calls_per_person_day=0.00051,
    dispatch_delay_s=_lognormal(122, 0.97, seed=1),
    turnout_s={"ambulance": _lognormal(14, 1.01, seed=2), "other": _lognormal(80, 0.69, seed=3)},
    onscene_s={"ambulance": _lognormal(1075, 1.11, seed=4), "other": _lognormal(577, 1.23, seed=5)},
    handover_s=_lognormal(1912, 0.59, seed=6),
    transport_share=0.82,
    transport_to_available_s=_lognormal(2930, 0.3, seed=7),
    source=(
        "built-in defaults: medians and log-spreads rounded from the SF week of DataSF fire/EMS calls "
        "(lognormal draws), flat hour-of-day profile"
    ),
)
"""Used when no calibration file is given (figures rounded from the SF week, see the module)."""


def calibrate(path: str | Path) -> Calibration:
    """Calibrate the call mix and service times from a DataSF fire calls CSV.

    Parameters
    ----------
    path : path
        The CSV (e.g. ``../shared/data/incidents/sf_fire_calls_2016-12-31_to_2017-01-07.csv``).

    Returns
    -------
    Calibration

    Raises
    ------
    SourceNotFoundError
        When the file does not exist.
    CorruptFileError
        When it is not the DataSF fire calls format or keeps no usable call.
    """
    import pandas as pd

    p = Path(path).expanduser()
    if not p.is_file():
        raise SourceNotFoundError(f"calibration file not found: {p}")
    cols = [
        "Call Number", "Call Type", "Call Type Group", "Final Priority", "Unit Type", "Received DtTm",
        "Dispatch DtTm", "Response DtTm", "On Scene DtTm", "Transport DtTm", "Hospital DtTm", "Available DtTm",
    ]  # fmt: skip
    try:
        df = pd.read_csv(p, usecols=cols)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"{p}: not the DataSF fire calls format ({exc})") from exc
    for c in cols[5:]:
        df[c] = pd.to_datetime(df[c], format=_SF_FORMAT, errors="coerce")
    df["kind"] = df["Call Type"].map(SF_TYPE)
    calls = df.drop_duplicates("Call Number")
    calls = calls[calls["kind"].notna() & calls["Received DtTm"].notna()]
    if calls.empty:
        raise CorruptFileError(f"{p}: no call of a known type with a received time")
    life = calls["Call Type Group"].fillna("").isin(["Potentially Life-Threatening", "Fire"])
    prio = np.where(calls["Final Priority"] == 3, np.where(life, 1, 2), 3)
    type_share = calls["kind"].value_counts(normalize=True).to_dict()
    priority_share: dict[str, tuple[float, float, float]] = {}
    for kind in type_share:
        counts = np.bincount(prio[(calls["kind"] == kind).to_numpy()], minlength=4)[1:].astype(float)
        a, b, c = (counts / counts.sum()).tolist()
        priority_share[str(kind)] = (a, b, c)
    hours = np.bincount(calls["Received DtTm"].dt.hour.astype(int), minlength=24).astype(float)
    span_days = (calls["Received DtTm"].max() - calls["Received DtTm"].min()).total_seconds() / 86400.0
    per_day = len(calls) / max(math.ceil(span_days), 1)

    def secs(a: Any, b: Any) -> np.ndarray:
        return np.asarray((b - a).dt.total_seconds(), dtype=float)

    def clean(v: np.ndarray, mask: Any = None) -> np.ndarray:
        v = v if mask is None else v[np.asarray(mask, dtype=bool)]
        return v[np.isfinite(v) & (v > 0) & (v < _MAX_DURATION_S)]

    is_amb = df["Unit Type"].isin(["MEDIC", "PRIVATE"]).to_numpy()
    is_fire = df["Unit Type"].isin(["ENGINE", "TRUCK"]).to_numpy()
    turnout = secs(df["Dispatch DtTm"], df["Response DtTm"])
    onscene = secs(df["On Scene DtTm"], df["Transport DtTm"].fillna(df["Available DtTm"]))
    handover = secs(df["Hospital DtTm"], df["Available DtTm"])
    after_transport = secs(df["Transport DtTm"], df["Available DtTm"])
    on_amb = is_amb & df["On Scene DtTm"].notna().to_numpy()
    samples = {
        "dispatch delay": clean(secs(calls["Received DtTm"], calls["Dispatch DtTm"])),
        "ambulance turnout": clean(turnout, is_amb),
        "other turnout": clean(turnout, is_fire),
        "ambulance on-scene": clean(onscene, is_amb),
        "other on-scene": clean(onscene, is_fire),
        "handover": clean(handover, is_amb),
        "transport to available": clean(after_transport, is_amb),
    }
    empty = [k for k, v in samples.items() if len(v) == 0]
    if empty or not on_amb.any():
        raise CorruptFileError(f"{p}: no usable {', '.join(empty) or 'ambulance'} durations")
    return Calibration(
        type_share={str(k): float(v) for k, v in type_share.items()},
        priority_share=priority_share,
        hourly=hours / hours.mean(),
        calls_per_person_day=per_day / SF_POPULATION_2016,
        dispatch_delay_s=samples["dispatch delay"],
        turnout_s={"ambulance": samples["ambulance turnout"], "other": samples["other turnout"]},
        onscene_s={"ambulance": samples["ambulance on-scene"], "other": samples["other on-scene"]},
        handover_s=samples["handover"],
        transport_share=float(df["Transport DtTm"].notna().to_numpy()[on_amb].mean()),
        transport_to_available_s=samples["transport to available"],
        source=f"{p.name}: {len(calls):,} calls kept of {df['Call Number'].nunique():,}, {len(df):,} unit rows",
    )


def check_calibration(cal: Calibration) -> Calibration:
    """Validate a hand-made calibration (shares, non-negative samples).

    Raises
    ------
    InputError
        Naming the bad field.
    """
    if not isinstance(cal, Calibration):
        raise InputError(f"calibration must be a geodispatch.sim.Calibration, got {type(cal).__name__}")
    if not cal.type_share or any(v < 0 for v in cal.type_share.values()) or sum(cal.type_share.values()) <= 0:
        raise InputError("calibration.type_share needs non-negative shares with a positive sum")
    missing = sorted(set(cal.type_share) - set(cal.priority_share))
    if missing:
        raise InputError(f"calibration.priority_share has no line for {', '.join(missing)}")
    if np.asarray(cal.hourly).shape != (24,) or (np.asarray(cal.hourly) < 0).any() or np.sum(cal.hourly) <= 0:
        raise InputError("calibration.hourly needs 24 non-negative values with a positive sum")
    if not 0.0 <= cal.transport_share <= 1.0:
        raise InputError(f"calibration.transport_share must be in [0, 1], got {cal.transport_share}")
    arrays = {
        "dispatch_delay_s": cal.dispatch_delay_s, "handover_s": cal.handover_s,
        **{f"turnout_s[{k}]": v for k, v in cal.turnout_s.items()},
        **{f"onscene_s[{k}]": v for k, v in cal.onscene_s.items()},
    }  # fmt: skip
    for name, v in arrays.items():
        a = np.asarray(v, dtype=float)
        if a.size == 0 or not np.isfinite(a).all() or (a < 0).any():
            raise InputError(f"calibration.{name} needs at least one finite, non-negative duration (seconds)")
    for key in ("ambulance", "other"):
        if key not in cal.turnout_s or key not in cal.onscene_s:
            raise InputError(f"calibration.turnout_s and onscene_s need an {key!r} entry")
    return cal

"""One replication's result as a ``.npz`` file: plain arrays and a JSON header, no pickle.

A batch (``geodispatch batch simulate``) writes each replication as it finishes, so a rerun
resumes from the ones on disk; reading one back gives a :class:`ReplicationResult` equal to the
one written, array for array (floats round-trip exactly).
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from geodispatch.errors import CorruptFileError
from geodispatch.output import atomic_file
from geodispatch.sim.calls import CallTable
from geodispatch.sim.engine import ReplicationResult

_SCALARS = ("replication", "seed", "policy", "move_up", "horizon_s", "wall_s")
_CALL_FIELDS = ("id", "time_s", "type", "priority", "lon", "lat", "on_scene_s", "transport")


def save_replication(
    result: ReplicationResult, path: str | os.PathLike[str], meta: dict[str, Any] | None = None
) -> Path:
    """Write ``result`` (and ``meta``, any JSON-able dict) to ``path`` atomically.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    arrays: dict[str, np.ndarray] = {}
    for f in fields(ReplicationResult):
        if f.name in _SCALARS or f.name == "calls":
            continue
        arrays[f.name] = np.asarray(getattr(result, f.name))
    for name in _CALL_FIELDS:
        value = np.asarray(getattr(result.calls, name))
        arrays[f"calls.{name}"] = value.astype(str) if value.dtype == object else value
    header = {name: getattr(result, name) for name in _SCALARS}
    header["calls.start"] = result.calls.start
    header["meta"] = meta or {}
    arrays["header"] = np.asarray(json.dumps(header))
    with atomic_file(path, suffix=".npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
    return Path(path)


def load_replication(path: str | os.PathLike[str]) -> tuple[ReplicationResult, dict[str, Any]]:
    """Read a file of :func:`save_replication`: the result and its ``meta``.

    Raises
    ------
    CorruptFileError
        When the file cannot be read as a saved replication.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            arrays = {k: data[k] for k in data.files if k != "header"}
        calls = CallTable(**{name: arrays.pop(f"calls.{name}") for name in _CALL_FIELDS}, start=header["calls.start"])
        kwargs = {name: header[name] for name in _SCALARS}
        result = ReplicationResult(calls=calls, **kwargs, **arrays)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError(f"{Path(path).name}: not a saved replication ({exc})") from exc
    return result, dict(header.get("meta") or {})

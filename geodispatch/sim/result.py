"""Results of a simulation: per-call and per-unit tables, and headline figures with 95% CIs.

Every headline figure is computed per replication; the summary gives its mean over the
replications and a 95% confidence interval from Student's t with R - 1 degrees of freedom
(``null`` with a single replication: one run says nothing about its own spread).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geodispatch.sim.engine import ReplicationResult
from geodispatch.sim.model import SimModel


def ci95(values: Sequence[float] | np.ndarray) -> dict[str, Any]:
    """Mean and 95% confidence interval (Student's t) of per-replication values.

    NaN values (a figure undefined in a replication, e.g. no priority-1 call) are left out.

    Returns
    -------
    dict
        ``{"mean": m, "ci95": [lo, hi], "n": count}``; ``ci95`` is None with fewer than two
        values, ``mean`` None with none.
    """
    from scipy.special import stdtrit  # Student's t quantile (what scipy.stats.t.ppf calls; light import)

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return {"mean": None, "ci95": None, "n": 0}
    mean = float(v.mean())
    if len(v) < 2:
        return {"mean": mean, "ci95": None, "n": 1}
    half = float(stdtrit(len(v) - 1, 0.975) * v.std(ddof=1) / math.sqrt(len(v)))
    return {"mean": mean, "ci95": [mean - half, mean + half], "n": len(v)}


def _p90(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.percentile(x, 90)) if len(x) else math.nan


def _mean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else math.nan


def replication_figures(model: SimModel, rep: ReplicationResult) -> dict[str, float]:
    """Headline figures of one replication (flat dict; NaN where undefined).

    ``within_target`` counts every call: one that never got a unit counts as late.
    """
    resp = rep.response_s
    n = len(resp)
    target = model.target_s
    served = np.isfinite(resp)
    out: dict[str, float] = {
        "calls": float(n),
        "calls_served": float(served.sum()),
        "within_target": float((resp <= target).sum() / n) if n else math.nan,
        "mean_response_s": _mean(resp),
        "p90_response_s": _p90(resp),
        "share_queued": float((rep.queued_s > 1e-9).sum() / n) if n else math.nan,
        "mean_queued_s": _mean(rep.queued_s),
        "units_never_sent": float(rep.unserved.sum()),
        "transports_without_hospital": float(rep.no_hospital.sum()),
        "relocations": float(len(rep.relocations)),
        "mean_utilisation": float((rep.busy_s / rep.horizon_s).mean()) if rep.horizon_s > 0 else math.nan,
    }
    types = rep.calls.type
    for kind in sorted(set(types.tolist())):
        m = types == kind
        out[f"type:{kind}:within_target"] = float((resp[m] <= target).sum() / m.sum())
        out[f"type:{kind}:mean_response_s"] = _mean(resp[m])
        out[f"type:{kind}:p90_response_s"] = _p90(resp[m])
    for prio in (1, 2, 3):
        m = rep.calls.priority == prio
        if m.any():
            out[f"priority:{prio}:within_target"] = float((resp[m] <= target).sum() / m.sum())
            out[f"priority:{prio}:mean_response_s"] = _mean(resp[m])
            out[f"priority:{prio}:p90_response_s"] = _p90(resp[m])
    return out


@dataclass
class SimResult:
    """All replications of one policy / move-up rule.

    Attributes
    ----------
    model : SimModel
    replications : list of ReplicationResult
    calibration_source : str
    notes : list of str
        Things the planner should know (calls never served, transports without hospital...).
    """

    model: SimModel
    replications: list[ReplicationResult]
    notes: list[str] = field(default_factory=list)

    @property
    def policy(self) -> str:
        """Dispatch policy."""
        return self.model.policy

    @property
    def move_up(self) -> str:
        """Move-up rule."""
        return self.model.move_up

    def figures(self) -> list[dict[str, float]]:
        """:func:`replication_figures` of every replication."""
        return [replication_figures(self.model, r) for r in self.replications]

    def summary(self) -> dict[str, Any]:
        """Headline figures with their 95% CI over replications, JSON-ready.

        Keys: ``policy``, ``move_up``, ``replications``, ``target_s``, ``figures`` (name ->
        ``{"mean", "ci95", "n"}``), ``by_type`` / ``by_priority`` (same per group),
        ``utilisation`` (unit id -> busy share with CI), ``relocations`` and ``notes``.
        """
        figs = self.figures()
        names = sorted({k for f in figs for k in f})
        stats = {k: ci95([f.get(k, math.nan) for f in figs]) for k in names}
        head = {k: v for k, v in stats.items() if ":" not in k}
        by_type: dict[str, dict[str, Any]] = {}
        by_prio: dict[str, dict[str, Any]] = {}
        for k, v in stats.items():
            if ":" in k:
                group, key, figure = k.split(":")
                (by_type if group == "type" else by_prio).setdefault(key, {})[figure] = v
        m = self.model
        util = {
            uid: {**ci95([r.busy_s[i] / r.horizon_s for r in self.replications]), "type": m.unit_type[i]}
            for i, uid in enumerate(m.unit_id)
        }
        return {
            "policy": self.policy,
            "move_up": self.move_up,
            "replications": len(self.replications),
            "target_s": m.target_s,
            "calibration": m.calibration.source,
            "busy_fraction": m.busy_fraction or None,
            "figures": head,
            "by_type": by_type,
            "by_priority": by_prio,
            "utilisation": util,
            "notes": list(self.notes),
        }

    def calls_frame(self) -> Any:
        """One row per call and replication (pandas DataFrame), times in seconds from the start."""
        import pandas as pd

        m = self.model
        frames = []
        for r in self.replications:
            c = r.calls
            units: list[list[str]] = [[] for _ in range(len(c))]
            for j, k in zip(r.a_call.tolist(), r.a_unit.tolist(), strict=True):
                units[j].append(m.unit_id[k])
            hosp = np.asarray([m.hospitals[h].id if h >= 0 else "" for h in r.hospital.tolist()], dtype=object)
            frames.append(
                pd.DataFrame(
                    {
                        "id": c.id,
                        "replication": r.replication,
                        "policy": r.policy,
                        "move_up": r.move_up,
                        "type": c.type,
                        "priority": c.priority,
                        "lon": c.lon,
                        "lat": c.lat,
                        "time_s": c.time_s,
                        "ready_s": r.ready_s,
                        "first_dispatch_s": r.first_dispatch_s,
                        "first_arrival_s": r.first_arrival_s,
                        "cleared_s": r.cleared_s,
                        "queued_s": r.queued_s,
                        "response_s": r.response_s,
                        "within_target": r.response_s <= m.target_s,
                        "unit_ids": [";".join(u) for u in units],
                        "hospital": hosp,
                        "units_never_sent": r.unserved,
                        "transport_without_hospital": r.no_hospital,
                    }
                )
            )
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def assignments_frame(self) -> Any:
        """One row per unit sent (pandas DataFrame), times in seconds from the start."""
        import pandas as pd

        m = self.model
        frames = []
        for r in self.replications:
            frames.append(
                pd.DataFrame(
                    {
                        "call_id": r.calls.id[r.a_call],
                        "unit_id": np.asarray(m.unit_id, dtype=object)[r.a_unit],
                        "replication": r.replication,
                        "policy": r.policy,
                        "move_up": r.move_up,
                        "sent_from": np.where(r.a_from == 0, "post", "on the road"),
                        "dispatched_at_s": r.a_dispatched_s,
                        "arrived_at_s": r.a_arrived_s,
                        "left_scene_at_s": r.a_left_scene_s,
                        "at_hospital_at_s": r.a_hospital_s,
                        "free_at_s": r.a_free_s,
                        "then_to_post": [m.key_id[k] if k >= 0 else "" for k in r.a_next_key.tolist()],
                    }
                )
            )
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

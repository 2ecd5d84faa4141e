"""Dispatch assignment: which available units go to which incident, explained.

Public API::

    from geodispatch.assign import Unit, Incident, recommend, assign

    rec = recommend(network, units, Incident("i1", "kebakaran", 1, lon, lat))
    rec.unit_ids, rec.etas_s, rec.shortfall, rec.reasons

    plan = assign(network, units, incidents, policy="optimal")  # or "closest", "coverage_aware"
"""

from geodispatch.assign.demo import demo_lines
from geodispatch.assign.model import (
    DEFAULT_SOP,
    DISPATCHABLE_STATUSES,
    PRIORITIES,
    UNIT_STATUSES,
    Incident,
    Unit,
    resolve_sop,
    units_from_stations,
)
from geodispatch.assign.recommend import POLICIES, assign, recommend
from geodispatch.assign.results import Assignment, Recommendation

__all__ = [
    "DEFAULT_SOP",
    "DISPATCHABLE_STATUSES",
    "POLICIES",
    "PRIORITIES",
    "UNIT_STATUSES",
    "Assignment",
    "Incident",
    "Recommendation",
    "Unit",
    "assign",
    "demo_lines",
    "recommend",
    "resolve_sop",
    "units_from_stations",
]

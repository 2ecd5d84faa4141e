"""Siting of new PSC 119 / fire posts: LSCP, MCLP, p-median, p-center and MEXCLP on OR-Tools.

Every model takes a candidates x demand cost matrix (seconds; ``inf`` or an absent sparse
entry = unreachable), optional demand weights (population) and optional fixed (existing)
sites, and returns a :class:`SitingResult` with the selected sites, objective, proven bound
and gap, solve time and a marginal-gain table. ``p`` always counts the *new* sites.
"""

from geodispatch.siting.covering import lscp, mclp, mexclp
from geodispatch.siting.orlib import read_orlib_pmed
from geodispatch.siting.pcenter import p_center
from geodispatch.siting.pmedian import p_median
from geodispatch.siting.result import SitingResult, marginal_gain_table

__all__ = [
    "SitingResult",
    "lscp",
    "marginal_gain_table",
    "mclp",
    "mexclp",
    "p_center",
    "p_median",
    "read_orlib_pmed",
]

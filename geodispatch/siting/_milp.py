"""Thin wrapper around OR-Tools' ``model_builder`` for sparse MILPs given as arrays.

The siting models build their constraint matrix as a :class:`scipy.sparse.csr_matrix` in
numpy (no Python loop per coefficient), hand it to OR-Tools with
``ModelBuilderHelper.fill_model_from_sparse_data`` and solve with HiGHS (default) or SCIP,
both shipped inside the ``ortools`` wheel. Building, solving and reading the solution are
separate steps, as in the OR-Tools samples.

Solution hints are deliberately not passed: with ortools 9.15, ``add_hint`` followed by a
HiGHS solve crashes the process (segmentation fault in the HiGHS interface). Warm starts
therefore act outside the solver: the heuristic incumbent is kept when the solver returns
nothing better, and for p-median it drives the Lagrangian reduction of candidates.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.linear_solver.python import model_builder as mb
from scipy.sparse import csr_matrix

logger = logging.getLogger(__name__)

#: MIP backends available in the ortools wheel through model_builder.
MIP_BACKENDS = ("highs", "scip")


@dataclass
class MilpData:
    """A MILP in array form: ``min/max obj @ x + offset`` s.t. ``row_lb <= A x <= row_ub``.

    Attributes
    ----------
    var_lb, var_ub, obj : numpy.ndarray
        Variable bounds and objective coefficients, length ``n_vars``.
    is_int : numpy.ndarray of bool
        Integrality mask, length ``n_vars``.
    matrix : scipy.sparse.csr_matrix
        ``(n_rows, n_vars)`` constraint matrix.
    row_lb, row_ub : numpy.ndarray
        Row bounds, length ``n_rows`` (``-inf`` / ``inf`` for one-sided rows).
    maximize : bool
        Direction of the objective.
    offset : float
        Constant added to the objective.
    """

    var_lb: np.ndarray
    var_ub: np.ndarray
    obj: np.ndarray
    is_int: np.ndarray
    matrix: csr_matrix
    row_lb: np.ndarray
    row_ub: np.ndarray
    maximize: bool = False
    offset: float = 0.0


@dataclass
class MilpSolution:
    """What the solver returned.

    Attributes
    ----------
    status : str
        ``"optimal"``, ``"feasible"`` (time limit hit with an incumbent), ``"infeasible"``,
        ``"no_solution"`` (time limit hit before any incumbent) or ``"error"``.
    values : numpy.ndarray or None
        Variable values of the incumbent, None when there is none.
    objective : float
        Incumbent objective (nan without one).
    bound : float
        Best proven bound reported by the solver (nan when unavailable).
    solve_time_s : float
        Wall-clock seconds spent in the solver.
    """

    status: str
    values: np.ndarray | None
    objective: float
    bound: float
    solve_time_s: float
    backend: str = "highs"
    extra: dict[str, float] = field(default_factory=dict)


def build_model(data: MilpData) -> mb.Model:
    """Turn :class:`MilpData` into an OR-Tools ``model_builder.Model`` (vectorised)."""
    model = mb.Model()
    helper: Any = model.helper
    matrix = csr_matrix(data.matrix, dtype=np.float64)
    matrix.sort_indices()
    helper.fill_model_from_sparse_data(
        np.asarray(data.var_lb, dtype=np.float64),
        np.asarray(data.var_ub, dtype=np.float64),
        np.asarray(data.obj, dtype=np.float64),
        np.asarray(data.row_lb, dtype=np.float64),
        np.asarray(data.row_ub, dtype=np.float64),
        matrix,
    )
    for index in np.flatnonzero(data.is_int):
        helper.set_var_integrality(int(index), True)
    helper.set_maximize(bool(data.maximize))
    helper.set_objective_offset(float(data.offset))
    return model


def solve_model(
    model: mb.Model,
    *,
    maximize: bool,
    time_limit_s: float | None = None,
    backend: str = "highs",
    relative_gap: float = 1e-9,
    objective_bound: float | None = None,
) -> MilpSolution:
    """Solve a built model and read status, values, objective and bound.

    Parameters
    ----------
    model : ortools model_builder Model
        The model from :func:`build_model`.
    maximize : bool
        Direction (used to interpret missing bounds).
    time_limit_s : float, optional
        Wall-clock limit in seconds; None = no limit.
    backend : {"highs", "scip"}
        MIP solver inside the ortools wheel.
    relative_gap : float
        Relative MIP gap at which the solver may stop and call the solution optimal. The
        default (1e-9) asks for a proof of optimality; the reported gap is recomputed from the
        solver's bound anyway.
    objective_bound : float, optional
        HiGHS only: prune every node whose bound is worse than this (a cutoff); the problem
        then reports infeasible when no solution beats it.
    """
    if backend not in MIP_BACKENDS:
        raise ValueError(f"unknown MIP backend {backend!r}; use one of {MIP_BACKENDS}")
    solver = mb.Solver(backend)
    if time_limit_s is not None:
        solver.set_time_limit_in_seconds(max(float(time_limit_s), 0.01))
    if backend == "highs":
        solver.set_solver_specific_parameters(
            f"mip_rel_gap={relative_gap}\nmip_abs_gap=1e-9\nthreads=1\n"
            "output_flag=false\nlog_to_console=false\n"
            + (f"objective_bound={objective_bound}\n" if objective_bound is not None else "")
        )
    else:
        solver.set_solver_specific_parameters(f"limits/gap = {relative_gap}\n")
    start = time.perf_counter()
    status = solver.solve(model)
    elapsed = time.perf_counter() - start
    logger.debug("%s finished with %s in %.2f s", backend, status.name, elapsed)
    if status == mb.SolveStatus.INFEASIBLE:
        return MilpSolution("infeasible", None, math.nan, math.nan, elapsed, backend)
    if status not in (mb.SolveStatus.OPTIMAL, mb.SolveStatus.FEASIBLE):
        name = "no_solution" if status == mb.SolveStatus.NOT_SOLVED else "error"
        if status == mb.SolveStatus.UNKNOWN_STATUS:
            name = "no_solution"
        return MilpSolution(name, None, math.nan, math.nan, elapsed, backend)
    values = np.asarray(solver.values(model.get_variables()), dtype=np.float64)
    objective = float(solver.objective_value)
    bound = float(solver.best_objective_bound)
    if status == mb.SolveStatus.OPTIMAL:
        name = "optimal"
        if not math.isfinite(bound):
            bound = objective
    else:
        name = "feasible"
    return MilpSolution(name, values, objective, bound, elapsed, backend)

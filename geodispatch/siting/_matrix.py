"""A candidate x demand cost matrix that may be dense or sparse ("bounded").

Dense: a 2-D float array, ``inf`` = unreachable. Sparse: a SciPy CSR matrix/array whose
*stored* entries are the travel times (explicit zeros included, they mean "same place") and
whose absent entries are ``inf`` (unreachable or beyond the bound used to compute it). The
sparse form keeps covering models on large regencies small: only pairs within the threshold
are ever needed.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from geodispatch.errors import SitingError

__all__ = ["CostMatrix", "as_cost_matrix"]

_DENSE_LIMIT = 200_000_000  # cells; above this a sparse matrix must not be densified


class CostMatrix:
    """Read-only view of candidate x demand costs (seconds or instance units).

    Parameters
    ----------
    cost : numpy.ndarray or scipy.sparse matrix
        See the module docstring for the meaning of absent sparse entries.
    """

    def __init__(self, cost: np.ndarray | sp.spmatrix | sp.sparray) -> None:
        if sp.issparse(cost):
            csr = sp.csr_matrix(cost, dtype=np.float64, copy=True)
            csr.sum_duplicates()
            csr.sort_indices()
            self._dense: np.ndarray | None = None
            self._csr: sp.csr_matrix | None = csr
            values = csr.data
            shape = csr.shape
        else:
            arr = np.asarray(cost, dtype=np.float64)
            if arr.ndim != 2:
                raise SitingError(
                    f"cost must be a 2-D candidates x demand matrix, got {arr.ndim} dimension(s)."
                )
            self._dense = arr
            self._csr = None
            values = arr
            shape = arr.shape
        self.n_cand, self.n_demand = int(shape[0]), int(shape[1])
        if self.n_cand == 0:
            raise SitingError("there are no candidate sites (cost has 0 rows); give candidates.")
        if self.n_demand == 0:
            raise SitingError("there is no demand (cost has 0 columns); give demand points.")
        if np.isnan(values).any():
            raise SitingError("cost contains NaN; use inf for unreachable pairs.")
        if (values < 0).any():
            raise SitingError("cost contains negative travel times; costs must be >= 0.")

    @property
    def is_sparse(self) -> bool:
        """True when backed by a sparse (bounded) matrix."""
        return self._csr is not None

    def dense(self) -> np.ndarray:
        """The full matrix with ``inf`` for absent entries (may be large)."""
        if self._dense is not None:
            return self._dense
        assert self._csr is not None
        cells = self.n_cand * self.n_demand
        if cells > _DENSE_LIMIT:
            raise SitingError(
                f"this model needs the full {self.n_cand} x {self.n_demand} cost matrix "
                f"({cells:,} cells), too large; use fewer candidates or aggregate demand."
            )
        out = np.full((self.n_cand, self.n_demand), np.inf)
        rows = np.repeat(np.arange(self.n_cand), np.diff(self._csr.indptr))
        out[rows, self._csr.indices] = self._csr.data
        self._dense = out
        return out

    def row(self, i: int) -> np.ndarray:
        """Costs from candidate ``i`` to every demand point (dense vector, inf = absent)."""
        if self._dense is not None:
            return self._dense[i]
        assert self._csr is not None
        out = np.full(self.n_demand, np.inf)
        lo, hi = self._csr.indptr[i], self._csr.indptr[i + 1]
        out[self._csr.indices[lo:hi]] = self._csr.data[lo:hi]
        return out

    def nearest_cost(self, sites: list[int] | np.ndarray) -> np.ndarray:
        """Cost from the nearest of ``sites`` to every demand point (inf when none reaches)."""
        out = np.full(self.n_demand, np.inf)
        for i in np.asarray(sites, dtype=np.int64):
            np.minimum(out, self.row(int(i)), out=out)
        return out

    def column_min(self) -> np.ndarray:
        """Smallest cost to each demand point over all candidates (inf = nobody reaches)."""
        if self._dense is not None:
            return np.asarray(self._dense.min(axis=0))
        assert self._csr is not None
        out = np.full(self.n_demand, np.inf)
        np.minimum.at(out, self._csr.indices, self._csr.data)
        return out

    def within(self, threshold: float) -> sp.csr_matrix:
        """Boolean-valued CSR (1.0 entries) of pairs with cost <= ``threshold``."""
        if self._dense is not None:
            rows, cols = np.nonzero(self._dense <= threshold)
        else:
            assert self._csr is not None
            keep = self._csr.data <= threshold
            rows = np.repeat(np.arange(self.n_cand), np.diff(self._csr.indptr))[keep]
            cols = self._csr.indices[keep]
        data = np.ones(rows.size)
        return sp.csr_matrix((data, (rows, cols)), shape=(self.n_cand, self.n_demand))


def as_cost_matrix(cost: np.ndarray | sp.spmatrix | sp.sparray | CostMatrix) -> CostMatrix:
    """Wrap ``cost`` in a :class:`CostMatrix` (no copy when it already is one)."""
    return cost if isinstance(cost, CostMatrix) else CostMatrix(cost)

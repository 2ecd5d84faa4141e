"""Reader for J.E. Beasley's OR-Library uncapacitated p-median instances (``pmedN.txt``).

The format is a header line ``n m p`` (vertices, edges, medians) followed by ``m`` lines
``u v cost`` with 1-based vertex numbers. Edges are undirected. Some instances list the same
vertex pair more than once; as in Beasley's own reference code (and as documented in
``../shared/data/SOURCES.md``), the **last** occurrence of a pair wins. The known optima in
OR-Library's ``pmedopt`` are only reproduced with that rule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from geodispatch.errors import CorruptFileError, SourceNotFoundError

__all__ = ["read_orlib_pmed"]


def read_orlib_pmed(path: str | Path) -> tuple[np.ndarray, int]:
    """Read an OR-Library p-median instance and return its all-pairs distance matrix.

    Parameters
    ----------
    path : str or pathlib.Path
        A Beasley ``pmedN.txt`` file: header ``n m p`` then ``m`` lines ``u v cost``
        (1-based vertices, undirected edges, last duplicate edge wins).

    Returns
    -------
    cost : numpy.ndarray
        ``(n, n)`` float64 matrix of shortest-path distances (instance units) between every
        pair of vertices; ``inf`` where no path exists. Row = candidate, column = demand (the
        matrix is symmetric).
    p : int
        Number of medians to open.

    Raises
    ------
    SourceNotFoundError
        When the file does not exist.
    CorruptFileError
        When the header or an edge line cannot be parsed, a vertex number is outside
        ``1..n``, a cost is negative, or fewer than ``m`` edges are present.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceNotFoundError(f"OR-Library file {path} does not exist; check the path.")
    try:
        tokens = path.read_text().split()
    except (OSError, UnicodeDecodeError) as exc:  # pragma: no cover - unreadable file
        raise CorruptFileError(f"cannot read OR-Library file {path}: {exc}") from exc
    if len(tokens) < 3:
        raise CorruptFileError(
            f"{path} has no 'n m p' header; expected a Beasley pmed file (n m p, then u v cost)."
        )
    try:
        n, m, p = (int(t) for t in tokens[:3])
        body = np.asarray(tokens[3 : 3 + 3 * m], dtype=np.float64)
    except ValueError as exc:
        raise CorruptFileError(f"{path}: non-numeric value in the header or edges ({exc}).") from exc
    if n <= 0 or m < 0 or p <= 0 or p > n:
        raise CorruptFileError(f"{path}: header n={n} m={m} p={p} is invalid (need 0 < p <= n).")
    if body.size != 3 * m:
        raise CorruptFileError(
            f"{path}: header announces {m} edges but only {body.size // 3} complete lines follow."
        )
    edges = body.reshape(m, 3)
    u = edges[:, 0].astype(np.int64) - 1
    v = edges[:, 1].astype(np.int64) - 1
    w = edges[:, 2]
    if np.any(edges[:, :2] != np.floor(edges[:, :2])) or u.min(initial=0) < 0 or v.min(
        initial=0
    ) < 0 or u.max(initial=0) >= n or v.max(initial=0) >= n:
        raise CorruptFileError(f"{path}: an edge names a vertex outside 1..{n}.")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise CorruptFileError(f"{path}: edge costs must be finite and non-negative.")

    # Last duplicate wins for an undirected pair: key each edge by (min, max) and keep the last.
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    key = lo * n + hi
    _, last_rev = np.unique(key[::-1], return_index=True)
    keep = m - 1 - last_rev
    keep = keep[lo[keep] != hi[keep]]  # self-loops never shorten a path
    rows = np.concatenate([lo[keep], hi[keep]])
    cols = np.concatenate([hi[keep], lo[keep]])
    # csgraph keeps explicit zeros of a CSR matrix as edges, so zero-cost edges survive.
    data = np.concatenate([w[keep], w[keep]])
    graph = csr_matrix((data, (rows, cols)), shape=(n, n))
    dist = shortest_path(graph, method="D", directed=False)
    return np.asarray(dist, dtype=np.float64), p

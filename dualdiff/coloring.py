"""Colouring a sparsity pattern: which Jacobian columns (or rows) can share a seed.

Columns j and j' are *structurally orthogonal* when no row has a nonzero in
both; orthogonal columns can be summed into one seed vector ``s_c`` and
recovered from ``J s_c`` because each row sees at most one of them.  A column
colouring is a colouring of the column intersection graph ``G = P^T P``.  Its
number of colours is at least the largest number of nonzeros in a row (those
columns pairwise conflict).  Row colouring is the same on ``P^T`` and serves
reverse mode (one cotangent per colour).

Two strategies: a modular colouring ``j mod w`` with ``w`` = the lower bound,
accepted when it is valid (then it is optimal: banded patterns, diagonals, at
any n, fully vectorised); otherwise greedy colouring in largest-first order
(distance-2 on the bipartite graph), a plain loop over columns.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize._numdiff import group_columns


def as_pattern(pattern) -> sp.csr_array:
    """A boolean csr_array with sorted indices from a sparse matrix/array or dense array.

    >>> as_pattern([[1, 0], [0, 2]]).nnz
    2
    """
    if sp.issparse(pattern):
        p = sp.csr_array(pattern).astype(bool)
        p.eliminate_zeros()
    else:
        p = sp.csr_array(np.asarray(pattern) != 0)
    p.sum_duplicates()
    p.sort_indices()
    return p


def lower_bound(pattern) -> int:
    """Largest number of nonzeros in a row: no column colouring can use fewer colours.

    >>> import numpy as np
    >>> lower_bound(np.eye(3) + np.eye(3, k=1))
    2
    """
    p = as_pattern(pattern)
    return int(np.diff(p.indptr).max(initial=0))


def is_valid(pattern, colors) -> bool:
    """True when no row holds two columns of the same colour.

    >>> import numpy as np
    >>> is_valid(np.eye(3), np.zeros(3, int)), is_valid(np.ones((1, 2)), np.zeros(2, int))
    (True, False)
    """
    p = as_pattern(pattern)
    colors = np.asarray(colors, dtype=np.int64)
    if p.nnz == 0:
        return True
    ncol = int(colors.max()) + 1
    rows = np.repeat(np.arange(p.shape[0], dtype=np.int64), np.diff(p.indptr))
    key = rows * ncol + colors[p.indices]
    if p.shape[0] * ncol <= 4 * p.nnz + 2**20:  # few colours: count (row, colour) pairs
        return bool(np.bincount(key, minlength=p.shape[0] * ncol).max() <= 1)
    key.sort()
    return bool(np.all(key[1:] != key[:-1]))


def _greedy(p: sp.csr_array) -> np.ndarray:
    """Greedy distance-2 colouring of the columns in largest-first order."""
    n = p.shape[1]
    g = (p.T.tocsr() @ p).tocsr()  # column intersection graph (with self loops)
    degree = np.diff(g.indptr)
    order = np.argsort(-degree, kind="stable").tolist()
    indptr, indices = g.indptr.tolist(), g.indices.tolist()
    color = [-1] * n
    for v in order:
        used = {color[u] for u in indices[indptr[v]:indptr[v + 1]]}
        c = 0
        while c in used:
            c += 1
        color[v] = c
    return np.asarray(color, dtype=np.int64)


def column_coloring(pattern) -> np.ndarray:
    """Colour of each column; columns sharing a colour are structurally orthogonal.

    >>> import numpy as np
    >>> tri = np.eye(6) + np.eye(6, k=1) + np.eye(6, k=-1)
    >>> column_coloring(tri).tolist()
    [0, 1, 2, 0, 1, 2]
    """
    p = as_pattern(pattern)
    n = p.shape[1]
    w = max(lower_bound(p), 1)
    modular = np.arange(n, dtype=np.int64) % w
    if is_valid(p, modular):
        return modular
    colors = _greedy(p)
    return colors


def row_coloring(pattern) -> np.ndarray:
    """Colour of each row; rows sharing a colour have no nonzero column in common.

    >>> import numpy as np
    >>> row_coloring(np.array([[1, 1, 1], [0, 0, 1], [1, 0, 0]])).tolist()
    [0, 1, 1]
    """
    return column_coloring(as_pattern(pattern).T)


def scipy_groups(pattern) -> int:
    """Number of groups scipy's finite-difference colouring (group_columns) finds.

    >>> scipy_groups(np.eye(3))
    1
    """
    return int(group_columns(sp.csc_matrix(as_pattern(pattern)), order=0).max(initial=-1) + 1)


def report(pattern) -> dict:
    """Colours for columns and rows beside their lower bounds and scipy's count.

    >>> import numpy as np
    >>> report(np.eye(4))["columns"]
    1
    """
    p = as_pattern(pattern)
    cols, rows = column_coloring(p), row_coloring(p)
    return {"shape": p.shape, "nnz": int(p.nnz),
            "columns": int(cols.max(initial=-1) + 1), "column_bound": lower_bound(p),
            "rows": int(rows.max(initial=-1) + 1), "row_bound": lower_bound(p.T),
            "scipy_group_columns": scipy_groups(p)}

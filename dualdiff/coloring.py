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

Symmetric patterns (Hessians) need less: with ``B = H S`` (one seed per colour)
each entry ``h_ij`` must be readable *either* from row i (column j is the only
column of its colour in row i: ``h_ij = B[i, c(j)]``) *or*, by symmetry, from row
j.  Such colourings are the *star colourings* of the adjacency graph of H
(Coleman and More 1984): a distance-1 colouring in which every path on four
vertices uses at least three colours.  :func:`star_coloring` is the greedy
algorithm of Gebremedhin, Tarafdar, Manne and Pothen (2007, Algorithm 4.1, as in
ColPack and SparseMatrixColorings.jl), with the modular shortcut first; it never
uses more colours than :func:`column_coloring` (a column colouring is a star
colouring) and can use far fewer: an arrowhead takes 2 colours instead of n.
:func:`symmetric_reads` gives where each entry is read (direct recovery).
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


# -- symmetric patterns: star colouring and direct recovery -----------------------------

def symmetric(pattern, diagonal: bool = False) -> sp.csr_array:
    """``P | P^T`` (and the diagonal when asked) as a sorted boolean csr_array.

    >>> symmetric([[0, 1], [0, 0]]).toarray().astype(int).tolist()
    [[0, 1], [1, 0]]
    """
    p = as_pattern(pattern)
    if p.shape[0] != p.shape[1]:
        raise ValueError(f"a Hessian pattern must be square, got shape {p.shape}")
    s = (p + p.T).tocsr()
    if diagonal:
        s = (s + sp.eye_array(p.shape[0], dtype=bool, format="csr")).tocsr()
    return as_pattern(s)


def _count(keys: np.ndarray, size: int):
    """A function giving, for query keys, how often each occurs in ``keys``."""
    if size <= 4 * len(keys) + 2**20:
        table = np.bincount(keys, minlength=size)
        return lambda q: table[q]
    uniq, counts = np.unique(keys, return_counts=True)

    def lookup(q):
        pos = np.minimum(np.searchsorted(uniq, q), max(len(uniq) - 1, 0))
        return np.where(uniq[pos] == q, counts[pos], 0) if len(uniq) else np.zeros_like(q)

    return lookup


def _entries(p):
    return np.repeat(np.arange(p.shape[0], dtype=np.int64), np.diff(p.indptr)), \
        p.indices.astype(np.int64)


class _Symmetric:
    """A symmetric pattern ``p``, ``d`` = p with its diagonal, and their entries."""

    def __init__(self, pattern):
        self.p = p = symmetric(pattern)
        self.n = n = p.shape[0]
        self.d = as_pattern(p + sp.eye_array(n, dtype=bool, format="csr"))
        self.rows, self.cols = _entries(p)
        self.drows, self.dcols = _entries(self.d)

    def readable(self, colors):
        """Per entry of p: readable from its own row (``own``), and whether every entry is
        readable from its row or its mirror's (``ok``)."""
        k = int(colors.max(initial=-1)) + 1
        count = _count(self.drows * k + colors[self.dcols], self.n * k)
        own = count(self.rows * k + colors[self.cols]) == 1   # h_ij = B[i, c(j)]
        mirror = count(self.cols * k + colors[self.rows]) == 1  # h_ij = h_ji = B[j, c(i)]
        return own, bool(np.all(own | mirror))

    def reads(self, colors) -> np.ndarray | None:
        p, n, rows, cols = self.p, self.n, self.rows, self.cols
        if colors.shape != (n,) or (n and colors.min() < 0):
            return None
        own, ok = self.readable(colors)
        if not ok:
            return None
        # decide once per unordered pair, on its upper entry (i <= j)
        pos = sp.csr_array((np.arange(1, p.nnz + 1), p.indices, p.indptr), shape=p.shape)
        mirror = pos.T.tocsr()
        mirror.sort_indices()
        mirror = mirror.data - 1  # position of (j, i) for each entry (i, j)
        upper = rows <= cols
        lo, hi = np.where(upper, rows, cols), np.where(upper, cols, rows)
        use_own = np.where(upper, own, own[mirror])
        return np.where(use_own, colors[hi] * n + lo, colors[lo] * n + hi)


def symmetric_reads(pattern, colors) -> np.ndarray | None:
    """Direct recovery of a symmetric matrix from ``B = H S`` (S: one seed per colour).

    For each stored entry of ``symmetric(pattern)`` (CSR order), the flat index into
    ``B^T`` (ncolors, n) it is read from, or None when ``colors`` does not allow
    direct recovery (not a star colouring).  Both ``h_ij`` and ``h_ji`` are read from
    the same place, so the result is exactly symmetric.

    >>> import numpy as np
    >>> symmetric_reads(np.ones((2, 2)), [0, 1]).tolist()
    [0, 2, 2, 3]
    """
    return _Symmetric(pattern).reads(np.asarray(colors, dtype=np.int64))


def is_star(pattern, colors) -> bool:
    """True when ``colors`` lets every entry of the symmetric pattern be read directly
    from ``H S`` (equivalently: a star colouring of its adjacency graph).

    >>> import numpy as np
    >>> path = np.eye(4) + np.eye(4, k=1) + np.eye(4, k=-1)
    >>> is_star(path, [0, 1, 0, 1]), is_star(path, [0, 1, 2, 0])
    (False, True)
    """
    return symmetric_reads(pattern, colors) is not None


def _edge_ids(adj: sp.csr_array) -> np.ndarray:
    """For each stored entry (v, w) of a symmetric pattern without diagonal, the id of
    the undirected edge {v, w} (ids 0 .. nnz/2 - 1)."""
    upper = sp.triu(adj, k=1, format="csr")
    ids = sp.csr_array((np.arange(1, upper.nnz + 1), upper.indices, upper.indptr),
                       shape=adj.shape)
    both = (ids + ids.T).tocsr()
    both.sort_indices()
    return both.data - 1


def _star_greedy(adj: sp.csr_array, order) -> np.ndarray:
    """Greedy star colouring (Gebremedhin et al. 2007, Algorithm 4.1): colours 0.. .

    The scans over a neighbour's whole adjacency in the reference (is x a hub whose
    star holds the edge wx?  has w a neighbour of v's colour?) are kept as per-vertex
    records instead (``hubs_of``, ``seen``), so a vertex of degree d (an arrowhead's
    hub) costs O(d), not O(d) per neighbour."""
    n = adj.shape[0]
    indptr, indices = adj.indptr.tolist(), adj.indices.tolist()
    eid = _edge_ids(adj).tolist()
    color = [0] * n                    # 0: not coloured yet; colours start at 1
    forbidden = [-1] * (n + 2)         # forbidden[c] == v: colour c is forbidden for v
    first = [(-1, -1, -1)] * (n + 2)   # per colour: (v, w, edge vw) first neighbour seen
    treated = [-1] * n
    star = [-1] * len(eid)             # star of each edge
    hub: list = []                     # hub of each star (-1: a single edge, no hub yet)
    ends: list = []                    # the first edge of each star
    hubs_of: list = [[] for _ in range(n)]  # hubs_of[w]: hubs x of stars with spoke w
    seen: list = [{} for _ in range(n)]     # seen[w][c]: edge to a neighbour of colour c

    def set_hub(s, h):
        if hub[s] < 0:
            hub[s] = h
            a, b = ends[s]
            hubs_of[b if a == h else a].append(h)

    for v in order:
        for pos in range(indptr[v], indptr[v + 1]):
            w = indices[pos]
            cw = color[w]
            if not cw:
                continue
            forbidden[cw] = v
            p, q, _ = first[cw]
            if p == v:  # two neighbours of v share colour cw: v must be their hub
                for sw in ((q, w) if treated[q] != v else (w,)):
                    for c in seen[sw]:  # forbid the colours of sw's neighbours
                        forbidden[c] = v
                    treated[sw] = v
            else:
                first[cw] = (v, w, eid[pos])
                for x in hubs_of[w]:  # w is a spoke of a star around x
                    if x != v:
                        forbidden[color[x]] = v
        c = 1
        while forbidden[c] == v:
            c += 1
        color[v] = c
        for pos in range(indptr[v], indptr[v + 1]):  # grow the stars through v
            w = indices[pos]
            cw = color[w]
            known = seen[w]
            if cw:
                e = known.get(c)
                if e is not None:  # v and x (colour c) are spokes of a star with hub w
                    s = star[e]
                    set_hub(s, w)
                    star[eid[pos]] = s
                    hubs_of[v].append(w)
                else:
                    p, q, e = first[cw]
                    if p == v and q != w:  # w and q are spokes of a star with hub v
                        s = star[e]
                        set_hub(s, v)
                        star[eid[pos]] = s
                        hubs_of[w].append(v)
                    else:  # a new star of one edge
                        hub.append(-1)
                        ends.append((v, w))
                        star[eid[pos]] = len(hub) - 1
            if c not in known:
                known[c] = eid[pos]
    return np.asarray(color, dtype=np.int64) - 1


#: star_coloring tries the modular colourings j mod w for w below this (and below the
#: column colouring's count and 2 * bandwidth + 2) before the greedy algorithm
MODULAR_TRIES = 64


def star_coloring(pattern) -> np.ndarray:
    """Colours for a symmetric pattern such that every entry of H is read directly from
    ``H S``: the fewest of a valid modular colouring ``j mod w``, the greedy star
    colouring, and the column colouring.

    >>> import numpy as np
    >>> arrow = np.eye(6, dtype=bool); arrow[0] = arrow[:, 0] = True
    >>> star_coloring(arrow).tolist(), int(column_coloring(arrow).max()) + 1
    ([0, 1, 1, 1, 1, 1], 6)
    """
    return star_recovery(pattern)[0]


def star_recovery(pattern, colors=None):
    """``(colors, reads, counts)`` for a symmetric pattern: the star colouring (or the
    given colours, checked), where each entry of ``symmetric(pattern)`` is read from
    ``(H S)^T`` (see :func:`symmetric_reads`), and the colour counts: ``star``,
    ``columns`` (column colouring) and ``column_bound`` (its lower bound, the largest
    row count, which star colourings can go below).

    >>> import numpy as np
    >>> star_recovery(np.eye(3) + np.eye(3, k=1))[2]
    {'star': 2, 'columns': 3, 'column_bound': 3}
    """
    sym = _Symmetric(pattern)
    d, n = sym.d, sym.n
    columns = column_coloring(d) if n else np.zeros(0, np.int64)
    best = int(columns.max(initial=-1)) + 1
    if colors is None:
        colors = _star(sym, columns, best)
    colors = np.asarray(colors, dtype=np.int64)
    reads = sym.reads(colors)
    if reads is None:
        raise ValueError("these colours do not let every entry of the symmetric pattern be "
                         "read directly (not a star colouring); see coloring.star_coloring")
    return colors, reads, {"star": int(colors.max(initial=-1)) + 1, "columns": best,
                           "column_bound": lower_bound(d)}


def _star(sym: _Symmetric, columns: np.ndarray, best: int) -> np.ndarray:
    n, rows, cols = sym.n, sym.rows, sym.cols
    if n == 0:
        return columns
    off = rows != cols
    gap = np.abs(rows[off] - cols[off])
    for w in range(2, min(best, 2 * int(gap.max(initial=0)) + 2, MODULAR_TRIES)):
        if np.any(gap % w == 0):
            continue  # two neighbours would share a colour
        modular = np.arange(n, dtype=np.int64) % w
        if sym.readable(modular)[1]:  # optimal on banded patterns
            return modular
    adj = sp.csr_array((np.ones(int(off.sum()), bool), cols[off],
                        np.concatenate([[0], np.cumsum(np.bincount(rows[off], minlength=n))])),
                       shape=(n, n))
    if best <= _star_bound(adj):
        return columns
    greedy = _star_greedy(adj, range(n))
    return greedy if int(greedy.max()) + 1 < best else columns


def _star_bound(adj: sp.csr_array) -> int:
    """A lower bound on star colourings: 1 without edges, 2 with, 3 with a path on four
    vertices or a triangle (an edge whose two ends both have another neighbour)."""
    if adj.nnz == 0:
        return 1
    degree = np.diff(adj.indptr)
    rows = np.repeat(np.arange(adj.shape[0]), degree)
    return 3 if np.any((degree[rows] > 1) & (degree[adj.indices] > 1)) else 2


def symmetric_report(pattern) -> dict:
    """Colours of a symmetric pattern: star colouring beside the column colouring and
    the column colouring's lower bound (largest row count; star colourings can go below).

    >>> import numpy as np
    >>> r = symmetric_report(np.eye(4) + np.eye(4, k=1))
    >>> r["star"], r["columns"], r["column_bound"]
    (3, 3, 3)
    """
    _, _, counts = star_recovery(pattern)
    p = symmetric(pattern)
    return {"n": p.shape[0], "nnz": int(p.nnz), **counts}


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

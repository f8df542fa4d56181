"""Sparse Jacobians: detect the pattern, colour it, seed one vector per colour.

``J`` is m x n (outputs and inputs flattened in C order).  With a column
colouring ``c(j)``, one forward pass seeded with ``S[j, c] = [c(j) == c]``
gives ``J S``; because columns of one colour never share a row,
``J[i, j] = (J S)[i, c(j)]`` for every (i, j) in the pattern.  Reverse mode
does the same with a row colouring and cotangents ``U^T J``.

Global or local pattern.  ``sparsity="auto"`` uses the pattern detected at x
by :func:`dualdiff.tracer`.  It keeps both branches of every value-dependent
selection NumPy can see (``np.where``, ``maximum``, ``abs``, ``max``, ``sort``),
so for code without Python ``if``s on values it is **global**: valid at every
x.  A Python branch on a traced value makes it **local** to x; a plan then
records ``plan.local = True`` and, by default, re-detects at each new x
(``recheck="auto"``) so it is never silently wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import coloring
from .carrier import new_tag
from .drivers import as_input, check_mode, default_chunk, unpack, vjp
from .dual import Dual
from .tracer import Tracer, _empty

Function = Callable[..., Any]


def _traced(y, tag: int, n: int):
    """(value, pattern) of f's output as seen by a detection pass."""
    if isinstance(y, Tracer) and y.tag == tag:
        return np.asarray(y.value, dtype=float), y.pattern
    if isinstance(y, (list, tuple)) or (isinstance(y, np.ndarray) and y.dtype == object):
        items = [_traced(e, tag, n) for e in y]
        if not items:
            return np.zeros((0,)), _empty(0, n)
        return np.stack([v for v, _ in items]), sp.vstack([p for _, p in items], format="csr")
    value = np.asarray(getattr(y, "value", y), dtype=float)
    return value, _empty(value.size, n)


def jacobian_sparsity(f: Function, x, *args) -> sp.csr_array:
    """Boolean sparsity pattern (m, n) of the Jacobian of f at x, by index-set tracing.

    Never allocates an m x n or n x n dense array.  See the module docstring of
    :mod:`dualdiff.sparse` for when the pattern is global or local.

    >>> import numpy as np
    >>> f = lambda x: np.append(np.sin(x[1:]) * x[:-1], np.sum(x))
    >>> jacobian_sparsity(f, np.ones(3)).toarray().astype(int).tolist()
    [[1, 1, 0], [0, 1, 1], [1, 1, 1]]
    """
    return _detect(f, as_input(x), args)[1]


def _detect(f, x, args):
    """(value, pattern, branched) of f at x."""
    before = Tracer.branches
    tag = new_tag()
    t = Tracer.seed(x, tag)
    try:
        value, pattern = _traced(f(t, *args), tag, x.size)
    finally:
        Tracer._widths.pop(tag, None)
    pattern = sp.csr_array(pattern, dtype=bool)
    pattern.sort_indices()
    return value, pattern, Tracer.branches > before


def _parse(sparsity, m: int | None, n: int):
    """(pattern, column colours or None) from a user's pattern argument."""
    groups = None
    if isinstance(sparsity, tuple) and len(sparsity) == 2:  # scipy's (structure, groups)
        sparsity, groups = sparsity
        groups = np.asarray(groups, dtype=np.int64)
    pattern = coloring.as_pattern(sparsity)
    if pattern.shape[1] != n or (m is not None and pattern.shape[0] != m):
        raise ValueError(f"sparsity pattern of shape {pattern.shape} does not fit a Jacobian "
                         f"of shape ({m if m is not None else '?'}, {n})")
    if groups is not None and (groups.shape != (n,) or not coloring.is_valid(pattern, groups)):
        raise ValueError("sparsity=(structure, groups): groups must give each of the n "
                         "columns a group, with no two columns of a group sharing a row")
    return pattern, groups


def _same(a: tuple, b: tuple) -> bool:
    try:
        return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))
    except (TypeError, ValueError):
        return False


class JacobianPlan:
    """A sparse Jacobian prepared once (pattern and colouring), called at many x.

    ``plan(x, *args)`` returns the csr_array ``J(x)`` (m, n) of ``f(x, *args)``
    with exactly the pattern's nonzeros.  Suits Newton loops,
    ``least_squares(jac=plan)`` and ``solve_ivp(jac=lambda t, y: plan(y, t))``.

    Attributes: ``pattern``, ``colors``, ``ncolors``, ``mode`` ("forward" or
    "reverse"), ``local`` (the pattern came from a Python branch on values),
    ``detections`` (number of detection passes run) and ``calls``.

    >>> import numpy as np
    >>> plan = jacobian_plan(lambda x: x**2, np.ones(4))
    >>> plan.ncolors, plan(np.arange(4.0)).toarray().diagonal().tolist()
    (1, [0.0, 2.0, 4.0, 6.0])
    """

    def __init__(self, f: Function, x0, sparsity="auto", mode: str = "auto",
                 args: tuple = (), recheck: bool | str = "auto"):
        self.f, self.args, self.recheck = f, tuple(args), recheck
        x0 = as_input(x0)
        self.in_shape, self.n = x0.shape, x0.size
        self.detections, self.calls, self.local = 0, 0, False
        self._at = (None, ())
        groups = None
        if isinstance(sparsity, str):
            if sparsity != "auto":
                raise ValueError(f"sparsity must be 'auto' or a pattern, got {sparsity!r}")
            self._redetect(x0, self.args)
        else:
            self.pattern, groups = _parse(sparsity, None, self.n)
        self.m = self.pattern.shape[0]
        self._mode = check_mode(mode)
        self._choose(self._mode, groups)

    def _redetect(self, x, args) -> bool:
        """Detect at x; True when the pattern changed."""
        _, pattern, self.local = _detect(self.f, x, args)
        self._at = (x.copy(), args)
        self.detections += 1
        old = getattr(self, "pattern", None)
        self.pattern = pattern
        changed = old is not None and (old.shape != pattern.shape or (old != pattern).nnz > 0)
        return changed

    def _choose(self, mode, groups=None):
        p = self.pattern
        self.colors = groups if groups is not None else coloring.column_coloring(p)
        ncol = int(self.colors.max(initial=-1) + 1)
        self.mode = "forward"
        if mode == "reverse" or (mode == "auto" and groups is None):
            rows = coloring.row_coloring(p)
            nrow = int(rows.max(initial=-1) + 1)
            if mode == "reverse" or nrow < ncol:
                self.mode, self.colors = "reverse", rows
        self.ncolors = int(self.colors.max(initial=-1) + 1)
        # where each stored entry is read from the compressed product
        rows_of = np.repeat(np.arange(p.shape[0]), np.diff(p.indptr))
        if self.mode == "forward":
            self._read = self.colors[p.indices] * self.m + rows_of
        else:
            self._read = self.colors[rows_of] * self.n + p.indices
        self._seeds = self._make_seeds() if self.mode == "forward" else None

    def __call__(self, x, *args) -> sp.csr_array:
        x = as_input(x)
        if x.shape != self.in_shape:
            raise ValueError(f"plan made for x of shape {self.in_shape}, got {x.shape}")
        args = args or self.args
        self.calls += 1
        fresh = self.local and not (np.array_equal(x, self._at[0]) and _same(args, self._at[1]))
        if self.recheck is True or (self.recheck == "auto" and fresh):
            if self._redetect(x, args):
                self.m = self.pattern.shape[0]
                self._choose(self._mode)
        compressed = self._forward(x, args) if self.mode == "forward" else self._reverse(x, args)
        data = compressed.ravel()[self._read]
        p = self.pattern
        return sp.csr_array((data, p.indices, p.indptr), shape=p.shape)

    def _make_seeds(self):
        """One (k,) + x.shape seed block per chunk of colours (memory-bounded)."""
        c, n = self.ncolors, self.n
        step = max(1, min(c, default_chunk(n, self.m)))
        seeds = []
        for start in range(0, c, step):
            k = min(step, c - start)
            seed = np.zeros((k, n))
            sel = (self.colors >= start) & (self.colors < start + k)
            seed[self.colors[sel] - start, np.flatnonzero(sel)] = 1.0
            seeds.append(seed.reshape((k,) + self.in_shape))
        return seeds

    def _forward(self, x, args):
        """(ncolors, m): J times one seed per colour, in as few passes as memory allows."""
        if self.ncolors == 0:
            return np.zeros((0, self.m))
        out = []
        for seed in self._seeds:
            tag, k = new_tag(), seed.shape[0]
            # a copy: f may write into x (and so into its tangent) in place
            y = self.f(Dual._new(x, seed.copy(), tag), *args)
            _, (t,) = unpack(y, Dual, tag, k)
            if np.size(t) != k * self.m:
                raise ValueError(f"f returned {np.size(t) // k} values at this x; the plan's "
                                 f"pattern has {self.m} rows. Make a new plan.")
            out.append(np.reshape(t, (k, -1)))
        return out[0] if len(out) == 1 else np.concatenate(out)

    def _reverse(self, x, args):
        """(ncolors, n): one cotangent per row colour through dualdiff.vjp."""
        y, pullback = vjp(lambda z: self.f(z, *args), x)
        u = np.zeros((self.ncolors, self.m))
        u[self.colors, np.arange(self.m)] = 1.0
        return np.reshape(pullback(u.reshape((self.ncolors,) + np.shape(y))),
                          (self.ncolors, self.n))

    def __repr__(self) -> str:
        return (f"JacobianPlan({self.m}x{self.n}, nnz={self.pattern.nnz}, "
                f"{self.ncolors} colours, {self.mode}, local={self.local})")


def jacobian_plan(f: Function, x0, sparsity="auto", mode: str = "auto", args: tuple = (),
                  recheck: bool | str = "auto") -> JacobianPlan:
    """Detect (or take) the pattern of f's Jacobian and colour it once; call it at new x.

    ``recheck``: "auto" re-detects at every call only when the detected pattern
    came from a Python branch on values (local), True always, False never.

    >>> import numpy as np
    >>> f = lambda x: np.append(x[:1], x[1:] - x[:-1])
    >>> plan = jacobian_plan(f, np.zeros(5))
    >>> plan.ncolors, plan(np.ones(5)).toarray()[1].tolist()
    (2, [-1.0, 1.0, 0.0, 0.0, 0.0])
    """
    return JacobianPlan(f, x0, sparsity=sparsity, mode=mode, args=args, recheck=recheck)


def sparse_jacobian(f: Function, x, sparsity="auto", mode: str = "auto") -> sp.csr_array:
    """Jacobian as a scipy.sparse csr_array (m, n); see :func:`dualdiff.jacobian`.

    >>> import numpy as np
    >>> sparse_jacobian(np.sin, np.zeros(3)).toarray().tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    return JacobianPlan(f, x, sparsity=sparsity, mode=mode, recheck=False)(x)

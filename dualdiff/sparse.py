"""Sparse Jacobians: detect the pattern, colour it, seed one vector per colour.

``J`` is m x n (outputs and inputs flattened in C order).  With a column
colouring ``c(j)``, one forward pass seeded with ``S[j, c] = [c(j) == c]``
gives ``J S``; because columns of one colour never share a row,
``J[i, j] = (J S)[i, c(j)]`` for every (i, j) in the pattern.  Reverse mode
does the same with a row colouring and cotangents ``U^T J``.

Never stale.  The pattern is detected at x0 by :mod:`dualdiff.tracer`, which
keeps every outcome of the selections NumPy can see (``np.where``, ``maximum``,
``abs``, ``max``, ``sort``, ``interp``).  Every other discrete result computed
from x (comparisons, arg-reductions, masks, Python branches) is recorded with
the pattern; a plan records the same results in its passes at each new x, and
when any differs it detects the pattern again at that x (``plan.detections``
counts) before reading the Jacobian, so it is never silently wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import coloring
from .core import new_tag, recording
from .dual import Dual
from .reverse import Recording
from .seeding import as_input, check_mode, default_chunk, fresh, unpack
from .tracer import Tracer

Function = Callable[..., Any]


class Discretes(list):
    """The discrete results of a pass that decide a pattern (selections whose pattern
    already covers every outcome are left out), compared between passes."""

    def observe(self, fn, args, kwargs, result, select=False):
        if not select:  # a tuple (np.histogram, np.unique(..., return_counts=True)) kept as one
            kept = tuple(map(np.asarray, result)) if isinstance(result, tuple) else \
                np.asarray(result)
            self.append((getattr(fn, "__name__", repr(fn)), kept))

    def same(self, other) -> bool:
        return len(self) == len(other) and all(
            a == c and _equal(b, d) for (a, b), (c, d) in zip(self, other))


def _equal(b, d) -> bool:
    if isinstance(b, tuple) or isinstance(d, tuple):
        return isinstance(b, tuple) and isinstance(d, tuple) and len(b) == len(d) and \
            all(_equal(p, q) for p, q in zip(b, d))
    return np.shape(b) == np.shape(d) and np.array_equal(b, d, equal_nan=True)


def detect(f, x, args=()):
    """``(value, pattern, discretes)`` of f at x: the pattern (m, n) as a boolean
    csr_array and the discrete results it rests on."""
    t = Tracer.seed(x)
    with recording(Discretes()) as seen:
        y = f(t, *args)
    value, (pattern,) = unpack(y, t)
    pattern = sp.csr_array(pattern, dtype=bool)
    pattern.sort_indices()
    return value, pattern, seen


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


class JacobianPlan:
    """A sparse Jacobian prepared once (pattern and colouring), called at many x.

    ``plan(x, *args)`` returns the csr_array ``J(x)`` (m, n) of ``f(x, *args)``
    with exactly the pattern's nonzeros.  Suits Newton loops,
    ``least_squares(jac=plan)`` and ``solve_ivp(jac=lambda t, y: plan(y, t))``.

    Attributes: ``pattern``, ``colors``, ``ncolors``, ``mode`` ("forward" or
    "reverse"), ``local`` (the detected pattern rests on discrete results of x:
    comparisons, arg-reductions, branches), ``detections`` (detection passes run)
    and ``calls``.  A given pattern (``sparsity=``) is the caller's promise and is
    not re-checked.

    >>> import numpy as np
    >>> plan = JacobianPlan(lambda x: x**2, np.ones(4))
    >>> plan.ncolors, plan(np.arange(4.0)).toarray().diagonal().tolist()
    (1, [0.0, 2.0, 4.0, 6.0])
    """

    def __init__(self, f: Function, x0, sparsity="auto", mode: str = "auto",
                 args: tuple = ()):
        self.f, self.args = f, tuple(args)
        x0 = as_input(x0)
        self.in_shape, self.n = x0.shape, x0.size
        self.detections, self.calls = 0, 0
        self._seen = None
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

    @property
    def local(self) -> bool:
        return bool(self._seen)

    def _redetect(self, x, args) -> None:
        _, self.pattern, self._seen = detect(self.f, x, args)
        self.detections += 1

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
        with recording(Discretes()) as seen:
            compressed = self._compressed(x, args)
        if self._seen is not None and not seen.same(self._seen):
            # x takes another path than the pattern was detected on: detect again here
            old = self.pattern
            self._redetect(x, args)
            if old.shape != self.pattern.shape or (old != self.pattern).nnz:
                self.m = self.pattern.shape[0]
                self._choose(self._mode)
                compressed = self._compressed(x, args)
        data = compressed.ravel()[self._read]
        p = self.pattern
        return sp.csr_array((data, p.indices, p.indptr), shape=p.shape)

    def _compressed(self, x, args):
        return self._forward(x, args) if self.mode == "forward" else self._reverse(x, args)

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
            k = seed.shape[0]
            # copies: f may write into x (and so into its tangent) in place
            xin = Dual._make(fresh(x), (seed.copy(),), new_tag())
            _, (t,) = unpack(self.f(xin, *args), xin)
            if np.size(t) != k * self.m:
                raise ValueError(f"f returned {np.size(t) // k} values at this x; the plan's "
                                 f"pattern has {self.m} rows. Make a new plan.")
            out.append(np.reshape(t, (k, -1)))
        return out[0] if len(out) == 1 else np.concatenate(out)

    def _reverse(self, x, args):
        """(ncolors, n): one cotangent per row colour, one reverse sweep."""
        rec = Recording(lambda z: self.f(z, *args), x)
        if math.prod(rec.y_shape) != self.m:
            raise ValueError(f"f returned {math.prod(rec.y_shape)} values at this x; the "
                             f"plan's pattern has {self.m} rows. Make a new plan.")
        u = np.zeros((self.ncolors, self.m), x.dtype)
        u[self.colors, np.arange(self.m)] = 1.0
        u = u.reshape((self.ncolors,) + rec.y_shape)
        rows = rec.sweep(u)
        if np.iscomplexobj(rec.value):  # a complex output: J = sweep(u) - i sweep(i u)
            rows = rows - 1j * rec.sweep(1j * u)
        return np.reshape(rows, (self.ncolors, self.n))

    def __repr__(self) -> str:
        return (f"JacobianPlan({self.m}x{self.n}, nnz={self.pattern.nnz}, "
                f"{self.ncolors} colours, {self.mode}, local={self.local})")


def sparse_jacobian(f: Function, x, sparsity="auto", mode: str = "auto") -> sp.csr_array:
    """Jacobian as a scipy.sparse csr_array (m, n); see :func:`dualdiff.jacobian`.

    >>> import numpy as np
    >>> sparse_jacobian(np.sin, np.zeros(3)).toarray().tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    return JacobianPlan(f, x, sparsity=sparsity, mode=mode)(x)

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

Scale out: with ``executor=`` the seed blocks (groups of colours) of the forward
passes run on any ``concurrent.futures.Executor`` (see :mod:`dualdiff.fanout`);
each pass returns the discrete results it saw, and each is compared with the
pattern's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import coloring, fanout
from .core import new_tag, recording
from .dual import Dual
from .pytrees import Problem
from .reverse import Recording
from .seeding import check_mode, default_chunk, fresh, unpack
from .tracer import Tracer

Function = Callable[..., Any]


class Discretes(list):
    """The discrete results of a pass that decide a pattern (selections whose pattern
    already covers every outcome are left out), compared between passes."""

    def observe(self, fn, args, kwargs, result, select=False):
        if not select:  # (a tuple result, as lstsq's, is kept as a tuple of arrays)
            result = tuple(result) if isinstance(result, tuple) else (result,)
            self.append((getattr(fn, "__name__", repr(fn)),
                         tuple(np.asarray(r) for r in result)))

    def same(self, other) -> bool:
        return len(self) == len(other) and all(
            a == c and len(b) == len(d) and all(
                np.shape(p) == np.shape(q) and np.array_equal(p, q, equal_nan=True)
                for p, q in zip(b, d))
            for (a, b), (c, d) in zip(self, other))


def detect(f, x, args=None):
    """``(value, pattern, discretes)`` of f at x: the pattern (m, n) as a boolean
    csr_array and the discrete results it rests on (``f(x, args)`` when args is given)."""
    t = Tracer.seed(x)
    with recording(Discretes()) as seen:
        y = f(t) if args is None else f(t, args)
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


class DetectedPattern:
    """What the sparse plans share: a pattern detected at x0 with ``detect(f, x, args)``
    (or given and parsed), the discrete results it rests on (``local``), counters."""

    detect = staticmethod(detect)

    def _start(self, x0, sparsity, parse):
        """Detect or parse the pattern; what ``parse`` gives beside it (colours or
        groups), or None."""
        self.in_shape, self.n = x0.shape, x0.size
        self.detections, self.calls = 0, 0
        self._seen = None
        if not isinstance(sparsity, str):
            self.pattern, extra = parse(sparsity)
            return extra
        if sparsity != "auto":
            raise ValueError(f"sparsity must be 'auto' or a pattern, got {sparsity!r}")
        self._redetect(x0, self.args)
        return None

    @property
    def local(self) -> bool:
        return bool(self._seen)

    def _redetect(self, x, args) -> None:
        _, self.pattern, self._seen = self.detect(self.f, x, args)
        self.detections += 1


class JacobianPlan(DetectedPattern):
    """A sparse Jacobian prepared once (pattern and colouring), called at many x.

    ``plan(x, *args)`` returns the csr_array ``J(x)`` (m, n) of ``f(x, *args, **kwargs)``
    with exactly the pattern's nonzeros (x of x0's structure; a structured x or f(x) is
    flattened, see :mod:`dualdiff.pytrees`).  Suits Newton loops,
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
                 args: tuple = (), kwargs=None, executor=None):
        fanout.check_executor(executor)
        self._problem = problem = Problem(f, x0, args, kwargs)
        self.f, self.args, self.executor = problem.call, problem.args, executor
        groups = self._start(problem.x, sparsity, lambda p: _parse(p, None, problem.x.size))
        self.m = self.pattern.shape[0]
        self._mode = check_mode(mode)
        self._choose(self._mode, groups)

    def _choose(self, mode, groups=None):
        p, dtype = self.pattern, self._problem.x.dtype
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
        self._seeds = self._make_seeds(dtype) if self.mode == "forward" else None

    def __call__(self, x, *args) -> sp.csr_array:
        x = self._problem.ravel(x)
        if x.shape != self.in_shape:
            raise ValueError(f"plan made for x of shape {self.in_shape}, got {x.shape}")
        args = args or self.args
        self.calls += 1
        compressed, seen = self._compressed(x, args)
        if self._seen is not None and not all(s.same(self._seen) for s in seen):
            # x takes another path than the pattern was detected on: detect again here
            old = self.pattern
            self._redetect(x, args)
            if old.shape != self.pattern.shape or (old != self.pattern).nnz:
                self.m = self.pattern.shape[0]
                self._choose(self._mode)
                compressed = self._compressed(x, args)[0]
        data = compressed.ravel()[self._read]
        p = self.pattern
        return sp.csr_array((data, p.indices, p.indptr), shape=p.shape)

    def _compressed(self, x, args):
        return self._forward(x, args) if self.mode == "forward" else self._reverse(x, args)

    def _make_seeds(self, dtype):
        """One (k,) + x.shape seed block per chunk of colours (memory-bounded)."""
        c, n = self.ncolors, self.n
        step = max(1, min(c, default_chunk(n, self.m)))
        seeds = []
        for start in range(0, c, step):
            k = min(step, c - start)
            seed = np.zeros((k, n), dtype)
            sel = (self.colors >= start) & (self.colors < start + k)
            seed[self.colors[sel] - start, np.flatnonzero(sel)] = 1.0
            seeds.append(seed.reshape((k,) + self.in_shape))
        return seeds

    def _forward(self, x, args):
        """(ncolors, m): J times one seed per colour, in as few passes as memory allows,
        and the discrete results each pass saw."""
        if self.ncolors == 0:
            return np.zeros((0, self.m), x.dtype), []
        passes = fanout.run(self.executor, colour_pass,
                            [(self.f, x, seed, (args,)) for seed in self._seeds])
        out = []
        for seed, (t, _) in zip(self._seeds, passes):
            k = seed.shape[0]
            if np.size(t) != k * self.m:
                raise ValueError(f"f returned {np.size(t) // k} values at this x; the plan's "
                                 f"pattern has {self.m} rows. Make a new plan.")
            out.append(np.reshape(t, (k, -1)))
        return (out[0] if len(out) == 1 else np.concatenate(out)), [s for _, s in passes]

    def _reverse(self, x, args):
        """(ncolors, n): one cotangent per row colour, one reverse sweep."""
        with recording(Discretes()) as seen:
            rec = Recording(lambda z: self.f(z, args), x)
        if self.ncolors == 0:  # an empty output (or no input)
            return np.zeros((0, self.n), x.dtype), [seen]
        if math.prod(rec.y_shape) != self.m:
            raise ValueError(f"f returned {math.prod(rec.y_shape)} values at this x; the "
                             f"plan's pattern has {self.m} rows. Make a new plan.")
        u = np.zeros((self.ncolors, self.m), x.dtype)
        u[self.colors, np.arange(self.m)] = 1.0
        u = u.reshape((self.ncolors,) + rec.y_shape)
        rows = rec.sweep(u)
        if np.iscomplexobj(rec.value):  # a complex output: J = sweep(u) - i sweep(i u)
            rows = rows - 1j * rec.sweep(1j * u)
        return np.reshape(rows, (self.ncolors, self.n)), [seen]

    def __repr__(self) -> str:
        return (f"JacobianPlan({self.m}x{self.n}, nnz={self.pattern.nnz}, "
                f"{self.ncolors} colours, {self.mode}, local={self.local})")


def colour_pass(f, x, seed, args):
    """One forward pass seeded with ``seed`` (k, *x.shape): the tangent of f's output
    and the discrete results the pass saw (a work item for an executor).

    >>> t, seen = colour_pass(lambda x: x * x, np.array([1.0, 2.0]), np.ones((1, 2)), ())
    >>> t.tolist(), seen
    ([[2.0, 4.0]], [])
    """
    with recording(Discretes()) as seen:
        xin = Dual._make(fresh(x), (seed.copy(),), new_tag())
        _, (t,) = unpack(f(xin, *args), xin)
    return t, seen


def sparse_jacobian(f: Function, x, sparsity="auto", mode: str = "auto",
                    executor=None) -> sp.csr_array:
    """Jacobian as a scipy.sparse csr_array (m, n); see :func:`dualdiff.jacobian`.

    >>> import numpy as np
    >>> sparse_jacobian(np.sin, np.zeros(3)).toarray().tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    return JacobianPlan(f, x, sparsity=sparsity, mode=mode, executor=executor)(x)

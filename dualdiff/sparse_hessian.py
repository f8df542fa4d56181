"""Sparse Hessians: detect the pattern, star-colour it, read H from H S.

``H`` is n x n (x flattened in C order) and symmetric.  With a star colouring
``c`` of its pattern (:func:`dualdiff.coloring.star_coloring`) and seeds
``S[j, c] = [c(j) == c]``, one forward-over-reverse pass with k = #colours
directions (a Dual pass over the reverse sweep of f: k Hessian-vector products for
about the cost of k gradients) gives ``B = H S``, and every entry is read directly:
``h_ij = B[i, c(j)]`` when j is the only column of its colour in row i, else
``h_ij = h_ji = B[j, c(i)]`` (:func:`dualdiff.coloring.symmetric_reads`).  No
substitution, so every entry is as exact as one Hessian-vector product.

The pattern comes from one pass of the sparsity tracer with an
:class:`~dualdiff.tracer.Interactions` recorder: each non-linear operation adds the
pairs of inputs it couples (a superset of the true pattern; see
:mod:`dualdiff.tracer`).  A plan (:class:`SparseHessianPlan`) detects and colours
once, and re-checks at every call the discrete results (comparisons, branches,
arg-reductions) the pattern rests on, as :class:`dualdiff.sparse.JacobianPlan` does:
where one differs it detects again at that x.  With ``executor=`` the passes (blocks
of colours) run on any ``concurrent.futures.Executor`` (:mod:`dualdiff.fanout`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import coloring, fanout
from .core import new_tag, recording
from .dual import Dual
from .modes import check_scalar
from .pytrees import call_f
from .reverse import Recording
from .seeding import as_input, default_chunk, fresh, unpack
from .sparse import DetectedPattern, Discretes
from .tracer import Interactions, Tracer

Function = Callable[..., Any]


def detect(f: Function, x, args: tuple = ()):
    """``(value, pattern, discretes)``: f's value at x, the symmetric boolean (n, n)
    pattern of its Hessian and the discrete results that pattern rests on.

    >>> import numpy as np
    >>> detect(lambda x: np.sum(x[1:] * x[:-1]), np.ones(3))[1].nnz
    4
    """
    t = Tracer.seed(x)
    with recording(Discretes()) as seen, recording(Interactions(t.tag, t.size)) as acc:
        y = call_f(f, t, *args)
    value, _ = unpack(y, t)
    check_scalar(value, "hessian")
    return value, acc.pattern(), seen


def hvp_pass(f, x, seed, args):
    """One forward-over-reverse pass: ``(H S)^T`` (k, n) for the seeds S (k, *x.shape),
    and the discrete results f computed from x in it (a work item for an executor).

    >>> t, seen = hvp_pass(lambda x: np.sum(x ** 3), np.array([1.0, 2.0]), np.eye(2), ())
    >>> t.tolist(), seen
    ([[6.0, 0.0], [0.0, 12.0]], [])
    """
    xin = Dual._make(fresh(x), (seed.copy(),), new_tag())
    rec = Recording(lambda z: call_f(f, z, *args), xin, guards=True)
    check_scalar(rec.value, "hessian")
    g = rec.sweep(np.ones((1,), rec.x_dtype))[0]
    _, (t,) = unpack(g, xin)
    seen = Discretes()
    for guard in rec.guards:
        seen.observe(guard.fn, (), {}, guard.result, guard.select)
    return np.reshape(t, (seed.shape[0], -1)), seen


def _parse(sparsity, n: int):
    """(symmetric pattern, colours or None) from a user's ``pattern`` or
    ``(pattern, colours)``."""
    colors = None
    if isinstance(sparsity, tuple) and len(sparsity) == 2:
        sparsity, colors = sparsity
        colors = np.asarray(colors, dtype=np.int64)
    pattern = coloring.symmetric(sparsity)
    if pattern.shape != (n, n):
        raise ValueError(f"sparsity pattern of shape {pattern.shape} does not fit a Hessian "
                         f"of shape ({n}, {n})")
    if colors is not None and (colors.shape != (n,) or not coloring.is_star(pattern, colors)):
        raise ValueError("sparsity=(pattern, colours): the colours (one per variable) must "
                         "let every entry be read directly (a star colouring; see "
                         "dualdiff.coloring.star_coloring)")
    return pattern, colors


class SparseHessianPlan(DetectedPattern):
    """A sparse Hessian prepared once (pattern and star colouring), called at many x.

    ``plan(x, *args)`` returns the csr_array ``H(x)`` (n, n) of the scalar
    ``f(x, *args)``, with exactly the pattern's nonzeros, exactly symmetric.  Suits
    ``scipy.optimize.minimize(..., method="trust-constr", hess=plan)``.

    ``sparsity``: "auto" (detect at x0) or a pattern (symmetrised; the caller's
    promise, not re-checked), or ``(pattern, colours)``.  ``chunk``: colours per pass
    (default: all in one pass, bounded by a memory budget).  ``executor``: the passes
    run there, same bits.

    Attributes: ``pattern``, ``colors``, ``ncolors``, ``coloring`` (star colours vs
    the column colouring and its lower bound), ``local`` (the pattern rests on
    discrete results of x), ``detections`` and ``calls``.

    >>> import numpy as np
    >>> plan = SparseHessianPlan(lambda x: np.sum(x[1:] * x[:-1] ** 2), np.ones(5))
    >>> plan.ncolors, plan(np.arange(5.0)).toarray()[1].tolist()
    (3, [0.0, 4.0, 2.0, 0.0, 0.0])
    """

    detect = staticmethod(detect)

    def __init__(self, f: Function, x0, sparsity="auto", args: tuple = (), executor=None,
                 chunk: int | None = None):
        fanout.check_executor(executor)
        self.f, self.args, self.executor, self.chunk = f, tuple(args), executor, chunk
        x0 = as_input(x0)
        self._colour(self._start(x0, sparsity, lambda p: _parse(p, x0.size)))

    def _colour(self, colors=None) -> None:
        self.colors, self._read, self.coloring = coloring.star_recovery(self.pattern, colors)
        self.ncolors = c = self.coloring["star"]
        n = self.n
        step = self.chunk or max(1, min(c, default_chunk(n)))
        self.seeds = []
        for start in range(0, c, step):
            k = min(step, c - start)
            seed = np.zeros((k, n))
            sel = (self.colors >= start) & (self.colors < start + k)
            seed[self.colors[sel] - start, np.flatnonzero(sel)] = 1.0
            self.seeds.append(seed.reshape((k,) + self.in_shape))

    def _compressed(self, x, args):
        """(ncolors, n) = (H S)^T and the discrete results of each pass."""
        if self.ncolors == 0:
            return np.zeros((0, self.n)), []
        passes = fanout.run(self.executor, hvp_pass,
                            [(self.f, x, seed.astype(x.dtype), args) for seed in self.seeds])
        out = [t for t, _ in passes]
        return (out[0] if len(out) == 1 else np.concatenate(out)), [s for _, s in passes]

    def redetect(self, x, args) -> bool:
        """Detect the pattern again at x (f takes another path there); colour it again
        if it changed, and say so."""
        old = self.pattern
        self._redetect(x, args)
        if old.shape == self.pattern.shape and not (old != self.pattern).nnz:
            return False
        self._colour()
        return True

    def assemble(self, compressed) -> sp.csr_array:
        """H from ``compressed`` = (H S)^T (ncolours, n), S the seeds (``self.seeds``
        stacked), every entry read directly."""
        p = self.pattern
        data = np.reshape(compressed, (-1,))[self._read]
        return sp.csr_array((data, p.indices, p.indptr), shape=p.shape)

    def __call__(self, x, *args) -> sp.csr_array:
        x = as_input(x)
        if x.shape != self.in_shape:
            raise ValueError(f"plan made for x of shape {self.in_shape}, got {x.shape}")
        args = args or self.args
        self.calls += 1
        compressed, seen = self._compressed(x, args)
        if self._seen is not None and not all(s.same(self._seen) for s in seen):
            # x takes another path than the pattern was detected on: detect again here
            if self.redetect(x, args):
                compressed = self._compressed(x, args)[0]
        return self.assemble(compressed)

    def __repr__(self) -> str:
        return (f"SparseHessianPlan({self.n}x{self.n}, nnz={self.pattern.nnz}, "
                f"{self.ncolors} colours, local={self.local})")


def sparse_hessian(f: Function, x, sparsity="auto", args: tuple = (), executor=None,
                   chunk: int | None = None) -> sp.csr_array:
    """Hessian of a scalar f as a scipy.sparse csr_array (n, n); see
    :func:`dualdiff.hessian`.

    >>> import numpy as np
    >>> sparse_hessian(lambda x: np.sum(x ** 3), np.arange(3.0)).toarray().tolist()
    [[0.0, 0.0, 0.0], [0.0, 6.0, 0.0], [0.0, 0.0, 12.0]]
    """
    return SparseHessianPlan(f, x, sparsity=sparsity, args=args, executor=executor,
                             chunk=chunk)(x)


def hessian_sparsity(f: Function, x, *args) -> sp.csr_array:
    """Symmetric boolean pattern (n, n) of the Hessian of a scalar f at x (a superset of
    the true one; see :mod:`dualdiff.tracer`).

    >>> import numpy as np
    >>> f = lambda x: np.sum(np.exp(x[1:] - x[:-1])) + x[0] * x[-1]
    >>> hessian_sparsity(f, np.ones(4)).toarray().astype(int).tolist()
    [[1, 1, 0, 1], [1, 1, 1, 0], [0, 1, 1, 1], [1, 0, 1, 1]]
    """
    return detect(f, as_input(x), args)[1]


__all__ = ["SparseHessianPlan", "sparse_hessian", "hessian_sparsity", "detect", "hvp_pass"]

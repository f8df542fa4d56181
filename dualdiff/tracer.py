"""Sparsity detection: index sets propagated through the same core as every carrier.

A :class:`Tracer` is a carrier whose derivative part is a boolean sparse
pattern ``P`` of shape ``(value.size, n)``: row ``i`` holds the inputs that
element ``i`` (C order) may depend on.  It combines patterns where Dual
combines tangents:

* element-wise ``f(a, b)``: row ``i`` = union of the (broadcast) rows of the
  operands whose partial is not a structural zero; piecewise-constant ufuncs
  (floor, sign, ...) give empty rows;
* a movement map (reshape, indexing, concatenate, ...): rows gathered with the
  map's index map; ``sum``/``cumsum``: ``J_op @ P`` with ``J_op`` the map's own
  0/1 structure (never a dense m x n array);
* primitives: ``J_i @ P_i`` with ``J_i`` from the primitive's own ``structure``
  rule (matmul and einsum follow the nonzeros of the other operands); without one
  every output depends on every input involved;
* a write ``x[i] = y`` (also through a view): the written rows are y's.

Global or local.  Selections that depend on values keep *every* outcome:
``np.where``, ``maximum``/``minimum``/``clip``, ``abs``, ``np.max``/``np.min``
(union over the reduced axes) and ``np.sort`` (union along the axis), so for f
whose discrete results (comparisons, branches, arg-reductions) do not decide the
structure the pattern holds for every x.  Every discrete result is reported to
the recorders of :mod:`dualdiff.core`, so a reused pattern can be re-checked at
a new x (see :mod:`dualdiff.sparse`).

A pattern past :data:`MAX_ENTRIES` entries raises: such a Jacobian is dense.

Second order (Hessian patterns).  While an :class:`Interactions` recorder of the
pass's tag is active (``with core.recording(Interactions(tag, n))``), every
non-linear operation adds the pairs of inputs it couples, conservatively:

* element-wise ``f(a, b)`` with a second partial ``f_ij`` that is not a structural
  zero of its row in :mod:`dualdiff.rules`: ``P_i^T P_j`` over the (broadcast)
  elements (each element e couples the inputs of row e of operand i with those of
  row e of operand j);
* matmul of two traced operands: ``R_a^T R_b`` with ``R_a[k]`` the inputs of column
  k of a and ``R_b[k]`` those of row k of b; einsum: every pair of distinct traced
  operands; solve / lstsq: a's inputs with all inputs (linear in b); any other
  primitive: all its inputs with each other;
* linear maps, movements, writes and selections (where, maximum, abs, max, sort)
  add nothing: their second derivatives vanish.

The Hessian pattern of a scalar ``f`` is the symmetrised union: a superset of the
true one (exact for code without dead branches, cancellations or non-linear
results fed to piecewise-constant functions such as ``floor``).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from numpy.lib.array_utils import normalize_axis_index

from . import rules
from .arrays import periodic_knots
from .core import (
    Carrier,
    discrete,
    find_owner,
    index_map,
    new_tag,
    operand,
    primal,
    recorders,
    split,
)

#: Largest pattern (stored entries) detection builds; a dense 12000 x 12000 Jacobian is
#: past it, and detection says so instead of allocating gigabytes.
MAX_ENTRIES = 2**26
#: Largest number of entries a dense structural helper may allocate.
DENSE_LIMIT = 2**25


# -- row patterns: CSR (indptr, indices) kept as scipy csr_array of bools -------

def empty(rows: int, n: int) -> sp.csr_array:
    """A pattern with no dependence: rows x n.

    >>> empty(2, 3).nnz
    0
    """
    return sp.csr_array((np.zeros(0, bool), np.zeros(0, np.int32),
                         np.zeros(rows + 1, np.int32)), shape=(rows, n))


def identity(n: int) -> sp.csr_array:
    """The pattern of the input itself: element j depends on input j.

    >>> identity(2).toarray().tolist()
    [[True, False], [False, True]]
    """
    i = np.arange(n, dtype=np.int32)
    return sp.csr_array((np.ones(n, bool), i, np.arange(n + 1, dtype=np.int32)), shape=(n, n))


def _dense(total: int, what: str) -> None:
    if total > MAX_ENTRIES:
        raise ValueError(
            f"sparsity detection: {what} would hold {total} dependencies (more than "
            f"{MAX_ENTRIES}); this Jacobian is (nearly) dense. Use the dense dd.jacobian "
            f"(sparsity=None), or pass a pattern you know.")


def _csr(indptr, indices, n):
    rows = len(indptr) - 1
    idt = np.int64 if (len(indices) > 2**31 - 1 or n > 2**31 - 1) else np.int32
    out = sp.csr_array((np.ones(len(indices), bool), indices.astype(idt, copy=False),
                        indptr.astype(idt, copy=False)), shape=(rows, n))
    out.has_sorted_indices = True
    return out


def gather_rows(parts, index, n: int) -> sp.csr_array:
    """Rows ``index`` (flat, 0 = empty row, 1.. = rows of the stacked parts).

    >>> gather_rows([identity(2)], [2, 0, 1], 2).toarray().astype(int).tolist()
    [[0, 1], [0, 0], [1, 0]]
    """
    index = np.asarray(index, dtype=np.int64).ravel()
    if len(parts) == 1 and index.size == parts[0].shape[0] and index.size and \
            index[0] == 1 and np.array_equal(index, np.arange(1, index.size + 1)):
        return parts[0]
    counts = np.concatenate([[0]] + [np.diff(p.indptr) for p in parts]).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    indices = np.concatenate([np.zeros(0, np.int64)] + [p.indices for p in parts])
    lens = counts[index]
    indptr = np.concatenate([[0], np.cumsum(lens)])
    total = int(indptr[-1])
    _dense(total, f"an array of {index.size} elements")
    pos = np.repeat(starts[index] - indptr[:-1], lens) + np.arange(total)
    return _csr(indptr, indices[pos], n)


def _broadcast_rows(pattern, shape: tuple, to: tuple) -> sp.csr_array:
    """Rows of ``pattern`` (of an array of ``shape``) broadcast to ``to``."""
    if tuple(shape) == tuple(to):
        return pattern
    idx = np.broadcast_to(np.arange(1, math.prod(shape) + 1).reshape(shape), to)
    return gather_rows([pattern], idx, pattern.shape[1])


def union(a, b):
    """Row-wise union of two patterns of the same shape (either may be None).

    >>> union(identity(2), None).nnz
    2
    """
    if a is None or a is b:
        return b
    if b is None or b.nnz == 0:
        return a
    if a.nnz == 0:
        return b
    _dense(a.nnz + b.nnz, f"an array of {a.shape[0]} elements")
    out = (a + b).tocsr()
    out.sort_indices()
    return out


def apply(J, P):
    """Pattern of ``J_op @ (pattern P)``: rows of J pick rows of P to union.

    >>> apply(sp.csr_array(np.ones((1, 2), bool)), identity(2)).toarray().tolist()
    [[True, True]]
    """
    # bound the product before forming it: each row of J unions its rows of P
    lens = np.diff(P.indptr)
    per_row = sp.csr_array((lens[J.indices].astype(np.int64), J.indices, J.indptr),
                           shape=J.shape).sum(axis=1) if J.nnz else np.zeros(J.shape[0])
    _dense(int(np.sum(np.minimum(per_row, P.shape[1]))), f"an array of {J.shape[0]} elements")
    out = (J.astype(bool) @ P).tocsr()
    out.sort_indices()
    return out


def _full_rows(cols: np.ndarray, rows: int, n: int) -> sp.csr_array:
    """Every one of ``rows`` rows depends on ``cols``."""
    k = len(cols)
    _dense(rows * k, f"{rows} outputs each depending on {k} inputs")
    return _csr(np.arange(rows + 1, dtype=np.int64) * k, np.tile(cols, rows), n)


def _structure(rows, cols, shape) -> sp.csr_array:
    m = sp.coo_array((np.ones(len(rows), bool), (rows, cols)), shape=shape).tocsr()
    m.sum_duplicates()
    return m


# -- the carrier -----------------------------------------------------------------

class Tracer(Carrier):
    """A value with the sparsity pattern of its derivative w.r.t. n inputs.

    >>> x = Tracer.seed(np.array([1.0, 2.0, 3.0]))
    >>> y = np.sin(x[1:]) * x[0]
    >>> y.pattern.toarray().astype(int).tolist()
    [[1, 1, 0], [1, 0, 1]]
    """

    __slots__ = ("pattern",)
    _part_names = ("value", "pattern")
    _aliasing = False

    @classmethod
    def seed(cls, x, tag: int | None = None) -> Tracer:
        """The input x of a detection pass: element j depends on input j."""
        x = np.array(x, dtype=np.result_type(np.asarray(x).dtype, float))
        return cls._make(x, (identity(x.size),), new_tag() if tag is None else tag)

    @classmethod
    def _make(cls, value, parts, tag):
        t = object.__new__(cls)
        t.value, t.pattern, t.tag, t._view, t._version, t._epoch = value, parts[0], tag, None, 0, 0
        return t

    @property
    def parts(self) -> tuple:
        return (self.pattern,)

    def _set_parts(self, parts) -> None:
        (self.pattern,) = parts

    def _orders(self):
        return ()

    @classmethod
    def _constant_parts(cls, value, like):
        return (empty(math.prod(np.shape(value)), like.pattern.shape[1]),)

    def __array_function__(self, func, types, args, kwargs):
        impl = GLOBAL.get(func)
        if impl is not None and type(find_owner(tuple(args) + tuple(kwargs.values()))) is Tracer:
            return impl(*args, **kwargs)
        return super().__array_function__(func, types, args, kwargs)

    # -- how patterns combine -----------------------------------------------------------
    @classmethod
    def _elementwise(cls, ufunc, z, sp_, first, second, tag, args):
        shape = np.shape(z)
        n = next(p[0].shape[1] for _, p in sp_ if p is not None)
        out = None
        for (v, p), f in zip(sp_, first):
            if p is not None and f is not None:
                out = union(out, _broadcast_rows(p[0], np.shape(v), shape))
        acc = _interactions(tag)
        if acc is not None:
            for i, j in _second_pairs(ufunc, [p is not None for _, p in sp_]):
                (vi, pi), (vj, pj) = sp_[i], sp_[j]
                acc.add(_broadcast_rows(pi[0], np.shape(vi), shape),
                        _broadcast_rows(pj[0], np.shape(vj), shape), ufunc.__name__)
        return cls._make(z, (empty(math.prod(shape), n) if out is None else out,), tag)

    @classmethod
    def _linear(cls, op, g, adjoint, sp_, value, tag, args):
        n = next(p[0].shape[1] for _, p in sp_ if p is not None)
        shapes = [np.shape(v) for v, _ in sp_]
        parts = [p[0] if p is not None else empty(math.prod(s), n)
                 for (_, p), s in zip(sp_, shapes)]
        if adjoint is None:
            return cls._make(value, (gather_rows(parts, index_map(op, shapes), n),), tag)
        if len(sp_) != 1:
            raise TypeError("sparsity detection: a linear map of several arguments with "
                            "an adjoint is not supported")
        structure = getattr(adjoint, "structure", None)  # the map's own 0/1 structure
        J = structure(shapes[0], np.shape(value)) if structure is not None else \
            _linear_structure(op, adjoint, shapes[0], np.shape(value))
        return cls._make(value, (apply(J, parts[0]),), tag)

    @classmethod
    def _primitive(cls, prim, sp_, out, tag, args):
        n = next(p[0].shape[1] for _, p in sp_ if p is not None)
        values = [v for v, _ in sp_]
        live = [p is not None for _, p in sp_]
        acc = _interactions(tag)
        if acc is not None:
            _primitive_pairs(acc, prim, sp_, n)
        if isinstance(out, tuple):
            cols = np.unique(np.concatenate([p[0].indices for _, p in sp_ if p is not None]))
            const = getattr(prim, "constant_outputs", ())
            return tuple(o if i in const else cls._make(o, (_full_rows(cols, np.size(o), n),), tag)
                         for i, o in enumerate(out))
        structure = prim.structure(out, values, [_mask(v, p) for v, p in sp_], live) \
            if prim.structure is not None else [None] * len(sp_)
        pat = None
        for (_, p), J in zip(sp_, structure):
            if p is None:
                continue
            if J is None:  # every output depends on every input element involved
                pat = union(pat, _full_rows(np.unique(p[0].indices), np.size(out), n))
            else:
                pat = union(pat, apply(J, p[0]))
        return cls._make(out, (empty(np.size(out), n) if pat is None else pat,), tag)

    @classmethod
    def _write_root(cls, root, written, src, parts, item_value, component=None):
        n = root.pattern.shape[1]
        size = written.size
        rows = np.arange(1, size + 1)
        rows[written] = size + 1 + src
        item = parts[0] if parts is not None else empty(np.size(item_value), n)
        old = root.pattern
        root.pattern = gather_rows([old, item], rows, n)
        if component is not None:  # z.real / z.imag written: the other component stays
            root.pattern = union(root.pattern, old)


# -- second order: the pairs of inputs each operation couples ----------------------------

def _interactions(tag):
    """The Interactions recorder of the detection pass of ``tag`` active here, if any."""
    for r in recorders():
        if type(r) is Interactions and r.tag == tag:
            return r
    return None


def _second_pairs(ufunc, live) -> list:
    """Operand pairs (i, j), i <= j, whose second partial is not a structural zero."""
    if ufunc in rules.PIECEWISE_CONSTANT:
        return []
    row = rules.UNARY.get(ufunc)
    entries = ((((0, 0), row[1]),) if row is not None
               else tuple(zip(((0, 0), (0, 1), (1, 1)), rules.BINARY[ufunc][1])))
    return [(i, j) for (i, j), e in entries
            if live[i] and live[j] and (callable(e) or e != 0)]


def _inputs_of(p) -> sp.csr_array:
    """One row: every input any element of pattern p depends on."""
    cols = np.unique(p.indices)
    return _csr(np.array([0, len(cols)]), cols, p.shape[1])


def _primitive_pairs(acc, prim, sp_, n) -> None:
    live = [(i, p[0]) for i, (_, p) in enumerate(sp_) if p is not None]
    name = prim.name
    if name == "matmul" or name.startswith("einsum("):  # linear in each operand
        if len(live) < 2:
            return
        if name == "matmul" and all(np.ndim(v) <= 2 for v, _ in sp_):
            a, b = (np.ndim(v) for v, _ in sp_)
            (m, k), (_, q) = (np.shape(sp_[0][0]) if a == 2 else (1,) + np.shape(sp_[0][0]),
                              np.shape(sp_[1][0]) if b == 2 else np.shape(sp_[1][0]) + (1,))
            i = np.arange(m * k)  # a[i, kk] at i * k + kk; b[kk, j] at kk * q + j
            ra = apply(_structure(i % k, i, (k, m * k)), live[0][1])
            j = np.arange(k * q)
            rb = apply(_structure(j // q, j, (k, k * q)), live[1][1])
            acc.add(ra, rb, "matmul")
            return
        rows = [_inputs_of(p) for _, p in live]
        for s in range(len(rows)):
            for t in range(s + 1, len(rows)):
                acc.add(rows[s], rows[t], name)
        return
    every = _inputs_of(sp.vstack([p for _, p in live], format="csr"))
    if name in ("solve", "lstsq"):  # linear in b: no pair within b's inputs
        if sp_[0][1] is not None:
            acc.add(_inputs_of(sp_[0][1][0]), every, name)
        return
    acc.add(every, every, name)


class Interactions:
    """The pairs of inputs coupled by the non-linear operations of one detection pass:
    the accumulator of a Hessian pattern (see the module docstring).  Activate it with
    ``core.recording``; it belongs to that pass only.

    >>> from dualdiff.core import recording
    >>> x = Tracer.seed(np.ones(3))
    >>> with recording(Interactions(x.tag, 3)) as acc:
    ...     y = np.sum(x[1:] * x[:-1])
    >>> acc.pattern().toarray().astype(int).tolist()
    [[0, 1, 0], [1, 0, 1], [0, 1, 0]]
    """

    def __init__(self, tag: int, n: int):
        self.tag, self.n = tag, n
        self._done = empty(n, n)
        self._pending: list = []
        self._pending_nnz = 0

    def observe(self, fn, args, kwargs, result, select=False) -> None:
        """Discrete results are not this recorder's business."""

    def add(self, a: sp.csr_array, b: sp.csr_array, what: str) -> None:
        """Couple, for every element e, the inputs of row e of a with those of row e of b."""
        if a.nnz == 0 or b.nnz == 0:
            return
        # bound the product before forming it: input r meets |b_e| inputs per e with r in a_e
        lens = np.diff(b.indptr).astype(np.int64)
        per_input = np.bincount(a.indices, weights=np.repeat(lens, np.diff(a.indptr)),
                                minlength=self.n)
        bound = int(np.minimum(per_input, self.n).sum())
        if bound > MAX_ENTRIES:
            raise ValueError(
                f"Hessian sparsity detection: {what} of arrays of {a.shape[0]} elements "
                f"couples up to {bound} pairs of inputs (more than {MAX_ENTRIES}); this "
                f"Hessian is (nearly) dense. Use the dense dd.hessian (sparsity=None), or "
                f"pass a pattern you know.")
        prod = (a.T @ b).tocoo()
        self._pending.append((prod.row, prod.col))
        self._pending_nnz += prod.nnz
        if self._pending_nnz > max(self._done.nnz, 2**20):
            self._merge()

    def _merge(self) -> None:
        done = self._done.tocoo()
        rows = np.concatenate([done.row] + [r for r, _ in self._pending])
        cols = np.concatenate([done.col] + [c for _, c in self._pending])
        self._pending, self._pending_nnz = [], 0
        m = sp.coo_array((np.ones(len(rows), bool), (rows, cols)), shape=(self.n, self.n))
        m = m.tocsr()
        m.sum_duplicates()
        if m.nnz > MAX_ENTRIES:
            raise ValueError(
                f"Hessian sparsity detection: the pattern would hold {m.nnz} entries (more "
                f"than {MAX_ENTRIES}); this Hessian is (nearly) dense. Use the dense "
                f"dd.hessian (sparsity=None), or pass a pattern you know.")
        self._done = m

    def pattern(self) -> sp.csr_array:
        """The symmetric (n, n) boolean pattern of every pair coupled so far."""
        self._merge()
        m = self._done
        out = sp.csr_array((m + m.T).astype(bool))
        out.sum_duplicates()
        out.sort_indices()
        return out


def _mask(v, p):
    """Structural nonzeros of an operand: nonzero value, or any dependence."""
    m = np.asarray(primal(v)) != 0
    if p is not None:
        m = m | (np.diff(p[0].indptr) > 0).reshape(m.shape)
    return m


def _linear_structure(op, adjoint, in_shape, out_shape) -> sp.csr_array:
    """The 0/1 structure (out, in) of a linear map with coefficients >= 0.

    When each input goes to exactly one output (sum), the adjoint applied to
    output indices names it; otherwise (cumsum) op is applied to blocks of
    basis vectors under a memory bound."""
    nin, nout = math.prod(in_shape), math.prod(out_shape)
    u = np.arange(1.0, nout + 1).reshape((1,) + tuple(out_shape))
    dest = np.asarray(adjoint(u))[0].ravel()
    ok = np.all((dest >= 1) & (dest == np.round(dest)))
    if ok:
        dest = dest.astype(np.int64) - 1
        counts = np.asarray(op(np.ones(in_shape))).ravel()
        ok = np.array_equal(np.bincount(dest, minlength=nout), counts)
    if ok:
        return _structure(dest, np.arange(nin), (nout, nin))
    if nin * nout > 64 * DENSE_LIMIT:
        raise ValueError(f"sparsity detection: the linear map {in_shape} -> {out_shape} is "
                         f"too large for its structure to be found; pass sparsity=pattern")
    step = max(1, DENSE_LIMIT // max(nout, 1))
    rows, cols = [], []
    for s in range(0, nin, step):
        e = np.zeros((min(step, nin - s), nin))
        e[np.arange(e.shape[0]), s + np.arange(e.shape[0])] = 1.0
        img = np.asarray([op(b.reshape(in_shape)) for b in e]).reshape(e.shape[0], nout)
        c, r = np.nonzero(img)
        rows.append(r)
        cols.append(c + s)
    return _structure(np.concatenate(rows), np.concatenate(cols), (nout, nin))


# -- value-dependent selections keep every outcome ------------------------------------

def _where(condition, x=None, y=None):
    if x is None and y is None:
        return discrete(np.nonzero, (condition,))
    cond = np.asarray(primal(condition), dtype=bool)
    owner = find_owner((x, y))
    tag = owner.tag
    n = owner.pattern.shape[1]
    xv, xp = split(x, Tracer, tag)
    yv, yp = split(y, Tracer, tag)
    value = np.where(cond, primal(xv), primal(yv))
    shape = value.shape
    pat = None
    for v, p in ((xv, xp), (yv, yp)):
        if p is not None:
            pat = union(pat, _broadcast_rows(p[0], np.shape(v), shape))
    return Tracer._make(value, (empty(value.size, n) if pat is None else pat,), tag)


def _reduce_all(func):
    def impl(a, axis=None, out=None, keepdims=False, **kwargs):
        s = np.sum(a, axis=axis, keepdims=keepdims)
        value = func(primal(a), axis=axis, keepdims=keepdims)
        return Tracer._make(value, (s.pattern,), s.tag)

    return impl


def _along(a, axis, value):
    """Each output depends on every element along ``axis`` (sort, partition)."""
    if axis is None:
        a, axis = np.ravel(a), 0
    ax = normalize_axis_index(axis, np.ndim(a))
    s = np.broadcast_to(np.sum(a, axis=ax, keepdims=True), np.shape(a))
    return Tracer._make(value, (s.pattern,), s.tag)


def _sort(a, axis=-1, kind=None, order=None, *, stable=None):
    return _along(a, axis, np.sort(primal(a), axis=axis))


def _partition(a, kth, axis=-1, kind="introselect", order=None):
    return _along(a, axis, np.partition(primal(a), kth, axis=axis))


def _interp(x, xp, fp, left=None, right=None, period=None):
    """Each output depends on its query and on every knot and value: the interval a
    query falls in is a selection, and the pattern keeps every outcome of it."""
    owner = find_owner((x, xp, fp, left, right))
    tag, n = owner.tag, owner.pattern.shape[1]
    x, xp, fp = (a if isinstance(a, Carrier) else operand(a, owner) for a in (x, xp, fp))
    if period is not None:
        return _interp(*periodic_knots(x, xp, fp, period))
    value = np.interp(primal(x), primal(xp), primal(fp),
                      left=None if left is None else primal(left),
                      right=None if right is None else primal(right))
    shape = np.shape(value)
    pat = None
    xv, xpat = split(x, Tracer, tag)
    if xpat is not None:
        pat = union(pat, _broadcast_rows(xpat[0], np.shape(xv), shape))
    for a in (xp, fp, left, right):
        inner = find_owner((a,))
        if type(inner) is Tracer and inner.tag == tag:
            pat = union(pat, _broadcast_rows(np.sum(a).pattern, (), shape))
    return Tracer._make(value, (empty(math.prod(shape), n) if pat is None else pat,), tag)


GLOBAL = {np.where: _where, np.sort: _sort, np.partition: _partition, np.interp: _interp}
for _f in (np.max, np.amax, np.min, np.amin, np.nanmax, np.nanmin):
    GLOBAL[_f] = _reduce_all(_f)
del _f

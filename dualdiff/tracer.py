"""Sparsity detection: index sets propagated through the same NumPy dispatch.

A :class:`Tracer` is a carrier whose derivative part is a boolean sparse
pattern ``P`` of shape ``(value.size, n)``: row ``i`` holds the inputs that
element ``i`` (C order) may depend on.  It implements the four rule appliers
on patterns instead of tangents:

* element-wise ``f(a, b)``: row ``i`` = union of the (broadcast) rows of the
  operands whose partial is not structurally zero; piecewise-constant ufuncs
  (floor, sign, ...) give empty rows;
* a movement map (reshape, indexing, concatenate, ...): rows gathered with the
  map's index map; ``sum``/``cumsum``: ``J_op @ P`` with ``J_op`` the map's
  own 0/1 structure (never a dense m x n array);
* ``matmul``/``einsum``: ``J_op @ P`` where ``J_op`` follows the nonzeros of the
  other operands; other primitives (solve, det, ...) depend on the union of
  all their inputs' rows.

Global or local.  Selections that depend on values keep *both* branches:
``np.where``, ``maximum``/``minimum``/``clip``, ``abs``, ``np.max``/``np.min``
(union over the reduced axes) and ``np.sort`` (union along the axis).  So for
f without Python branches on values the pattern holds for every x (global).
A Python ``if`` on a traced value runs on the primal at x and makes the
pattern local to x's branch; the detector counts such branches
(``Tracer.branches``) so a plan can tell (see :mod:`dualdiff.sparse`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.lib.array_utils import normalize_axis_index

from . import rules
from .carrier import Carrier, find_owner, new_tag, primal
from .dispatch import index_map

#: Largest number of entries a dense structural helper (einsum's J_op, the
#: fallback of a linear map with an adjoint) may allocate.
DENSE_LIMIT = 2**25


# -- row patterns: CSR (indptr, indices) kept as scipy csr_array of bools -------

def _empty(rows: int, n: int) -> sp.csr_array:
    """A pattern with no dependence: rows x n."""
    return sp.csr_array((np.zeros(0, bool), np.zeros(0, np.int32),
                         np.zeros(rows + 1, np.int32)), shape=(rows, n))


def _identity(n: int) -> sp.csr_array:
    """The pattern of the input itself: element j depends on input j."""
    i = np.arange(n, dtype=np.int32)
    return sp.csr_array((np.ones(n, bool), i, np.arange(n + 1, dtype=np.int32)), shape=(n, n))


def _csr(indptr, indices, n):
    rows = len(indptr) - 1
    idt = np.int64 if (len(indices) > 2**31 - 1 or n > 2**31 - 1) else np.int32
    out = sp.csr_array((np.ones(len(indices), bool), indices.astype(idt, copy=False),
                        indptr.astype(idt, copy=False)), shape=(rows, n))
    out.has_sorted_indices = True
    return out


def _gather_rows(parts, index, n: int) -> sp.csr_array:
    """Rows ``index`` (flat, 0 = empty row, 1.. = rows of the stacked parts)."""
    index = np.asarray(index, dtype=np.int64).ravel()
    if len(parts) == 1 and index.size == parts[0].shape[0] + 0 and index.size and \
            index[0] == 1 and np.array_equal(index, np.arange(1, index.size + 1)):
        return parts[0]
    counts = np.concatenate([[0]] + [np.diff(p.indptr) for p in parts]).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    indices = np.concatenate([np.zeros(0, np.int64)] + [p.indices for p in parts])
    lens = counts[index]
    indptr = np.concatenate([[0], np.cumsum(lens)])
    total = int(indptr[-1])
    pos = np.repeat(starts[index] - indptr[:-1], lens) + np.arange(total)
    return _csr(indptr, indices[pos], n)


def _broadcast_rows(pattern, shape: tuple, to: tuple) -> sp.csr_array:
    """Rows of ``pattern`` (of an array of ``shape``) broadcast to ``to``."""
    if tuple(shape) == tuple(to):
        return pattern
    size = int(np.prod(shape))
    idx = np.broadcast_to(np.arange(1, size + 1).reshape(shape), to)
    return _gather_rows([pattern], idx, pattern.shape[1])


def _union(a, b):
    """Row-wise union of two patterns of the same shape (either may be None)."""
    if a is None or a is b:
        return b
    if b is None or b.nnz == 0:
        return a
    if a.nnz == 0:
        return b
    return (a + b).tocsr()


def _union_all_rows(patterns) -> np.ndarray:
    """The union of every row of every pattern: sorted input indices."""
    return np.unique(np.concatenate([np.zeros(0, np.int64)] + [p.indices for p in patterns]))


def _full_rows(cols: np.ndarray, rows: int, n: int) -> sp.csr_array:
    """Every one of ``rows`` rows depends on ``cols``."""
    k = len(cols)
    if rows * k > DENSE_LIMIT * 4:
        raise ValueError(
            f"sparsity detection: {rows} outputs each depending on {k} inputs is a dense "
            f"block of {rows * k} entries; this Jacobian is not sparse. Use the dense "
            f"dd.jacobian (sparsity=None) or pass a pattern you know.")
    return _csr(np.arange(rows + 1, dtype=np.int64) * k, np.tile(cols, rows), n)


def _structure(rows, cols, shape) -> sp.csr_array:
    """A 0/1 map (rows, cols) as a csr_array of bools."""
    m = sp.coo_array((np.ones(len(rows), bool), (rows, cols)), shape=shape).tocsr()
    m.sum_duplicates()
    return m


def _apply(J, P):
    """Pattern of ``J_op @ (pattern P)``: rows of J pick rows of P to union."""
    out = (J @ P).tocsr()
    out.sort_indices()
    return out


# -- the carrier -----------------------------------------------------------------

class Tracer(Carrier):
    """A value with the sparsity pattern of its derivative w.r.t. n inputs.

    >>> import numpy as np
    >>> x = Tracer.seed(np.array([1.0, 2.0, 3.0]))
    >>> y = np.sin(x[1:]) * x[0]
    >>> y.pattern.toarray().astype(int).tolist()
    [[1, 1, 0], [1, 0, 1]]
    """

    __slots__ = ("value", "pattern", "tag")
    _part_names = ("value", "pattern")
    _lead = (0, 0)
    _widths: dict = {}
    #: number of Python branches (``bool()`` of a traced comparison) seen so far
    branches = 0

    @classmethod
    def seed(cls, x, tag: int | None = None) -> Tracer:
        """The input x of a detection pass: element j depends on input j."""
        x = np.array(x, dtype=float)
        tag = new_tag() if tag is None else tag
        cls._widths[tag] = x.size
        return cls._new(x, _identity(x.size), tag)

    @classmethod
    def _new(cls, value, pattern, tag):
        t = object.__new__(cls)
        t.value, t.pattern, t.tag = value, pattern, tag
        return t

    @property
    def parts(self) -> tuple:
        return (self.value, self.pattern)

    @classmethod
    def _from_parts(cls, parts, tag):
        value, pattern = parts
        if not sp.issparse(pattern):  # a constant made by np.zeros_like & co.
            pattern = _empty(int(np.size(value)), cls._widths[tag])
        return cls._new(value, pattern, tag)

    def _map_parts(self, fn):
        return self._new(fn(self.value), self.pattern, self.tag)

    @staticmethod
    def _split(x, tag):
        if isinstance(x, Tracer) and x.tag == tag:
            return x.value, x.pattern
        return x, None

    # -- branches on values make the pattern local ---------------------------
    def __bool__(self):
        Tracer.branches += 1
        return bool(self.value)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = super().__array_ufunc__(ufunc, method, *inputs, **kwargs)
        if ufunc in rules.PRIMAL_ONLY_UFUNCS and isinstance(out, (np.ndarray, np.generic)):
            out = np.asarray(out).view(Branch)
        return out

    def __array_function__(self, func, types, args, kwargs):
        impl = GLOBAL.get(func)
        owner = find_owner(args)
        if owner is None:
            owner = find_owner(tuple(kwargs.values()))
        if impl is not None and type(owner) is Tracer:
            return impl(*args, **kwargs)
        return super().__array_function__(func, types, args, kwargs)

    # -- the four kinds of rule ----------------------------------------------
    @classmethod
    def _unary(cls, ufunc, x):
        with np.errstate(all="ignore"):
            y = ufunc(x.value)
        if ufunc in rules.PIECEWISE_CONSTANT:
            return cls._new(y, _empty(np.size(y), x.pattern.shape[1]), x.tag)
        return cls._new(y, x.pattern, x.tag)

    @classmethod
    def _binary(cls, ufunc, a, b, tag):
        (fa, fb), _ = rules.BINARY[ufunc]
        av, ap = cls._split(a, tag)
        bv, bp = cls._split(b, tag)
        with np.errstate(all="ignore"):
            z = ufunc(av, bv)
        shape = np.shape(z)
        n = cls._widths[tag]
        out = None
        for deriv, v, p, pos in ((fa, av, ap, "first"), (fb, bv, bp, "second")):
            if p is None or (type(deriv) is float and deriv == 0.0):
                continue
            if deriv is rules.NONDIFF:
                raise TypeError(f"{ufunc.__name__}: no derivative with respect to its {pos} "
                                f"argument; pass a constant there.")
            out = _union(out, _broadcast_rows(p, np.shape(v), shape))
        return cls._new(z, _empty(int(np.prod(shape)), n) if out is None else out, tag)

    @classmethod
    def _linear(cls, g, xs, tag, op, adjoint=None):
        split = [cls._split(x, tag) for x in xs]
        n = cls._widths[tag]
        value = op(*[v for v, _ in split])
        shapes = [np.shape(v) for v, _ in split]
        parts = [p if p is not None else _empty(int(np.prod(s)), n)
                 for (_, p), s in zip(split, shapes)]
        if adjoint is None:
            return cls._new(value, _gather_rows(parts, index_map(op, shapes), n), tag)
        if len(xs) != 1:
            raise TypeError("sparsity detection: a linear map of several arguments with "
                            "an adjoint is not supported")
        J = _linear_structure(op, adjoint, shapes[0], np.shape(value))
        return cls._new(value, _apply(J, parts[0]), tag)

    @classmethod
    def _primitive(cls, prim, args, tag):
        split = [cls._split(x, tag) for x in args]
        values = [v for v, _ in split]
        n = cls._widths[tag]
        out = prim.fn(*values)
        if prim is rules.MATMUL and all(np.ndim(v) <= 2 for v in values):
            return cls._new(out, _matmul_pattern(split, np.shape(out), n), tag)
        spec = prim.name[7:-1] if prim.name.startswith("einsum(") else None
        if prim is rules.MATMUL and min(np.ndim(v) for v in values) >= 2:
            spec = "...ij,...jk->...ik"  # batched matmul: its einsum
        if spec is not None:
            pat = _einsum_pattern(spec, split, np.shape(out), n)
            if pat is not None:
                return cls._new(out, pat, tag)
        # conservative: every output depends on every input involved
        cols = _union_all_rows([p for _, p in split if p is not None])
        if isinstance(out, tuple):
            probe = [None if p is None else np.zeros((1,) + np.shape(v)) for v, p in split]
            with np.errstate(all="ignore"):
                live = prim.jvp(out, values, probe)
            return tuple(o if dt is None else cls._new(o, _full_rows(cols, np.size(o), n), tag)
                         for o, dt in zip(out, live))
        return cls._new(out, _full_rows(cols, np.size(out), n), tag)

    def _setitem(self, index, item):
        value, pattern = self._split(item, self.tag)
        n = self.pattern.shape[1]
        size = self.value.size
        pos = np.arange(size).reshape(self.value.shape)[index]
        self.value[index] = value
        isize = int(np.prod(np.shape(value)))
        src = np.broadcast_to(np.arange(isize).reshape(np.shape(value)), pos.shape)
        rows = np.arange(1, size + 1)
        rows[pos.ravel()] = size + 1 + src.ravel()
        item_rows = pattern if pattern is not None else _empty(isize, n)
        self.pattern = _gather_rows([self.pattern, item_rows], rows, n)


class Branch(np.ndarray):
    """A boolean array computed from traced values: ``bool()`` of it is a branch."""

    def __bool__(self):
        Tracer.branches += 1
        return bool(np.asarray(self))


def _mask(v, p):
    """Structural nonzeros of an operand: nonzero value, or any dependence."""
    m = np.asarray(primal(v)) != 0
    if p is not None:
        m = m | (np.diff(p.indptr) > 0).reshape(m.shape)
    return m


def _matmul_pattern(split, out_shape, n):
    """Pattern of a @ b (1-D/2-D) from the Kronecker structure of matmul."""
    (av, ap), (bv, bp) = split
    a = _mask(av, ap)
    b = _mask(bv, bp)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    m, p = a2.shape
    q = b2.shape[1]
    size = m * q
    out = None
    if ap is not None:  # out[i, j] += a[i, k] b[k, j]: J[(i, j), (i, k)] = b[k, j]
        k, j = np.nonzero(b2)
        i = np.repeat(np.arange(m), len(k))
        J = _structure(i * q + np.tile(j, m), i * p + np.tile(k, m), (size, m * p))
        out = _union(out, _apply(J, ap))
    if bp is not None:  # J[(i, j), (k, j)] = a[i, k]
        i, k = np.nonzero(a2)
        j = np.tile(np.arange(q), len(i))
        J = _structure(np.repeat(i, q) * q + j, np.repeat(k, q) * q + j, (size, p * q))
        out = _union(out, _apply(J, bp))
    return out


def _einsum_pattern(spec, split, out_shape, n):
    """J_op of each varying operand from einsum over 0/1 masks (None: too big)."""
    ins, out = spec.split("->")
    ins = ins.split(",")
    used = set(spec)
    k = next(c for c in "zyxwvutsrqponmlkjihgfedcba" if c not in used)
    size = int(np.prod(out_shape))
    masks = [_mask(v, p).astype(float) for v, p in split]
    pat = None
    for i, (v, p) in enumerate(split):
        if p is None:
            continue
        ni = int(np.size(primal(v)))
        if ni * size > DENSE_LIMIT:
            return None
        ops = list(masks)
        ops[i] = np.eye(ni).reshape((ni,) + np.shape(primal(v)))
        terms = ",".join(k + s if j == i else s for j, s in enumerate(ins))
        jt = np.einsum(f"{terms}->{k}{out}", *ops, optimize=True).reshape(ni, size)
        c, r = np.nonzero(jt)
        pat = _union(pat, _apply(_structure(r, c, (size, ni)), p))
    return pat


def _linear_structure(op, adjoint, in_shape, out_shape) -> sp.csr_array:
    """The 0/1 structure (out, in) of a linear map with coefficients >= 0.

    When each input goes to exactly one output (sum), the adjoint applied to
    output indices names it; otherwise (cumsum) op is applied to blocks of
    basis vectors under a memory bound."""
    nin, nout = int(np.prod(in_shape)), int(np.prod(out_shape))
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


# -- global versions of value-dependent selections ---------------------------------

def _where(condition, x=None, y=None):
    if x is None and y is None:
        return np.nonzero(primal(condition))
    cond = np.asarray(primal(condition), dtype=bool)
    owner = find_owner((x, y))
    tag, n = owner.tag, Tracer._widths[owner.tag]
    xv, xp = Tracer._split(x, tag)
    yv, yp = Tracer._split(y, tag)
    value = np.where(cond, primal(xv), primal(yv))
    shape = value.shape
    pat = None
    for v, p in ((xv, xp), (yv, yp)):
        if p is not None:
            pat = _union(pat, _broadcast_rows(p, np.shape(v), shape))
    pat = _empty(value.size, n) if pat is None else pat
    return Tracer._new(value.astype(float), pat, tag)


def _reduce_all(func):
    def impl(a, axis=None, out=None, keepdims=False, **kwargs):
        s = np.sum(a, axis=axis, keepdims=keepdims)
        value = func(primal(a), axis=axis, keepdims=keepdims)
        return Tracer._new(np.asarray(value, dtype=float), s.pattern, s.tag)

    return impl


def _along(a, axis, value):
    """Each output depends on every element along ``axis`` (sort, partition)."""
    if axis is None:
        a, axis = np.ravel(a), 0
    ax = normalize_axis_index(axis, np.ndim(a))
    s = np.broadcast_to(np.sum(a, axis=ax, keepdims=True), np.shape(a))
    return Tracer._new(np.asarray(value, dtype=float), s.pattern, s.tag)


def _sort(a, axis=-1, kind=None, order=None, *, stable=None):
    return _along(a, axis, np.sort(primal(a), axis=axis))


def _partition(a, kth, axis=-1, kind="introselect", order=None):
    return _along(a, axis, np.partition(primal(a), kth, axis=axis))


GLOBAL = {np.where: _where, np.sort: _sort, np.partition: _partition}
for _f in (np.max, np.amax, np.min, np.amin, np.nanmax, np.nanmin):
    GLOBAL[_f] = _reduce_all(_f)
del _f


def _compare(ufunc):
    def method(self, other):
        return self.__array_ufunc__(ufunc, "__call__", self, other)

    return method


for _name, _uf in [("lt", np.less), ("le", np.less_equal), ("gt", np.greater),
                   ("ge", np.greater_equal), ("eq", np.equal), ("ne", np.not_equal)]:
    setattr(Tracer, f"__{_name}__", _compare(_uf))

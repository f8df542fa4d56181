"""``scipy.linalg`` with derivatives: the same names and signatures.

Each function falls straight through to SciPy when no argument is a dualdiff carrier;
otherwise it applies a :class:`~dualdiff.rules.Primitive` (value from SciPy, jvp and vjp
written in calls that dispatch on carriers, so rules nest for second derivatives) or a
composite of them.

* ``cho_factor`` / ``lu_factor`` return SciPy's structures ``(c, lower)`` / ``(lu, piv)``
  where ``c`` / ``lu`` is a carrier holding the factor's derivative and ``lower`` / ``piv``
  are constants.  ``cho_solve`` / ``lu_solve`` are triangular solves with the factor, so
  the derivative of A flows through the factor: ``cho_solve(cho_factor(A), b)`` has the
  derivatives of ``solve(A, b)`` in A and b.  (The triangle of ``c`` that SciPy leaves
  holding A's entries carries A's derivative there.)
* ``expm``: dX is the Fréchet derivative L(A, E), the upper-right block of
  ``expm([[A, E], [0, A]])``, computed by this ``expm`` (so it nests); the vjp is L(A^T, U).
* ``sqrtm``: X dX + dX X = dA, solved by this ``solve_sylvester`` (so it nests).
* Batched carriers: as SciPy for solve_triangular, expm, sqrtm, solve_sylvester, det, inv and
  solve; ``cho_factor``, ``lu_factor`` and ``solve_banded`` take one matrix (as SciPy's own
  useful results do).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from scipy.linalg.blas import get_blas_funcs

from ..core import discrete, find_owner, primal, primitive
from ..primitives import Primitive, lower_symmetric, lower_symmetric_adjoint

__all__ = ["solve_triangular", "cho_factor", "cho_solve", "lu_factor", "lu_solve", "expm",
           "sqrtm", "solve_sylvester", "solve_banded", "det", "inv", "solve"]

_NOT_GIVEN = object()


def _swap(m):
    return np.swapaxes(m, -1, -2)


def _sum_to(u, shape):
    """Sum u (k, ...) over the axes that broadcasting added to ``shape``."""
    extra = np.ndim(u) - 1 - len(shape)
    if extra > 0:
        u = np.sum(u, axis=tuple(range(1, 1 + extra)))
    axes = tuple(1 + i for i, s in enumerate(shape) if s == 1 and np.shape(u)[1 + i] != 1)
    return np.sum(u, axis=axes, keepdims=True) if axes else u


def _lead(t, ndim):
    """Tangent t (K, ...) with unit axes after K up to rank 1 + ndim, so that its direction
    axis never meets a batch axis of the primals (nested carriers batch those)."""
    if t is None:
        return None
    missing = ndim - (np.ndim(t) - 1)
    return t if missing <= 0 else np.reshape(t, np.shape(t)[:1] + (1,) * missing + np.shape(t)[1:])


def _finite(name, *arrays):
    for a in arrays:
        if not np.all(np.isfinite(primal(a))):
            raise ValueError(f"scipy.linalg.{name}: array must not contain infs or NaNs")


def _trans(trans) -> bool:
    if trans in (0, "N", "n"):
        return False
    if trans in (1, 2, "T", "C", "t", "c"):
        return True
    raise ValueError(f"solve_triangular: invalid trans {trans!r}: use 0, 1, 2, 'N', 'T' or 'C'")


def _one_matrix(name, a):
    if np.ndim(a) != 2 or np.shape(a)[0] != np.shape(a)[1]:
        raise ValueError(
            f"dualdiff.scipy.linalg.{name}: a square 2-D matrix is needed for dualdiff arrays, "
            f"got shape {np.shape(a)}; SciPy's batched result for this function is a structure per "
            f"matrix, so loop over the matrices.")


# -- solve_triangular ----------------------------------------------------------------

def _triangle(t, lower, unit):
    """The part of t that a triangular solve reads."""
    k = -1 if unit else 0
    return np.tril(t, k) if lower else np.triu(t, -k)


def _trsm(a, b, trans: int, lower: bool, unit: bool):
    """op(T)^-1 b on plain arrays with BLAS trsm: SciPy's semantics (b 1-D: a vector; else
    (..., n, p), batch axes broadcast) and its values (trtrs is trsm after a singularity
    check), without LAPACK's threaded trtrs (milliseconds per call when cores are busy)."""
    a, b = np.asarray(a), np.asarray(b)
    if b.ndim == 1:
        return _trsm(a, b[:, None], trans, lower, unit)[..., 0]
    n = a.shape[-1]
    if not unit:
        zero = np.diagonal(a, axis1=-2, axis2=-1) == 0
        if np.any(zero):
            raise np.linalg.LinAlgError(
                f"singular matrix: resolution failed at diagonal {np.argmax(zero, axis=-1).max()}")
    trsm = get_blas_funcs("trsm", (a, b))
    kw = {"lower": int(lower), "trans_a": trans, "diag": int(unit)}
    if a.ndim == 2:  # every right-hand side as one block of columns
        cols = np.moveaxis(b, -2, 0)
        x = trsm(1.0, a, np.reshape(cols, (n, -1)), **kw)
        return np.moveaxis(np.reshape(x, cols.shape), 0, -2)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    ab = np.broadcast_to(a, batch + a.shape[-2:])
    bb = np.broadcast_to(b, batch + b.shape[-2:])
    out = np.empty(batch + b.shape[-2:], dtype=np.result_type(a, b, 1.0))
    for i in np.ndindex(batch):
        out[i] = trsm(1.0, ab[i], bb[i], **kw)
    return out


def _tri(a, b, trans: int, lower: bool, unit: bool):
    """op(T)^-1 b, T the triangle of a, on plain arrays or carriers."""
    if find_owner([a, b]) is None:
        return _trsm(a, b, trans, lower, unit)
    key = (trans, bool(lower), bool(unit))
    if key not in _TRI:
        _TRI[key] = _solve_triangular_primitive(*key)
    return primitive(_TRI[key], a, b)


def _tri_solve_many(a, rhs, vec, trans, lower, unit):
    """op(T)^-1 rhs, rhs (K, ...) with a leading axis of K directions; ``vec``: the
    right-hand sides are vectors (..., n), else matrices (..., n, p)."""
    return _tri(a, rhs[..., None], trans, lower, unit)[..., 0] if vec else \
        _tri(a, rhs, trans, lower, unit)


def _solve_triangular_primitive(trans: int, lower: bool, unit: bool) -> Primitive:
    def fn(a, b):
        return _tri(a, b, trans, lower, unit)

    def op(t):
        return _swap(t) if trans else t

    def jvp(x, primals, tangents):
        # op(T) x = b: dx = op(T)^-1 (db - op(dT) x), dT the read triangle of da
        a, b = primals
        ta, tb = tangents
        vec = np.ndim(b) == 1
        rhs = _lead(tb, np.ndim(x))
        if ta is not None:
            dt = op(_triangle(_lead(ta, np.ndim(x) + vec), lower, unit))
            dtx = np.matmul(dt, x[..., None])[..., 0] if vec else np.matmul(dt, x)
            rhs = -dtx if rhs is None else rhs - dtx
        return _tri_solve_many(a, rhs, vec, trans, lower, unit)

    def vjp(x, primals, u, needs):
        # b_bar = op(T)^-T u; op(T)_bar = -b_bar x^T; a_bar = its read triangle
        a, b = primals
        vec = np.ndim(b) == 1
        gb = _tri_solve_many(a, u, vec, 1 - bool(trans), lower, unit)
        ga = None
        if needs[0]:
            g = gb[..., :, None] * x[..., None, :] if vec else np.matmul(gb, _swap(x))
            ga = _sum_to(_triangle(-op(g), lower, unit), np.shape(a))
        return ga, (_sum_to(gb, np.shape(b)) if needs[1] else None)

    return Primitive("solve_triangular", fn, jvp, vjp)


_TRI = {}


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     check_finite=True):
    """``scipy.linalg.solve_triangular`` with derivatives in a (its read triangle) and b.

    >>> import numpy as np, dualdiff as dd
    >>> a = np.array([[2.0, 1.0], [0.0, 4.0]])
    >>> dd.jacobian(lambda b: solve_triangular(a, b), np.array([1.0, 4.0])).tolist()
    [[0.5, -0.125], [0.0, 0.25]]
    """
    if find_owner([a, b]) is None:
        return sla.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit_diagonal,
                                    overwrite_b=overwrite_b, check_finite=check_finite)
    if check_finite:
        _finite("solve_triangular", a, b)
    return _tri(a, b, int(_trans(trans)), lower, unit_diagonal)


# -- Cholesky ------------------------------------------------------------------------

def _phi(m):
    """Lower triangle with the diagonal halved."""
    return np.tril(m, -1) + 0.5 * m * np.eye(np.shape(m)[-1])


def _cho_factor_primitive(lower: bool) -> Primitive:
    def fn(a):
        return cho_factor(a, lower=lower)[0]

    def factor(c):
        return np.tril(c) if lower else _swap(np.triu(c))  # L with L L^T = A

    def jvp(c, primals, tangents):
        # dL = L Phi(L^-1 dS L^-T), dS the symmetric matrix read from da's triangle;
        # the other triangle of c holds a's entries, so its tangent is da's there
        (ta,) = tangents
        low = factor(c)
        w = _tri_solve_many(low, lower_symmetric(ta, lower), False, 0, True, False)
        m = _tri_solve_many(low, _swap(w), False, 0, True, False)
        dl = np.matmul(low, _phi(m))
        return dl + np.triu(ta, 1) if lower else _swap(dl) + np.tril(ta, -1)

    def vjp(c, primals, u, needs):
        # S_bar = L^-T Phi(L^T L_bar) L^-1, folded onto the read triangle
        low = factor(c)
        lbar, other = (np.tril(u), np.triu(u, 1)) if lower else \
            (_swap(np.triu(u)), np.tril(u, -1))
        p = _phi(np.matmul(_swap(low), lbar))
        y = _tri_solve_many(low, p, False, 1, True, False)
        s = _swap(_tri_solve_many(low, _swap(y), False, 1, True, False))
        return (lower_symmetric_adjoint(s, lower) + other,)

    return Primitive("cho_factor", fn, jvp, vjp)


_CHO = {True: _cho_factor_primitive(True), False: _cho_factor_primitive(False)}


def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    """``scipy.linalg.cho_factor``: ``(c, lower)`` with c a carrier of the factor's derivative.

    >>> import numpy as np, dualdiff as dd
    >>> a = np.array([[4.0, 2.0], [2.0, 5.0]])
    >>> dd.jvp(lambda a: cho_factor(a)[0], a, np.eye(2))[1].tolist()  # d sqrt(4) = 1/4
    [[0.25, -0.125], [0.0, 0.3125]]
    """
    if find_owner([a]) is None:
        return sla.cho_factor(a, lower=lower, overwrite_a=overwrite_a, check_finite=check_finite)
    _one_matrix("cho_factor", a)
    if check_finite:
        _finite("cho_factor", a)
    return primitive(_CHO[bool(lower)], a), bool(lower)


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    """``scipy.linalg.cho_solve``: two triangular solves with the factor (derivatives flow
    through c, the carrier from :func:`cho_factor`, and b).

    >>> import numpy as np, dualdiff as dd
    >>> a = np.array([[4.0, 2.0], [2.0, 5.0]])
    >>> bool(np.allclose(dd.jacobian(lambda b: cho_solve(cho_factor(a), b), np.ones(2)),
    ...                  np.linalg.inv(a)))
    True
    """
    c, lower = c_and_lower
    if find_owner([c, b]) is None:
        return sla.cho_solve(c_and_lower, b, overwrite_b=overwrite_b, check_finite=check_finite)
    if check_finite:
        _finite("cho_solve", c, b)
    # lower: L L^T x = b; upper: U^T U x = b
    y = _tri(c, b, 0 if lower else 1, lower, False)
    return _tri(c, y, 1 if lower else 0, lower, False)


# -- LU ------------------------------------------------------------------------------

def _permutation(piv) -> np.ndarray:
    """perm with A[perm] = L U from LAPACK's row interchanges."""
    perm = np.arange(len(piv))
    for i, p in enumerate(piv):
        perm[i], perm[p] = perm[p], perm[i]
    return perm


def _lu_factor_primitive(piv) -> Primitive:
    perm = _permutation(piv)
    inv = np.argsort(perm)

    def fn(a):
        return lu_factor(a)[0]

    def parts(lu):
        n = np.shape(lu)[-1]
        return np.tril(lu, -1) + np.eye(n), np.triu(lu)

    def jvp(lu, primals, tangents):
        # A[perm] = L U: X = L^-1 dA[perm] U^-1, dL = L tril(X, -1), dU = triu(X) U
        (ta,) = tangents
        low, up = parts(lu)
        y = _tri_solve_many(lu, ta[:, perm, :], False, 0, True, True)
        x = _swap(_tri_solve_many(lu, _swap(y), False, 1, False, False))
        return np.matmul(low, np.tril(x, -1)) + np.matmul(np.triu(x), up)

    def vjp(lu, primals, u, needs):
        # X_bar = tril(L^T G_L, -1) + triu(G_U U^T); A_bar[perm] = L^-T X_bar U^-T
        low, up = parts(lu)
        xbar = np.tril(np.matmul(_swap(low), np.tril(u, -1)), -1) + \
            np.triu(np.matmul(np.triu(u), _swap(up)))
        z = _tri_solve_many(lu, xbar, False, 1, True, True)
        z = _swap(_tri_solve_many(lu, _swap(z), False, 0, False, False))
        return (z[:, inv, :],)

    return Primitive("lu_factor", fn, jvp, vjp)


def lu_factor(a, overwrite_a=False, check_finite=True):
    """``scipy.linalg.lu_factor``: ``(lu, piv)`` with lu a carrier of the packed factors'
    derivative and piv SciPy's pivots (constants).

    >>> import numpy as np, dualdiff as dd
    >>> a = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> lu, piv = lu_factor(dd.Dual(a, np.eye(2)[None]))
    >>> piv.tolist(), lu.value.tolist()
    ([1, 1], [[3.0, 4.0], [0.3333333333333333, 0.6666666666666667]])
    """
    if find_owner([a]) is None:
        return sla.lu_factor(a, overwrite_a=overwrite_a, check_finite=check_finite)
    _one_matrix("lu_factor", a)
    if check_finite:
        _finite("lu_factor", a)
    piv = discrete(lambda v: sla.lu_factor(v, check_finite=False)[1], (a,))
    return primitive(_lu_factor_primitive(piv), a), piv


def lu_solve(lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    """``scipy.linalg.lu_solve``: triangular solves with the packed factors and the
    permutation (derivatives flow through lu, the carrier from :func:`lu_factor`, and b).

    >>> import numpy as np, dualdiff as dd
    >>> a = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> bool(np.allclose(dd.jacobian(lambda b: lu_solve(lu_factor(a), b), np.ones(2)),
    ...                  np.linalg.inv(a)))
    True
    """
    lu, piv = lu_and_piv
    if find_owner([lu, b]) is None:
        return sla.lu_solve(lu_and_piv, b, trans=trans, overwrite_b=overwrite_b,
                            check_finite=check_finite)
    if check_finite:
        _finite("lu_solve", lu, b)
    perm = _permutation(np.asarray(piv))
    if not _trans(trans):  # L U x = b[perm]
        return _tri(lu, _tri(lu, b[perm], 0, True, True), 0, False, False)
    # A^T x = b: U^T L^T x[perm] = b
    return _tri(lu, _tri(lu, b, 1, False, False), 1, True, True)[np.argsort(perm)]


# -- expm, sqrtm, solve_sylvester ------------------------------------------------------

def _frechet(a, e):
    """L(a, e), the Fréchet derivative of expm at a in direction e (leading axes on e),
    as the upper-right block of expm([[a, e], [0, a]]) computed by this module's expm."""
    n = np.shape(e)[-1]
    a = np.broadcast_to(a, np.shape(e))
    top = np.concatenate([a, e], axis=-1)
    bottom = np.concatenate([np.zeros(np.shape(e)), a], axis=-1)
    return expm(np.concatenate([top, bottom], axis=-2))[..., :n, n:]


def _expm_jvp(x, primals, tangents):
    return _frechet(primals[0], tangents[0])


def _expm_vjp(x, primals, u, needs):
    return (_frechet(_swap(primals[0]), u),)


EXPM = Primitive("expm", lambda a: expm(a), _expm_jvp, _expm_vjp)


def expm(A):
    """``scipy.linalg.expm``; derivative the Fréchet derivative (nests for any order).

    >>> import numpy as np, dualdiff as dd
    >>> float(dd.derivative(lambda t: expm(t * np.eye(2))[0, 0], 1.0))  # d e^t = e^t
    2.718281828459045
    """
    if find_owner([A]) is None:
        return sla.expm(A)
    return primitive(EXPM, A)


def _sylvester_jvp(x, primals, tangents):
    # A X + X B = Q: A dX + dX B = dQ - dA X - X dB
    a, b, q = primals
    ta, tb, tq = (_lead(t, np.ndim(x)) for t in tangents)
    terms = [tq, None if ta is None else -np.matmul(ta, x),
             None if tb is None else -np.matmul(x, tb)]
    terms = [t for t in terms if t is not None]
    rhs = terms[0]
    for t in terms[1:]:
        rhs = rhs + t
    return solve_sylvester(a, b, rhs)


def _sylvester_vjp(x, primals, u, needs):
    # Q_bar = solve_sylvester(A^T, B^T, X_bar); A_bar = -Q_bar X^T, B_bar = -X^T Q_bar
    a, b, q = primals
    gq = solve_sylvester(_swap(a), _swap(b), u)
    return (_sum_to(-np.matmul(gq, _swap(x)), np.shape(a)) if needs[0] else None,
            _sum_to(-np.matmul(_swap(x), gq), np.shape(b)) if needs[1] else None,
            _sum_to(gq, np.shape(q)) if needs[2] else None)


SYLVESTER = Primitive("solve_sylvester", lambda a, b, q: solve_sylvester(a, b, q),
                      _sylvester_jvp, _sylvester_vjp)


def solve_sylvester(a, b, q):
    """``scipy.linalg.solve_sylvester`` (A X + X B = Q) with derivatives in a, b and q.

    >>> import numpy as np, dualdiff as dd
    >>> a, b = np.diag([1.0, 2.0]), np.diag([3.0, 5.0])
    >>> dd.jacobian(lambda q: solve_sylvester(a, b, q), np.ones((2, 2)))[0, 1].tolist()
    [[0.0, 0.16666666666666666], [0.0, 0.0]]
    """
    if find_owner([a, b, q]) is None:
        return sla.solve_sylvester(a, b, q)
    return primitive(SYLVESTER, a, b, q)


def _sqrtm_fn(a):
    return sqrtm(a)


def _sqrtm_jvp(x, primals, tangents):
    return solve_sylvester(x, x, tangents[0])  # X dX + dX X = dA


def _sqrtm_vjp(x, primals, u, needs):
    return (solve_sylvester(_swap(x), _swap(x), u),)


SQRTM = Primitive("sqrtm", _sqrtm_fn, _sqrtm_jvp, _sqrtm_vjp)


def sqrtm(A, disp=_NOT_GIVEN, blocksize=_NOT_GIVEN):
    """``scipy.linalg.sqrtm`` (principal square root); dX solves X dX + dX X = dA.

    >>> import numpy as np, dualdiff as dd
    >>> float(dd.derivative(lambda t: sqrtm(t * np.eye(2))[1, 1], 4.0))  # d sqrt(t) = 1/4
    0.25
    """
    if find_owner([A]) is None:
        kw = {k: v for k, v in (("disp", disp), ("blocksize", blocksize)) if v is not _NOT_GIVEN}
        return sla.sqrtm(A, **kw)
    if disp is not _NOT_GIVEN or blocksize is not _NOT_GIVEN:
        raise TypeError("dualdiff.scipy.linalg.sqrtm: disp= and blocksize= are deprecated in "
                        "SciPy and not supported for dualdiff arrays; drop them.")
    x = sla.sqrtm(primal(A))
    if np.iscomplexobj(x):
        raise TypeError("dualdiff.scipy.linalg.sqrtm: the square root of this matrix is "
                        "complex (an eigenvalue on the negative real axis); dualdiff "
                        "differentiates real results only.")
    return primitive(SQRTM, A)


# -- solve_banded ----------------------------------------------------------------------

def _band_indices(l_and_u, n):
    """For ab[d, j] = A[i, j]: the rows i = j + d - u (d, n) and where they exist."""
    low, up = l_and_u
    i = np.arange(n)[None, :] + np.arange(low + up + 1)[:, None] - up
    return i, (i >= 0) & (i < n)


def _band_matvec(l_and_u, tab, x):
    """dA x for the banded dA stored in tab (K, d, n) and x (n,) or (n, p):
    (dA x)_i = sum_d tab[d, j] x_j, j = i - d + u."""
    low, up = l_and_u
    n = np.shape(tab)[-1]
    d = np.arange(low + up + 1)[:, None]
    j = np.arange(n)[None, :] - d + up
    ok = (j >= 0) & (j < n)
    jc = np.clip(j, 0, n - 1)
    entries = tab[:, d, jc] * ok  # (K, d, n): dA[i, j] at [d, i]
    if np.ndim(x) == 1:
        return np.sum(entries * x[jc], axis=1)
    return np.sum(entries[..., None] * x[jc], axis=1)


def _banded_transpose(lu_, ab):
    """ab of A^T (bands (u, l)) from ab of A: ab_T[d', j] = ab[l + u - d', j + d' - l]."""
    low, up = lu_
    n = np.shape(ab)[-1]
    d = np.arange(low + up + 1)[:, None]
    col = np.arange(n)[None, :] + d - low
    valid = (col >= 0) & (col < n)
    rows = np.broadcast_to(low + up - d, col.shape)
    return ab[rows, np.clip(col, 0, n - 1)] * valid


def _solve_banded_primitive(lu_) -> Primitive:
    lu_ = (int(lu_[0]), int(lu_[1]))

    def fn(ab, b):
        return solve_banded(lu_, ab, b)

    def many(ab, rhs, lu2=lu_):
        k = np.shape(rhs)[0]
        cols = np.moveaxis(rhs, 0, -1)
        shape = np.shape(cols)
        x = solve_banded(lu2, ab, np.reshape(cols, (shape[0], -1)), check_finite=False)
        return np.moveaxis(np.reshape(x, shape), -1, 0) if k else rhs

    def jvp(x, primals, tangents):
        # A x = b: dx = A^-1 (db - dA x)
        ab, b = primals
        tab, tb = tangents
        rhs = tb
        if tab is not None:
            dax = _band_matvec(lu_, tab, x)
            rhs = -dax if rhs is None else rhs - dax
        return many(ab, rhs)

    def vjp(x, primals, u, needs):
        # b_bar = A^-T u; ab_bar[d, j] = A_bar[i, j] = -b_bar_i x_j, i = j + d - u
        ab, b = primals
        gb = many(_banded_transpose(lu_, ab), u, (lu_[1], lu_[0]))
        gab = None
        if needs[0]:
            n = np.shape(ab)[-1]
            i, valid = _band_indices(lu_, n)
            rows = gb[:, np.clip(i, 0, n - 1)]  # (k, d, j[, p])
            if np.ndim(x) == 1:
                gab = -rows * x * valid
            else:
                gab = -np.sum(rows * x, axis=-1) * valid
        return gab, (gb if needs[1] else None)

    return Primitive("solve_banded", fn, jvp, vjp)


def solve_banded(l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True):
    """``scipy.linalg.solve_banded`` with derivatives in ab (its band) and b.

    >>> import numpy as np, dualdiff as dd
    >>> ab = np.array([[0.0, 1.0], [2.0, 4.0]])  # [[2, 1], [0, 4]] in (l, u) = (0, 1)
    >>> dd.jacobian(lambda b: solve_banded((0, 1), ab, b), np.ones(2)).tolist()
    [[0.5, -0.125], [0.0, 0.25]]
    """
    if find_owner([ab, b]) is None:
        return sla.solve_banded(l_and_u, ab, b, overwrite_ab=overwrite_ab,
                                overwrite_b=overwrite_b, check_finite=check_finite)
    if np.ndim(ab) != 2 or np.ndim(b) > 2:
        raise ValueError(f"dualdiff.scipy.linalg.solve_banded: ab must be 2-D and b 1-D or "
                         f"2-D for dualdiff arrays, got shapes {np.shape(ab)} and {np.shape(b)}")
    if check_finite:
        _finite("solve_banded", ab, b)
    return primitive(_solve_banded_primitive(tuple(l_and_u)), ab, b)


# -- det, inv, solve as SciPy spells them ------------------------------------------------

_ASSUME = {None: "gen", "gen": "gen", "general": "gen", "sym": "sym", "symmetric": "sym",
           "her": "sym", "hermitian": "sym", "pos": "sym", "positive definite": "sym",
           "diagonal": "diag", "tridiagonal": "tri", "banded": "band",
           "upper triangular": "upper", "lower triangular": "lower"}


def _read(a, assume_a, lower, name):
    """The matrix SciPy's solver reads from a under ``assume_a`` (and ``lower``)."""
    try:
        kind = _ASSUME[assume_a]
    except KeyError:
        raise ValueError(f"scipy.linalg.{name}: {assume_a!r} is not a recognized matrix "
                         f"structure") from None
    if kind == "gen":
        return a
    if kind == "sym":
        return lower_symmetric(a, bool(lower))
    if kind == "diag":
        return a * np.eye(np.shape(a)[-1])
    if kind == "upper":
        return np.triu(a)
    if kind == "lower":
        return np.tril(a)
    n = np.shape(a)[-1]
    rows, cols = np.indices((n, n))
    if kind == "tri":
        return a * (np.abs(rows - cols) <= 1)
    nz = np.any(a != 0, axis=tuple(range(np.ndim(a) - 2)))  # banded: the band, a discrete result
    low = int(np.max((rows - cols)[nz], initial=0))
    up = int(np.max((cols - rows)[nz], initial=0))
    return a * ((rows - cols <= low) & (cols - rows <= up))


def det(a, overwrite_a=False, check_finite=True):
    """``scipy.linalg.det``; on carriers NumPy's det rule (exact at singular matrices).

    >>> import numpy as np, dualdiff as dd
    >>> dd.gradient(det, np.array([[1.0, 2.0], [3.0, 4.0]])).tolist()  # the adjugate^T
    [[4.0, -3.0], [-2.0, 1.0]]
    """
    if find_owner([a]) is None:
        return sla.det(a, overwrite_a=overwrite_a, check_finite=check_finite)
    if check_finite:
        _finite("det", a)
    return np.linalg.det(a)


def inv(a, overwrite_a=False, check_finite=True, *, assume_a=None, lower=False):
    """``scipy.linalg.inv``: the inverse of the matrix SciPy reads under ``assume_a``.

    >>> import numpy as np, dualdiff as dd
    >>> dd.derivative(lambda t: inv(t * np.eye(2))[0, 0], 2.0).tolist()  # d(1/t) = -1/4
    -0.25
    """
    if find_owner([a]) is None:
        return sla.inv(a, overwrite_a=overwrite_a, check_finite=check_finite,
                       assume_a=assume_a, lower=lower)
    if check_finite:
        _finite("inv", a)
    return np.linalg.inv(_read(a, assume_a, lower, "inv"))


def solve(a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True,
          assume_a=None, transposed=False):
    """``scipy.linalg.solve``: ``np.linalg.solve`` on the matrix SciPy reads under
    ``assume_a`` / ``lower`` (transposed if asked).

    >>> import numpy as np, dualdiff as dd
    >>> a = np.array([[2.0, 9.0], [1.0, 4.0]])  # 'sym' reads the upper triangle: [[2, 9], [9, 4]]
    >>> dd.jacobian(lambda b: solve(a, b, assume_a="sym"), np.ones(2)).round(4).tolist()
    [[-0.0548, 0.1233], [0.1233, -0.0274]]
    """
    if find_owner([a, b]) is None:
        return sla.solve(a, b, lower=lower, overwrite_a=overwrite_a, overwrite_b=overwrite_b,
                         check_finite=check_finite, assume_a=assume_a, transposed=transposed)
    if check_finite:
        _finite("solve", a, b)
    m = _read(a, assume_a, lower, "solve")
    return np.linalg.solve(_swap(m) if transposed else m, b)

"""``np.linalg`` on carriers: rules for solve, slogdet, cholesky, eigh, lstsq;
everything else composed from them (svd, qr, pinv, det, eig: :mod:`dualdiff.decompositions`).

Complex matrices: solve, inv, slogdet, det, matrix_power, multi_dot and the norms are
exact; cholesky, eigh, eigvalsh, svdvals and lstsq are refused by name (their rules use
plain transposes where a complex matrix needs conjugate ones)."""

from __future__ import annotations

import numpy as np

from . import primitives
from .core import discrete, find_owner, implements, primal, primitive
from .primitives import real_only

la = np.linalg


@implements(la.solve)
def _solve(a, b):
    return primitive(primitives.SOLVE, a, b)


@implements(la.inv)
def _inv(a):
    n = np.shape(a)[-1]
    return la.solve(a, np.broadcast_to(np.eye(n), np.shape(a)))


@implements(la.slogdet)
def _slogdet(a):
    sign, logabsdet = primitive(primitives.SLOGDET, a)
    return la._linalg.SlogdetResult(sign, logabsdet)


@implements(la.cholesky)
def _cholesky(a, /, *, upper=False):
    real_only("np.linalg.cholesky", a)
    low = primitive(primitives.CHOLESKY, a)
    return np.swapaxes(low, -1, -2) if upper else low


@implements(la.eigh)
def _eigh(a, UPLO="L"):
    real_only("np.linalg.eigh", a)
    w, v = primitive(primitives.eigh_primitive(UPLO.upper()), a)
    return la._linalg.EighResult(w, v)


@implements(la.eigvalsh)
def _eigvalsh(a, UPLO="L"):
    real_only("np.linalg.eigvalsh", a)
    return la.eigh(a, UPLO).eigenvalues


@implements(la.svdvals)
def _svdvals(x, /):
    # singular values as sqrt of the eigenvalues of the smaller Gram matrix
    real_only("np.linalg.svdvals", x)
    at = np.swapaxes(x, -1, -2)
    m, n = np.shape(x)[-2:]
    gram = np.matmul(at, x) if m >= n else np.matmul(x, at)
    s = np.sqrt(np.maximum(la.eigvalsh(gram), 0.0))[..., ::-1]
    # the value from NumPy's SVD (the Gram matrix squares the condition number); the
    # correction is a constant, so the derivative is that of the Gram path
    return s + discrete(lambda v, w: np.linalg.svd(v, compute_uv=False) - w, (x, s))


@implements(la.lstsq)
def _lstsq(a, b, rcond=None):
    real_only("np.linalg.lstsq", a, b)
    # the rank is the discrete result (the solution's value is not: reporting the whole
    # of lstsq's result made every plan re-record and sparse plans crash on the tuple)
    rank = discrete(_lstsq_rank, (a, b), {"rcond": rcond})
    if find_owner([a, b]) is not None and rank < np.shape(a)[1]:
        raise ValueError(
            f"np.linalg.lstsq: A of shape {np.shape(a)} has rank {rank} < {np.shape(a)[1]}; "
            f"dualdiff differentiates full-column-rank least squares only."
        )
    x = primitive(primitives.LSTSQ, a, b)
    r = b - np.matmul(a, x)
    m, n = np.shape(a)
    resid = np.sum(r * r, axis=0) if m > n else np.zeros((0,))
    if np.ndim(b) == 1 and m > n:
        resid = np.reshape(resid, (1,))
    # singular values of a constant a: NumPy's (they do not depend on b)
    s = la.svdvals(a) if find_owner([a]) is not None else \
        np.linalg.lstsq(a, primal(b), rcond=rcond)[3]
    return x, resid, rank, s


def _lstsq_rank(a, b, rcond=None):
    return np.linalg.lstsq(a, b, rcond=rcond)[2]


@implements(la.matrix_power)
def _matrix_power(a, n):
    if n < 0:
        a, n = la.inv(a), -n
    result = np.broadcast_to(np.eye(np.shape(a)[-1]), np.shape(a))
    while n:
        if n & 1:
            result = np.matmul(result, a)
        a, n = np.matmul(a, a), n >> 1
    return result


@implements(la.multi_dot)
def _multi_dot(arrays, *, out=None):
    result = arrays[0]
    for m in arrays[1:]:
        result = np.dot(result, m)
    return result


@implements(la.diagonal)
def _diagonal(x, /, *, offset=0):
    return np.diagonal(x, offset, -2, -1)


def _abs2(x):
    """|x|^2, for complex x as re^2 + im^2 (smooth at 0, unlike |x| * |x|)."""
    if np.iscomplexobj(x):
        re, im = np.real(x), np.imag(x)
        return re * re + im * im
    return x * x


def _vector_norm(x, ord, axis, keepdims):
    a = np.abs(x)
    if ord is None or ord == 2:
        return np.sqrt(np.sum(_abs2(x), axis=axis, keepdims=keepdims))
    if ord == np.inf:
        return np.max(a, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return np.min(a, axis=axis, keepdims=keepdims)
    if ord == 0:
        return np.sum(x != 0, axis=axis, keepdims=keepdims).astype(float)
    if ord == 1:
        return np.sum(a, axis=axis, keepdims=keepdims)
    s = np.sum(a**ord, axis=axis, keepdims=keepdims)
    return s ** (1.0 / ord)


def _matrix_norm(x, ord, axis, keepdims):
    r, c = axis
    if ord in (None, "fro"):
        out = np.sqrt(np.sum(_abs2(x), axis=axis, keepdims=True))
    elif ord in (1, -1, np.inf, -np.inf):
        along, other = (r, c) if abs(ord) == 1 else (c, r)
        sums = np.sum(np.abs(x), axis=along, keepdims=True)
        out = (np.max if ord > 0 else np.min)(sums, axis=other, keepdims=True)
    elif ord in (2, -2, "nuc"):
        s = la.svdvals(np.moveaxis(x, (r, c), (-2, -1)))
        red = {2: np.max, -2: np.min, "nuc": np.sum}[ord](s, axis=-1)
        out = np.expand_dims(red, (r, c)) if keepdims else red
        return out
    else:
        raise ValueError(f"np.linalg.norm: invalid norm order {ord!r} for matrices")
    return out if keepdims else np.squeeze(out, axis=axis)


@implements(la.norm)
def _norm(x, ord=None, axis=None, keepdims=False):
    nd = np.ndim(x)
    if axis is None:
        if ord is None:
            return _vector_norm(np.ravel(x), None, 0, False) if not keepdims else \
                np.reshape(_vector_norm(np.ravel(x), None, 0, False), (1,) * nd)
        axis = (0, 1) if nd == 2 else 0
    if isinstance(axis, (tuple, list)) and len(axis) == 2:
        return _matrix_norm(x, ord, tuple(a % nd for a in axis), keepdims)
    axis = axis[0] if isinstance(axis, (tuple, list)) else axis
    return _vector_norm(x, ord, axis, keepdims)


@implements(la.vector_norm)
def _vector_norm_api(x, /, *, axis=None, keepdims=False, ord=2):
    if axis is None and not keepdims:
        return _vector_norm(np.ravel(x), ord, 0, False)
    return _vector_norm(x, ord, axis, keepdims)


@implements(la.matrix_norm)
def _matrix_norm_api(x, /, *, keepdims=False, ord="fro"):
    nd = np.ndim(x)
    return _matrix_norm(x, ord, (nd - 2, nd - 1), keepdims)



"""NumPy polynomials on carriers: evaluation, arithmetic, derivatives and
integrals of coefficient arrays (composites of products and linear maps)."""

from __future__ import annotations

import numpy as np

from .core import Carrier, find_owner, implements


@implements(np.polyval)
def _polyval(p, x):
    y = np.zeros_like(x) if isinstance(x, Carrier) else np.zeros(np.shape(x))
    for i in range(len(p)):
        y = y * x + p[i]
    return y


@implements(np.vander)
def _vander(x, N=None, increasing=False):
    n = np.shape(x)[0] if N is None else N
    powers = np.arange(n) if increasing else np.arange(n)[::-1]
    return np.power(np.reshape(x, (-1, 1)), powers.astype(float))


@implements(np.polyfit)
def _polyfit(x, y, deg, rcond=None, full=False, w=None, cov=False):
    """NumPy's least-squares fit, step for step (Vandermonde columns scaled to unit norm,
    ``lstsq``, scaled back): differentiable in x, y and w.  ``full=True`` and ``cov`` are
    refused (they report ranks, singular values and residuals of the solver)."""
    if full or cov:
        raise TypeError("np.polyfit(..., full=True / cov=...) is not supported by dualdiff; "
                        "call it with the defaults (or fit .value for the diagnostics)")
    deg = int(deg)
    if deg < 0:  # NumPy's checks and messages
        raise ValueError("expected deg >= 0")
    if np.ndim(x) != 1 or np.shape(x)[0] == 0:
        raise TypeError("expected non-empty 1D vector for x")
    if np.ndim(y) not in (1, 2) or np.shape(x)[0] != np.shape(y)[0]:
        raise TypeError("expected 1D or 2D array for y, of the same length as x")
    rcond = np.shape(x)[0] * np.finfo(float).eps if rcond is None else rcond
    lhs, rhs = np.vander(x, deg + 1), y
    if w is not None:
        lhs = lhs * np.reshape(w, (-1, 1))
        rhs = rhs * (np.reshape(w, (-1, 1)) if np.ndim(y) == 2 else w)
    scale = np.sqrt(np.sum(lhs * lhs, axis=0))
    c = np.linalg.lstsq(lhs / scale, rhs, rcond=rcond)[0]
    return (c.T / scale).T


def _poly_pad(a, n):
    return np.concatenate([np.zeros(n - np.shape(a)[0]), a]) if np.shape(a)[0] < n else a


@implements(np.polyadd)
def _polyadd(a1, a2):
    n = max(np.shape(a1)[0], np.shape(a2)[0])
    return _poly_pad(np.atleast_1d(a1), n) + _poly_pad(np.atleast_1d(a2), n)


@implements(np.polysub)
def _polysub(a1, a2):
    return _polyadd(a1, -np.asarray(a2) if find_owner([a2]) is None else -a2)


@implements(np.polymul)
def _polymul(a1, a2):
    return np.convolve(np.atleast_1d(a1), np.atleast_1d(a2))


@implements(np.polyder)
def _polyder(p, m=1):
    for _ in range(m):
        n = np.shape(p)[0] - 1
        p = p[:-1] * np.arange(n, 0, -1.0) if n > 0 else np.zeros_like(p[:1]) * 0.0
    return p


@implements(np.polyint)
def _polyint(p, m=1, k=None):
    ks = np.zeros(m) if k is None else np.broadcast_to(k, (m,))
    for i in range(m):
        n = np.shape(p)[0]
        p = np.concatenate([p / np.arange(n, 0, -1.0), np.reshape(ks[i], (1,))])
    return p

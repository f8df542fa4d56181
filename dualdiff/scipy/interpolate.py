"""``scipy.interpolate``'s splines with derivatives: ``CubicSpline``, ``make_interp_spline``,
``PPoly`` and ``BSpline``, with SciPy's signatures.

* **Evaluating** a spline at traced points is piecewise polynomial: the interval holding
  each point is a discrete result (:func:`~dualdiff.core.discrete`, ``select=True``: the
  sparsity pattern of every outcome is that of the polynomial pieces), and the piece is
  SciPy's own evaluation loop (``evaluate_poly1`` for a PPoly, de Boor's recursion for a
  BSpline) written with calls that dispatch on carriers, so the value is SciPy's, bit for
  bit, and the derivative in the points, in the coefficients and (through the interval
  offsets) in the breakpoints follows in every mode.
* **Building** a spline from traced values y is linear in y: ``CubicSpline`` is SciPy's
  construction (the slopes from the banded system, solved by
  :func:`dualdiff.scipy.linalg.solve_banded`), ``make_interp_spline`` the collocation
  system (SciPy's matrix, solved the same way); both give SciPy's coefficients.

With no carrier anywhere (data and points), every call is SciPy's own.  Other methods
(``integrate``, ``roots``, ``antiderivative`` ...) are SciPy's on plain splines and
refused on traced ones.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.interpolate as _si
import scipy.special as sc

from ..core import Carrier, discrete, find_owner, primal
from . import linalg as _linalg

__all__ = ["PPoly", "CubicSpline", "BSpline", "make_interp_spline"]


def __getattr__(name: str):
    return getattr(_si, name)  # every other scipy.interpolate name: SciPy's own


def _traced(*xs) -> bool:
    return find_owner(list(xs)) is not None


def _float(a):
    return a if isinstance(a, Carrier) else np.asarray(a, dtype=float)


# -- piecewise polynomials ------------------------------------------------------------------

def _ppoly_interval(x, xq, extrapolate):
    """SciPy's find_interval_ascending: i with x[i] <= xq < x[i+1], the last interval
    closed; out of bounds the end intervals (extrapolate) or -1, and -1 for nan."""
    n = x.size
    i = np.clip(np.searchsorted(x, xq, side="right") - 1, 0, n - 2)
    bad = np.isnan(xq)
    if not extrapolate:
        bad = bad | (xq < x[0]) | (xq > x[-1])
    return np.where(bad, -1, i)


def _poly1(c, s, dx):
    """SciPy's evaluate_poly1: sum_kp c[K-1-kp] z prefactor, z = s**(kp-dx) built by
    repeated multiplication, for the dx-th derivative (dx >= 0).  c: (K, nq, ...)."""
    kk = np.shape(c)[0]
    res = 0.0
    z = 1.0
    for kp in range(kk):
        if kp < dx:
            continue
        prefactor = 1.0
        for k in range(kp, kp - dx, -1):
            prefactor *= k
        term = c[kk - kp - 1] * z
        res = res + (term * prefactor if dx else term)
        if kp < kk - 1 and kp >= dx:
            z = z * s
    return res



def _arrange(out, ok, shape, trail, axis):
    """Evaluations (points, *trail) as SciPy returns them: nan outside (``ok`` False),
    the points' shape, and the points' axes moved to ``axis`` of the data."""
    if not np.all(ok):
        out = np.where(np.reshape(ok, ok.shape + (1,) * len(trail)), out, np.nan)
    out = np.reshape(out, shape + trail)
    if axis != 0:
        nd = len(shape)
        order = list(range(np.ndim(out)))
        order = order[nd:nd + axis] + order[:nd] + order[nd + axis:]
        out = np.transpose(out, order)
    return out

class PPoly:
    """``scipy.interpolate.PPoly(c, x, extrapolate=None, axis=0)``: pieces
    ``sum_m c[m, i] (x - x[i])**(k - m)`` on ``[x[i], x[i+1])``, differentiable in the
    evaluation points, the coefficients c and the breakpoints x.

    >>> import numpy as np, dualdiff as dd
    >>> p = PPoly(np.array([[1.0], [0.0], [0.0]]), np.array([0.0, 2.0]))  # x**2
    >>> float(dd.derivative(p, 1.5))
    3.0
    """

    def __init__(self, c, x, extrapolate=None, axis=0):
        self._set(c, x, True if extrapolate is None else extrapolate, axis)

    def _set(self, c, x, extrapolate, axis):
        if not _traced(c, x):
            self._scipy = _si.PPoly(c, x, extrapolate=extrapolate, axis=axis)
            c, x = self._scipy.c, self._scipy.x
        else:
            _si.PPoly(primal(c), primal(x), extrapolate=extrapolate, axis=axis)  # SciPy's checks
            self._scipy = None
            c = _float(c)
            if axis != 0:  # SciPy's layout: (k, m, ...) with the interpolation axis first
                c = np.moveaxis(np.moveaxis(c, axis + 1, 0), axis + 1, 0)
        self.c, self.x, self.extrapolate, self.axis = c, _float(x), extrapolate, axis

    @classmethod
    def construct_fast(cls, c, x, extrapolate=None, axis=0):
        self = object.__new__(cls)
        self.c, self.x, self.axis = c, x, axis
        self.extrapolate = True if extrapolate is None else extrapolate
        self._scipy = None if _traced(c, x) else _si.PPoly.construct_fast(
            c, x, self.extrapolate, axis)
        return self

    def __call__(self, x, nu=0, extrapolate=None):
        if self._scipy is not None and not _traced(x):
            return self._scipy(x, nu=nu, extrapolate=extrapolate)
        if extrapolate is None:
            extrapolate = self.extrapolate
        if nu < 0:
            raise TypeError("dualdiff.scipy.interpolate.PPoly: antiderivatives (nu < 0) of a "
                            "traced spline are not supported; evaluate nu >= 0.")
        xq = _float(x)
        shape = np.shape(xq)
        xq = np.reshape(xq, (-1,))
        bp = self.x
        if primal(bp)[-1] < primal(bp)[0]:
            raise TypeError("dualdiff.scipy.interpolate.PPoly: descending breakpoints are not "
                            "supported on carriers")
        if extrapolate == "periodic":
            xq = bp[0] + (xq - bp[0]) % (bp[-1] - bp[0])
            extrapolate = False
        i = discrete(_ppoly_interval, (bp, xq, bool(extrapolate)), select=True)
        ok = i >= 0
        ii = np.where(ok, i, 0)
        if not np.all(ok):  # nan / outside points: evaluated at a breakpoint, then discarded
            xq = np.where(ok, xq, bp[0])
        s = xq - bp[ii]
        c = self.c[:, ii]
        trail = np.shape(c)[2:]
        s = np.reshape(s, np.shape(s) + (1,) * len(trail))
        out = _poly1(c, s, nu)
        return _arrange(out, ok, shape, trail, self.axis)

    def derivative(self, nu=1):
        """The derivative of order nu as a PPoly (SciPy's: lower pieces times rising
        factorials).

        >>> import numpy as np
        >>> PPoly(np.array([[1.0], [0.0], [0.0]]), np.array([0.0, 2.0])).derivative().c.tolist()
        [[2.0], [0.0]]
        """
        if self._scipy is not None:
            d = self._scipy.derivative(nu)
            return type(self).construct_fast(d.c, d.x, d.extrapolate, d.axis)
        if nu < 0:
            raise TypeError("dualdiff.scipy.interpolate.PPoly.derivative: antiderivatives of "
                            "a traced spline are not supported")
        c2 = self.c if nu == 0 else self.c[:-nu, :]
        if np.shape(c2)[0] == 0:
            c2 = np.zeros((1,) + np.shape(c2)[1:], like=c2) if isinstance(c2, Carrier) else \
                np.zeros((1,) + np.shape(c2)[1:])
        factor = sc.poch(np.arange(np.shape(c2)[0], 0, -1), nu)
        c2 = c2 * factor[(slice(None),) + (None,) * (np.ndim(c2) - 1)]
        return PPoly.construct_fast(c2, self.x, self.extrapolate, self.axis)

    def __getattr__(self, name):
        scipy_obj = self.__dict__.get("_scipy")
        if scipy_obj is not None:
            return getattr(scipy_obj, name)
        raise TypeError(f"dualdiff.scipy.interpolate: {name} of a spline built from traced "
                        f"values is not supported; evaluate it (or its derivative()) instead.")


# -- cubic splines ---------------------------------------------------------------------------

def _validate_bc(bc_type, y, deriv_shape):
    """SciPy's CubicSpline._validate_bc on carriers: (start, end) conditions."""
    if isinstance(bc_type, str):
        if bc_type == "periodic":
            if not np.allclose(primal(y[0]), primal(y[-1]), rtol=1e-15, atol=1e-15):
                raise ValueError("The first and last `y` point along axis 0 must be identical "
                                 "(within machine precision) when bc_type='periodic'.")
        bc_type = (bc_type, bc_type)
    elif len(bc_type) != 2:
        raise ValueError("`bc_type` must contain 2 elements to specify start and end "
                         "conditions.")
    elif "periodic" in bc_type:
        raise ValueError("'periodic' `bc_type` is defined for both curve ends and cannot be "
                         "used with other boundary conditions.")
    out = []
    for bc in bc_type:
        if isinstance(bc, str):
            if bc == "clamped":
                out.append((1, np.zeros(deriv_shape)))
            elif bc == "natural":
                out.append((2, np.zeros(deriv_shape)))
            elif bc in ("not-a-knot", "periodic"):
                out.append(bc)
            else:
                raise ValueError(f"bc_type={bc} is not allowed.")
        else:
            try:
                order, value = bc
            except Exception as e:
                raise ValueError("A specified derivative value must be given in the form "
                                 "(order, value).") from e
            if order not in (1, 2):
                raise ValueError("The specified derivative order must be 1 or 2.")
            value = _float(value)
            if np.shape(value) != tuple(deriv_shape):
                raise ValueError(f"`deriv_value` shape {np.shape(value)} is not the expected "
                                 f"one {tuple(deriv_shape)}.")
            out.append((order, value))
    return out


def _slopes(x, dx, y, bc):
    """SciPy's CubicSpline slopes s at the knots (the tridiagonal system), on carriers."""
    n = np.shape(x)[0]
    dxr = np.reshape(dx, (np.shape(dx)[0],) + (1,) * (np.ndim(y) - 1))
    slope = np.diff(y, axis=0) / dxr
    if n == 2:
        if bc[0] in ("not-a-knot", "periodic"):
            bc[0] = (1, slope[0])
        if bc[1] in ("not-a-knot", "periodic"):
            bc[1] = (1, slope[0])
    tail = np.shape(y)[1:]
    if n == 3 and bc[0] == "not-a-knot" and bc[1] == "not-a-knot":
        a = np.zeros((3, 3), like=dx) if isinstance(dx, Carrier) else np.zeros((3, 3))
        a[0, 0] = 1
        a[0, 1] = 1
        a[1, 0] = dx[1]
        a[1, 1] = 2 * (dx[0] + dx[1])
        a[1, 2] = dx[0]
        a[2, 1] = 1
        a[2, 2] = 1
        b = np.stack([2 * slope[0], 3 * (dxr[0] * slope[1] + dxr[1] * slope[0]),
                      2 * slope[1]])
        s = _linalg.solve(a, np.reshape(b, (3, -1)), overwrite_a=True, overwrite_b=True,
                          check_finite=False)
        return np.reshape(s, np.shape(b))
    if n == 3 and bc[0] == "periodic":
        t = np.sum(slope / dxr, axis=0) / np.sum(1. / dxr, axis=0)
        return np.broadcast_to(t, (n,) + tail)
    upper, diag, lower = dx[:-1], 2 * (dx[:-1] + dx[1:]), dx[1:]
    mid = 3 * (dxr[1:] * slope[:-1] + dxr[:-1] * slope[1:])
    if bc[0] == "periodic":
        return _periodic_slopes(dx, dxr, slope, diag, lower, mid, n, tail)
    start, end = bc
    if start == "not-a-knot":
        d0, u0 = dx[1], x[2] - x[0]
        d = x[2] - x[0]
        b0 = ((dxr[0] + 2 * d) * dxr[1] * slope[0] + dxr[0] ** 2 * slope[1]) / d
    elif start[0] == 1:
        d0, u0, b0 = 1.0, 0.0, start[1] + np.zeros(tail)
    else:
        d0, u0 = 2 * dx[0], dx[0]
        b0 = -0.5 * start[1] * dx[0] ** 2 + 3 * (y[1] - y[0])
    if end == "not-a-knot":
        dn, ln = dx[-2], x[-1] - x[-3]
        d = x[-1] - x[-3]
        bn = (dxr[-1] ** 2 * slope[-2] + (2 * d + dxr[-1]) * dxr[-2] * slope[-1]) / d
    elif end[0] == 1:
        dn, ln, bn = 1.0, 0.0, end[1] + np.zeros(tail)
    else:
        dn, ln = 2 * dx[-1], dx[-1]
        bn = 0.5 * end[1] * dx[-1] ** 2 + 3 * (y[-1] - y[-2])
    zero = np.zeros(1)
    ab = np.stack([np.concatenate([zero, np.reshape(u0, (1,)), upper]),
                   np.concatenate([np.reshape(d0, (1,)), diag, np.reshape(dn, (1,))]),
                   np.concatenate([lower, np.reshape(ln, (1,)), zero])])
    b = np.concatenate([np.reshape(b0, (1,) + tail), mid, np.reshape(bn, (1,) + tail)])
    s = _linalg.solve_banded((1, 1), ab, np.reshape(b, (n, -1)), overwrite_ab=True,
                             overwrite_b=True, check_finite=False)
    return np.reshape(s, np.shape(b))


def _periodic_slopes(dx, dxr, slope, diag, lower, mid, n, tail):
    """SciPy's periodic case: the cyclic system of n - 1 slopes, split into two banded
    solves with the last slope eliminated."""
    ones = np.ones((1,) + tail)
    ac = np.stack([np.concatenate([np.zeros(1), np.reshape(dx[-1], (1,)), dx[:n - 3]]),
                   np.concatenate([np.reshape(2 * (dx[-1] + dx[0]), (1,)), diag]),
                   np.concatenate([lower, np.zeros(1)])])[:, :-1]
    b0 = 3 * (dxr[0] * slope[-1] + dxr[-1] * slope[0])
    b_last = 3 * (dxr[-1] * slope[-2] + dxr[-2] * slope[-1])
    b1 = np.concatenate([np.reshape(b0, (1,) + tail), mid[:n - 3]])
    b2 = np.concatenate([-dx[0] * ones, np.zeros((n - 4,) + tail), -dx[-3] * ones])
    m = n - 2
    s1 = np.reshape(_linalg.solve_banded((1, 1), ac, np.reshape(b1, (m, -1)),
                                         check_finite=False), np.shape(b1))
    s2 = np.reshape(_linalg.solve_banded((1, 1), ac, np.reshape(b2, (m, -1)),
                                         check_finite=False), np.shape(b2))
    s_m1 = ((b_last - dx[-2] * s1[0] - dx[-1] * s1[-1])
            / (2 * (dx[-1] + dx[-2]) + dx[-2] * s2[0] + dx[-1] * s2[-1]))
    head = s1 + s_m1 * s2
    return np.concatenate([head, np.reshape(s_m1, (1,) + tail), head[:1]])


class CubicSpline(PPoly):
    """``scipy.interpolate.CubicSpline(x, y, axis=0, bc_type='not-a-knot',
    extrapolate=None)``: SciPy's construction on carriers (linear in y), a PPoly.

    >>> import numpy as np, dualdiff as dd
    >>> x = np.array([0.0, 1.0, 2.0, 3.0])
    >>> dd.gradient(lambda y: CubicSpline(x, y)(1.5), np.zeros(4)).round(6).tolist()
    [-0.0625, 0.5625, 0.5625, -0.0625]
    """

    def __init__(self, x, y, axis=0, bc_type="not-a-knot", extrapolate=None):
        if not _traced(x, y, *_bc_values(bc_type)):
            spl = _si.CubicSpline(x, y, axis=axis, bc_type=bc_type, extrapolate=extrapolate)
            self._scipy = spl
            self.c, self.x, self.extrapolate, self.axis = spl.c, spl.x, spl.extrapolate, spl.axis
            return
        x, y = _float(x), _float(y)
        if np.ndim(x) != 1:
            raise ValueError("`x` must be 1-dimensional.")
        if np.shape(x)[0] < 2:
            raise ValueError("`x` must contain at least 2 elements.")
        axis = axis % np.ndim(y)
        if np.shape(x)[0] != np.shape(y)[axis]:
            raise ValueError(f"The length of `y` along `axis`={axis} doesn't match the length "
                             f"of `x`")
        if not np.all(np.isfinite(primal(x))):
            raise ValueError("`x` must contain only finite values.")
        if not np.all(np.isfinite(primal(y))):
            raise ValueError("`y` must contain only finite values.")
        dx = np.diff(x)
        if np.any(primal(dx) <= 0):
            raise ValueError("`x` must be strictly increasing sequence.")
        y = np.moveaxis(y, axis, 0)
        bc = _validate_bc(bc_type, y, np.shape(y)[1:])
        if extrapolate is None:
            extrapolate = "periodic" if bc[0] == "periodic" else True
        s = _slopes(x, dx, y, bc)
        dxr = np.reshape(dx, (np.shape(dx)[0],) + (1,) * (np.ndim(y) - 1))
        slope = np.diff(y, axis=0) / dxr
        t = (s[:-1] + s[1:] - 2 * slope) / dxr
        c = np.stack((t / dxr, (slope - s[:-1]) / dxr - t, s[:-1], y[:-1]))
        self._scipy = None
        self.c, self.x, self.extrapolate, self.axis = c, x, extrapolate, axis


def _bc_values(bc_type):
    if isinstance(bc_type, str) or bc_type is None:
        return []
    return [bc[1] for bc in bc_type if not isinstance(bc, str)]


# -- B-splines ------------------------------------------------------------------------------

def _bspline_interval(t, k, xq, extrapolate):
    """SciPy's find_interval: l with t[l] <= xq < t[l+1], k <= l <= n - 1; -1 for nan and
    (without extrapolation) outside [t[k], t[n]]."""
    n = t.size - k - 1
    i = np.clip(np.searchsorted(t, xq, side="right") - 1, k, n - 1)
    bad = np.isnan(xq)
    if not extrapolate:
        bad = bad | (xq < t[k]) | (xq > t[n])
    return np.where(bad, -1, i)


def _de_boor(t, x, k, ell, m):
    """SciPy's _deBoor_D: the k+1 non-zero B-splines of degree k at x (their m-th
    derivative), ell the interval of each point; t plain, x possibly a carrier."""
    h = [np.ones(np.shape(ell))] + [None] * k
    for j in range(1, k + 1):
        deriv = j > k - m
        hh = list(h[:j])
        h[0] = np.zeros(np.shape(ell))
        for n in range(1, j + 1):
            xb, xa = t[ell + n], t[ell + n - j]
            eq = xb == xa  # a repeated knot: SciPy skips the update (h[n] = 0)
            some = bool(np.any(eq))
            den = np.where(eq, 1.0, xb - xa) if some else xb - xa
            if deriv:
                w = j * hh[n - 1] / den
                new_prev, new = h[n - 1] - w, w
            else:
                w = hh[n - 1] / den
                new_prev, new = h[n - 1] + w * (xb - x), w * (x - xa)
            h[n - 1] = np.where(eq, h[n - 1], new_prev) if some else new_prev
            h[n] = np.where(eq, 0.0, new) if some else new
    return h


class BSpline:
    """``scipy.interpolate.BSpline(t, c, k, extrapolate=True, axis=0)``, differentiable
    in the evaluation points and the coefficients c (the knots t are constants).

    >>> import numpy as np, dualdiff as dd
    >>> b = BSpline(np.array([0.0, 0.0, 1.0, 1.0]), np.array([0.0, 2.0]), 1)  # 2 x on [0, 1]
    >>> float(dd.derivative(b, 0.25))
    2.0
    """

    def __init__(self, t, c, k, extrapolate=True, axis=0):
        if _traced(t):
            raise TypeError("dualdiff.scipy.interpolate.BSpline: the knots t must be constants "
                            "(derivatives are taken in c and in the evaluation points)")
        spl = _si.BSpline(t, primal(c), k, extrapolate=extrapolate, axis=axis)  # SciPy's checks
        self.t, self.k, self.extrapolate, self.axis = spl.t, spl.k, spl.extrapolate, spl.axis
        if _traced(c):
            self._scipy = None
            self.c = np.moveaxis(_float(c), axis, 0) if axis else _float(c)
        else:
            self._scipy, self.c = spl, spl.c

    @classmethod
    def construct_fast(cls, t, c, k, extrapolate=True, axis=0):
        self = object.__new__(cls)
        self.t, self.c, self.k, self.extrapolate, self.axis = t, c, k, extrapolate, axis
        self._scipy = None if _traced(c) else _si.BSpline.construct_fast(t, c, k, extrapolate,
                                                                          axis)
        return self

    def __call__(self, x, nu=0, extrapolate=None):
        if self._scipy is not None and not _traced(x):
            return self._scipy(x, nu=nu, extrapolate=extrapolate)
        if extrapolate is None:
            extrapolate = self.extrapolate
        xq = _float(x)
        shape = np.shape(xq)
        xq = np.reshape(xq, (-1,))
        t, k = self.t, self.k
        if extrapolate == "periodic":
            n = t.size - k - 1
            xq = t[k] + (xq - t[k]) % (t[n] - t[k])
            extrapolate = False
        ell = discrete(_bspline_interval, (t, k, xq, bool(extrapolate)), select=True)
        ok = ell >= 0
        el = np.where(ok, ell, k)
        if not np.all(ok):  # nan / outside points: evaluated at a knot, then discarded
            xq = np.where(ok, xq, t[k])
        h = _de_boor(t, xq, k, el, nu)
        trail = np.shape(self.c)[1:]
        out = 0.0
        for a in range(k + 1):
            w = np.reshape(h[a], np.shape(h[a]) + (1,) * len(trail))
            out = out + self.c[el + a - k] * w
        return _arrange(out, ok, shape, trail, self.axis)

    def __getattr__(self, name):
        scipy_obj = self.__dict__.get("_scipy")
        if scipy_obj is not None:
            return getattr(scipy_obj, name)
        raise TypeError(f"dualdiff.scipy.interpolate: {name} of a B-spline with traced "
                        f"coefficients is not supported; evaluate it instead.")


def _derivative_rows(t, k, xval, orders):
    """Rows of the collocation matrix for derivative conditions at xval: (columns,
    values) of the derivatives of the k+1 B-splines that do not vanish there."""
    ell = int(_bspline_interval(t, k, np.asarray([xval]), True)[0])
    cols = np.arange(ell - k, ell + 1)
    basis = np.zeros((t.size - k - 1, k + 1))
    basis[cols, np.arange(k + 1)] = 1.0
    spl = _si.BSpline(t, basis, k)
    return [(cols, spl(xval, nu=int(o))) for o in orders]


def _side(spec, tail):
    """One end's derivative conditions [(order, value)] (SciPy's string aliases)."""
    if spec is None:
        return []
    if isinstance(spec, str):
        if spec == "clamped":
            return [(1, np.zeros(tail))]
        if spec == "natural":
            return [(2, np.zeros(tail))]
        raise ValueError(f"Unknown boundary condition : {spec}")
    return list(spec)


def make_interp_spline(x, y, k=3, t=None, bc_type=None, axis=0, check_finite=True):
    """``scipy.interpolate.make_interp_spline``: the interpolating B-spline, its
    coefficients solved from SciPy's collocation system (linear in y) by
    :func:`dualdiff.scipy.linalg.solve_banded`.

    >>> import numpy as np, dualdiff as dd
    >>> x = np.arange(5.0)
    >>> g = dd.gradient(lambda y: make_interp_spline(x, y)(2.5), np.zeros(5))
    >>> bool(np.isclose(g.sum(), 1.0))  # a partition of unity
    True
    """
    deriv = [] if bc_type is None or isinstance(bc_type, str) else \
        [v for side in bc_type if side is not None and not isinstance(side, str)
         for _, v in side]
    if not _traced(x, y, t, *deriv):
        spl = _si.make_interp_spline(x, y, k=k, t=t, bc_type=bc_type, axis=axis,
                                     check_finite=check_finite)
        return BSpline.construct_fast(spl.t, spl.c, spl.k, spl.extrapolate, spl.axis)
    if _traced(x, t):
        raise TypeError("dualdiff.scipy.interpolate.make_interp_spline: x and t must be "
                        "constants (derivatives are taken in y and the boundary values)")
    if bc_type == "periodic":
        raise TypeError("dualdiff.scipy.interpolate.make_interp_spline: bc_type='periodic' "
                        "is not supported on traced values; use CubicSpline(x, y, "
                        "bc_type='periodic') for k = 3")
    # SciPy's own checks and knots, from the values
    ref = _si.make_interp_spline(x, primal(y), k=k, t=t, bc_type=_plain_bc(bc_type), axis=axis,
                                 check_finite=check_finite)
    y = np.moveaxis(_float(y), axis % np.ndim(y), 0)
    tt, kk = ref.t, ref.k
    if kk <= 1 and t is None:
        return BSpline.construct_fast(tt, y, kk, True, axis)
    tail = np.shape(y)[1:]
    if bc_type is None or bc_type == "not-a-knot":
        left, right = [], []
    elif isinstance(bc_type, str):
        left, right = _side(bc_type, tail), _side(bc_type, tail)
    else:
        left, right = (_side(b, tail) for b in bc_type)
    x = np.asarray(x, dtype=float)
    nt = tt.size - kk - 1
    n = np.shape(y)[0]
    # the banded collocation matrix: derivative conditions at x[0], values, at x[-1]
    design = _si.BSpline.design_matrix(x, tt, kk).tocoo()
    rows, cols, vals = [design.row + len(left)], [design.col], [design.data]
    for r0, xval, side in ((0, x[0], left), (nt - len(right), x[-1], right)):
        for j, (c_, v) in enumerate(_derivative_rows(tt, kk, xval, [o for o, _ in side])):
            rows.append(np.full(c_.size, r0 + j))
            cols.append(c_)
            vals.append(v)
    rows, cols, vals = (np.concatenate(a) for a in (rows, cols, vals))
    ab = np.zeros((2 * kk + 1, nt))
    ab[kk + rows - cols, cols] = vals
    extra = math.prod(tail)
    pieces = [np.reshape(_float(v), (1, extra)) for _, v in left]
    pieces.append(np.reshape(y, (n, extra)))
    pieces += [np.reshape(_float(v), (1, extra)) for _, v in right]
    c = _linalg.solve_banded((kk, kk), ab, np.concatenate(pieces), overwrite_ab=True,
                             overwrite_b=True, check_finite=check_finite)
    return BSpline.construct_fast(tt, np.reshape(c, (nt,) + tail), kk, True, axis)


def _plain_bc(bc_type):
    if bc_type is None or isinstance(bc_type, str):
        return bc_type
    return tuple(side if side is None or isinstance(side, str) else
                 [(o, primal(v)) for o, v in side] for side in bc_type)

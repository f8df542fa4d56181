"""Functions of complex values that are not holomorphic: real, imag, conj, abs, sign, angle.

Holomorphic functions of complex values (exp, sin, arithmetic, matmul, solve, ...) need
nothing new: their rows and rules hold for complex arguments as written.  The
functions here are only R-linear or not even that, so they are not rows with a factor;
each has its own tangent map and transpose.  Reverse mode follows JAX's convention: a
complex cotangent u pairs with a tangent t by ``Re(u t)`` (no conjugation), so a
holomorphic map transposes to ``u f'(z)``, and

=========  ==================================  ========================================
function   tangent                             transpose (the cotangent of z)
=========  ==================================  ========================================
real z     Re t                                Re u + 0j
imag z     Im t                                -1j Re u
conj z     conj t                              conj u
abs z      Re(conj(z) t) / abs z               Re(u) conj(z) / abs z
sign z     (t - s^2 conj t) / (2 abs z)        (u - conj(u s^2)) / (2 abs z), s = z / abs z
angle z    Im(conj(z) t) / abs(z)^2            (a composite: arctan2(imag z, real z))
=========  ==================================  ========================================

A map from complex to real values takes the real part of its cotangent (``Re u``): a
cotangent that reached a real value through a complex constant may carry an
imaginary part, which means nothing there.  ``real``, ``imag`` and ``conj`` are
linear maps: ``np.real(z)`` and ``np.imag(z)`` of a complex array are NumPy views and
so are their carriers' (writes through them reach z's value and tangent in forward
mode; the reverse tape and the sparsity tracer refuse such writes by name).

At z = 0 (conventions, never a finite wrong number):

* ``abs``: first derivative 0, a subgradient of the cone ``abs z`` (as ``hypot(0, 0)``
  and ``norm`` at 0), so gradients of ``abs(z)**p`` (p > 1) are exact there; every
  second derivative that a perturbation of z reaches is nan (the cone's curvature is
  unbounded: ``abs(z)**2`` at z = 0 has Hessian nan; write ``(z * z.conj()).real``,
  which is smooth, to get 2).
* ``sign`` (z / abs z) and ``angle``: nan (both jump at 0), where a perturbation reaches z.

In forward-over-reverse Hessians the nan at z = 0 also reaches a cotangent that is 0
there (the reverse sweep cannot tell a zero cotangent from a zero slope times an unbounded
curvature); first-order reverse sweeps give 0 where the cotangent is 0, as forward mode.

Of a real array, ``abs`` keeps its kink row, ``sign`` is piecewise constant, ``angle``
is 0 or pi (derivative 0, nan at 0), ``real`` is the array and ``imag`` read-only zeros.
The scipy.special functions whose rows hold for real arguments only
(:data:`REAL_ROWS_ONLY`) refuse complex ones by name.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import scipy.special as sc

from .core import (
    COMPLEX_UFUNCS,
    Carrier,
    all_zero,
    discrete,
    implements,
    linear,
    primal,
    primitive,
    public_name,
)
from .primitives import Primitive
from .rules import zeta

__all__ = ["real", "imag", "conj", "modulus", "sign", "angle", "pointwise"]


def _complex(x) -> bool:
    return primal(x).dtype.kind == "c"


def _identity_structure(in_shape, out_shape):
    return sp.identity(math.prod(in_shape), dtype=bool, format="csr")


def pointwise(adjoint):
    """Mark the adjoint of a linear map that acts element by element (out[i] depends on
    in[i] only): the sparsity tracer keeps the pattern as it is.

    >>> pointwise(np.conjugate).structure((2,), (2,)).toarray().tolist()
    [[True, False], [False, True]]
    """
    adjoint.structure = _identity_structure
    return adjoint


def _elementwise_structure(out, primals, masks, live):
    return [_identity_structure(np.shape(out), np.shape(out))]


# -- the linear maps ---------------------------------------------------------------------

def _real_adjoint(u):
    return np.real(u) + 0j


def _imag_adjoint(u):
    return -1j * np.real(u)


_REAL_ADJOINT = pointwise(_real_adjoint)
_IMAG_ADJOINT = pointwise(_imag_adjoint)
_CONJ_ADJOINT = pointwise(lambda u: np.conjugate(u))


@implements(np.real)
def real(val):
    """``np.real``: of a complex carrier a linear map (a view, as NumPy's); of a real one
    the carrier itself (as NumPy).

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda t: np.real(np.exp(1j * t)), 0.5).round(6).tolist()
    -0.479426
    """
    if not _complex(val):
        return val
    return linear(np.real, val, op=np.real, adjoint=_REAL_ADJOINT)


@implements(np.imag)
def imag(val):
    """``np.imag``: of a complex carrier a linear map (a view, as NumPy's); of a real one
    read-only zeros (as NumPy).

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda t: np.imag(np.exp(1j * t)), 0.5).round(6).tolist()
    0.877583
    """
    if not _complex(val):
        zero = np.zeros_like(val)
        if isinstance(zero, Carrier) and isinstance(zero.value, np.ndarray):
            zero.value.setflags(write=False)  # NumPy's imag of a real array is read-only
        return zero
    return linear(np.imag, val, op=np.imag, adjoint=_IMAG_ADJOINT)


def conj(z):
    """``np.conjugate`` of a complex carrier: a linear map whose transpose is conj.

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda t: np.conj(1j * t), 2.0).tolist()
    -1j
    """
    return linear(np.conjugate, z, op=np.conjugate, adjoint=_CONJ_ADJOINT)


@implements(np.real_if_close)
def real_if_close(a, tol=100):
    """``np.real_if_close``: the real part when every imaginary part is within tol (a
    discrete decision, reported like a comparison).

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda t: np.real_if_close(t + 0j), [1.0, 2.0]).dtype
    dtype('float64')
    """
    if not _complex(a):
        return a
    if tol > 1:
        tol = np.finfo(primal(a).dtype).eps * tol
    close = discrete(lambda v: bool(np.all(np.abs(np.imag(v)) < tol)), (a,))
    return np.real(a) if close else a


# -- abs, sign: primitives ---------------------------------------------------------------

def _safe(r, zero):
    return np.where(zero, 1.0, r)


def _zero_where_still(t, d):
    """d, taken as 0 where the tangent t is zero in every part (forward NaN-safety)."""
    still = all_zero(t)
    return np.where(still, 0.0, d) if np.any(still) else d


def _zero_where_unreached(u, g):
    """g, taken as 0 where a plain cotangent u is zero (reverse NaN-safety: the adjoint
    matches forward mode's zero).  A nested cotangent is left as it is: its zero may stand
    for a product with an unbounded slope at z = 0 (d|z| = 0 there), whose honest
    derivative is nan."""
    if isinstance(u, Carrier):
        return g
    still = np.asarray(u) == 0
    return np.where(still, 0.0, g) if np.any(still) else g


def _phase_conj_fn(z):
    if isinstance(z, Carrier):
        return primitive(PHASE_CONJ, z)
    return np.conjugate(z) / np.where(z == 0, 1.0, np.abs(z))


def _phase_conj_jvp(p, primals, tangents):
    # p = conj(z) / |z|: dp = (conj t - p^2 t) / (2 |z|); nan at z = 0 whatever t is, so that
    # the second-order parts of |z| at z = 0 come out nan, never 0
    (z,), (t,) = primals, tangents
    r = np.abs(z)
    zero = primal(z) == 0
    d = (np.conjugate(t) - p * p * t) / (2.0 * _safe(r, zero))
    return np.where(zero, np.nan, d) if np.any(zero) else d


def _phase_conj_vjp(p, primals, u, needs):
    (z,) = primals
    r = np.abs(z)
    zero = primal(z) == 0
    g = (np.conjugate(u) - u * p * p) / (2.0 * _safe(r, zero))
    return (_zero_where_unreached(u, np.where(zero, np.nan, g) if np.any(zero) else g),)


#: conj(z) / |z| (0 at z = 0, with a nan derivative there): the slope of |z|, used inside
#: its rules so that their own derivatives (second order) are exact, or nan at 0
PHASE_CONJ = Primitive("phase_conj", _phase_conj_fn, _phase_conj_jvp, _phase_conj_vjp,
                       _elementwise_structure)


def _modulus_jvp(out, primals, tangents):
    (z,), (t,) = primals, tangents
    return _zero_where_still(t, np.real(_phase_conj_fn(z) * t))


def _modulus_vjp(out, primals, u, needs):
    (z,) = primals
    return (_zero_where_unreached(u, np.real(u) * _phase_conj_fn(z)),)


MODULUS = Primitive("abs", np.abs, _modulus_jvp, _modulus_vjp, _elementwise_structure)


def modulus(z):
    """``np.abs`` / ``np.absolute`` of a complex carrier: ``d|z| = Re(conj(z) t) / |z|``.

    At z = 0 the slope is 0 (a subgradient) and second derivatives are nan (see the
    module docstring).

    >>> import dualdiff as dd
    >>> dd.gradient(lambda p: np.abs(p[0] + 1j * p[1]), [3.0, 4.0]).round(12).tolist()
    [0.6, 0.8]
    """
    return primitive(MODULUS, z)


def _sign_jvp(s, primals, tangents):
    (z,), (t,) = primals, tangents
    r = np.abs(z)
    zero = primal(z) == 0
    d = (t - s * s * np.conjugate(t)) / (2.0 * _safe(r, zero))
    return _zero_where_still(t, np.where(zero, np.nan, d) if np.any(zero) else d)


def _sign_vjp(s, primals, u, needs):
    (z,) = primals
    r = np.abs(z)
    zero = primal(z) == 0
    g = (u - np.conjugate(u * s * s)) / (2.0 * _safe(r, zero))
    return (_zero_where_unreached(u, np.where(zero, np.nan, g) if np.any(zero) else g),)


SIGN = Primitive("sign", np.sign, _sign_jvp, _sign_vjp, _elementwise_structure)


def sign(z):
    """``np.sign`` of a complex carrier, ``z / |z|`` (NumPy >= 2): not piecewise constant.

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda t: np.sign(np.exp(1j * t) * 2.0), 0.0).tolist()
    1j
    """
    return primitive(SIGN, z)


COMPLEX_UFUNCS[np.conjugate] = conj
COMPLEX_UFUNCS[np.absolute] = modulus
COMPLEX_UFUNCS[np.sign] = sign


def _real_rows_only(ufunc):
    def refuse(*args):
        raise TypeError(
            f"{public_name(ufunc)} of a complex argument: dualdiff's derivative rule for it "
            f"holds for real arguments only; differentiate a real formulation, or apply it "
            f"to .value if no derivative is needed.")

    return refuse


#: scipy.special functions that take complex arguments but whose rows are written for
#: real ones (their complex derivatives need functions SciPy has for real arguments only,
#: and ive's scaling exp(-|Re z|) is not holomorphic)
REAL_ROWS_ONLY = (sc.psi, sc.gamma, sc.loggamma, sc.rgamma, sc.iv, sc.jv, sc.yv, sc.kv, sc.ive,
                  zeta)
for _u in REAL_ROWS_ONLY:
    COMPLEX_UFUNCS[_u] = _real_rows_only(_u)


@implements(np.angle)
def angle(z, deg: bool = False):
    """``np.angle``, as NumPy computes it: ``arctan2(imag z, real z)`` (of a real array
    ``arctan2(0, x)``: 0 or pi, derivative 0, nan at 0).

    >>> import dualdiff as dd
    >>> dd.gradient(lambda p: np.angle(p[0] + 1j * p[1]), [1.0, 1.0]).round(12).tolist()
    [-0.5, 0.5]
    """
    if _complex(z):
        a = np.arctan2(np.imag(z), np.real(z))
    else:
        a = np.arctan2(0.0, z)
    return a * (180 / np.pi) if deg else a


@implements(np.sort_complex)
def sort_complex(a):
    """``np.sort_complex``: a stable sort in NumPy's complex order (real part, then
    imaginary part), as a complex array — a selection, like np.sort.

    >>> import dualdiff as dd
    >>> dd.jacobian(np.sort_complex, [2.0, 1.0]).real.tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    b = np.sort(a)
    if _complex(b):
        return b
    char = primal(b).dtype.char
    return b.astype("F" if char in "bhBH" else "G" if char == "g" else "D")

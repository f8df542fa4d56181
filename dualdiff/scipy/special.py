"""``scipy.special`` with derivatives: logsumexp, softmax, log_softmax with SciPy's
signatures, betainc / betaincc in x, and every other name of ``scipy.special``.

The three reductions are :class:`~dualdiff.primitives.Primitive` s: the value is SciPy's
(bit for bit), the rules are the closed forms, written with calls that dispatch on carriers
so that they nest for second derivatives:

* ``logsumexp``: ``L = log |sum b e^a|``; ``dL = sum w da + sum (e^(a - L) sgn) db`` with
  the weights ``w = b e^(a - L) sgn`` (a softmax; exact at ties, where SciPy's own
  max-shifted formula gives all the weight of a tie to one element when differentiated
  element by element);
* ``softmax``: ``s = softmax(x)``; ``ds = s (dx - sum s dx)``;
* ``log_softmax``: ``dl = dx - sum e^l dx``.

Sums run over ``axis``; the sparsity pattern of an output is its slice along ``axis``.
Every other name (``erf``, ``gammaln``, ``xlogy`` ...) is SciPy's own: its ufuncs apply
dualdiff's rows to carriers (:mod:`dualdiff.rules_special`); ``polygamma`` and
``multigammaln`` (Python functions in SciPy) are composites of rows here.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import scipy.special as _sc
import scipy.special._ufuncs as _U

from .. import rules_special
from ..arrays import expand, sum_to
from ..core import discrete, find_owner, nan_safe_product, primitive
from ..primitives import Primitive

__all__ = ["logsumexp", "softmax", "log_softmax", "polygamma", "multigammaln", "betainc",
           "betaincc", "pointwise"]


def __getattr__(name: str):
    return getattr(_sc, name)  # every other scipy.special name: SciPy's own


def axes_of(axis, ndim: int) -> tuple:
    """``axis`` (None, an int or a tuple) as a sorted tuple of non-negative axes.

    >>> axes_of(None, 3), axes_of(-1, 3), axes_of((2, 0), 3)
    ((0, 1, 2), (2,), (0, 2))
    """
    if axis is None:
        return tuple(range(ndim))
    axis = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return tuple(sorted(int(a) % max(ndim, 1) for a in axis))


def keep(x, axes: tuple, keepdims: bool, lead: int = 0):
    """x reduced over ``axes`` with its unit axes put back (after ``lead`` leading axes)."""
    return x if keepdims else np.expand_dims(x, tuple(lead + a for a in axes))


def reduced(x, axes: tuple, keepdims: bool, lead: int = 1):
    """Sum of x (``lead`` leading axes first) over ``axes`` of the rest."""
    return np.sum(x, axis=tuple(lead + a for a in axes), keepdims=keepdims)


def slice_map(shape: tuple, axes: tuple) -> np.ndarray:
    """For every element of an array of ``shape`` (C order), the index of its slice along
    ``axes`` (the output element of a reduction over axes).

    >>> slice_map((2, 3), (1,)).tolist()
    [0, 0, 0, 1, 1, 1]
    """
    red = tuple(1 if i in axes else s for i, s in enumerate(shape))
    return np.broadcast_to(np.arange(math.prod(red)).reshape(red), shape).ravel()


def source_map(arg_shape: tuple, shape: tuple) -> np.ndarray:
    """For every element of the broadcast ``shape``, the element of an argument of
    ``arg_shape`` it reads (C order)."""
    return np.broadcast_to(np.arange(math.prod(arg_shape)).reshape(arg_shape), shape).ravel()


def reduction_structure(shape: tuple, axes: tuple, args: tuple, live, square: bool = False):
    """Sparsity of a reduction over ``axes`` of broadcast arguments (of shapes ``args``):
    output slice i depends on the argument elements read by slice i (``square``: every
    element of a slice depends on the whole slice, as softmax)."""
    n_out = int(np.max(slice_map(shape, axes), initial=-1)) + 1
    rows = slice_map(shape, axes)
    out = []
    for s, on in zip(args, live):
        if not on:
            out.append(None)
            continue
        r = sp.csr_array((np.ones(rows.size, bool), (rows, source_map(s, shape))),
                         shape=(n_out, math.prod(s)))
        if square:
            red = sp.csr_array((np.ones(rows.size, bool), (rows, np.arange(rows.size))),
                               shape=(n_out, rows.size))
            r = (red.T @ r).astype(bool)
        out.append(r.tocsr())
    return out


# -- logsumexp ----------------------------------------------------------------------------

def _logsumexp_primitive(axes, keepdims, has_b, sgn) -> Primitive:
    """L = log|sum b e^a| over axes; ``sgn`` the sign of the sum (None: not asked for)."""
    def fn(a, b=None):
        out = logsumexp(a, axis=axes, b=b, keepdims=keepdims, return_sign=sgn is not None)
        return out[0] if sgn is not None else out

    def weights(out, a, b):
        lk = keep(out, axes, keepdims)
        e = np.exp(a - lk)
        if sgn is not None:
            e = e * keep(sgn, axes, keepdims)
        if b is None:
            return e, e
        return np.where(b == 0, 0.0, b * e), e

    def jvp(out, primals, tangents):
        a, b = primals if has_b else (primals[0], None)
        ta, tb = tangents if has_b else (tangents[0], None)
        w, e = weights(out, a, b)
        terms = []  # NaN-safe: a zero tangent stays zero where e^(a - L) is inf (b == 0)
        if ta is not None:
            terms.append(reduced(nan_safe_product(ta, w), axes, keepdims))
        if tb is not None:
            terms.append(reduced(np.broadcast_to(nan_safe_product(tb, e),
                                                 tb.shape[:1] + np.shape(w)), axes, keepdims))
        return terms[0] if len(terms) == 1 else terms[0] + terms[1]

    def vjp(out, primals, u, needs):
        a, b = primals if has_b else (primals[0], None)
        w, e = weights(out, a, b)
        uk = keep(u, axes, keepdims, lead=1)
        ga = sum_to(uk * w, np.shape(a)) if needs[0] else None
        if not has_b:
            return (ga,)
        return ga, (sum_to(uk * e, np.shape(b)) if needs[1] else None)

    def structure(out, primals, masks, live):
        shape = np.broadcast_shapes(*[np.shape(p) for p in primals])
        return reduction_structure(shape, axes, tuple(np.shape(p) for p in primals), live)

    return Primitive("logsumexp", fn, jvp, vjp, structure)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """``scipy.special.logsumexp``: ``log(sum(b * exp(a)))`` over ``axis``, differentiable in
    a and b (the derivative in a is the softmax of a weighted by b).

    >>> import numpy as np, dualdiff as dd
    >>> dd.gradient(logsumexp, np.array([0.0, 0.0, np.log(2.0)])).tolist()
    [0.25, 0.25, 0.5]
    """
    if find_owner([a, b]) is None:
        return _sc.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)
    if b is not None and np.shape(a) != np.shape(b):
        a, b = np.broadcast_arrays(a, b)
    if np.ndim(a) == 0:
        a, b = np.reshape(a, (1,)), (None if b is None else np.reshape(b, (1,)))
    axes = axes_of(axis, np.ndim(a))
    sgn = None
    if return_sign:
        sgn = np.asarray(discrete(lambda v, w: _sc.logsumexp(
            v, axis=axes, b=w, keepdims=keepdims, return_sign=True)[1], (a, b)))
    prim = _logsumexp_primitive(axes, keepdims, b is not None, sgn)
    out = primitive(prim, a) if b is None else primitive(prim, a, b)
    return (out, sgn[()]) if return_sign else out


# -- softmax, log_softmax ---------------------------------------------------------------

def _softmax_structure(axes):
    def structure(out, primals, masks, live):
        shape = np.shape(primals[0])
        return reduction_structure(shape, axes, (shape,), live, square=True)

    return structure


def _softmax_primitive(axes) -> Primitive:
    def jvp(s, primals, tangents):
        t = tangents[0]
        return s * (t - reduced(s * t, axes, True))

    def vjp(s, primals, u, needs):
        return (s * (u - reduced(s * u, axes, True)),)

    return Primitive("softmax", lambda x: softmax(x, axis=axes), jvp, vjp,
                     _softmax_structure(axes))


def softmax(x, axis=None):
    """``scipy.special.softmax``: ``exp(x) / sum(exp(x))`` over ``axis``; its Jacobian is
    ``diag(s) - s s^T`` on every slice.

    >>> import numpy as np, dualdiff as dd
    >>> dd.jacobian(softmax, np.zeros(2)).tolist()
    [[0.25, -0.25], [-0.25, 0.25]]
    """
    if find_owner([x]) is None:
        return _sc.softmax(x, axis=axis)
    return primitive(_softmax_primitive(axes_of(axis, np.ndim(x))), x)


def _log_softmax_primitive(axes) -> Primitive:
    def jvp(out, primals, tangents):
        t = tangents[0]
        return t - reduced(np.exp(out) * t, axes, True)

    def vjp(out, primals, u, needs):
        return (u - np.exp(out) * reduced(u, axes, True),)

    return Primitive("log_softmax", lambda x: log_softmax(x, axis=axes), jvp, vjp,
                     _softmax_structure(axes))


def log_softmax(x, axis=None):
    """``scipy.special.log_softmax``: ``x - logsumexp(x)`` over ``axis``, with SciPy's value.

    >>> import numpy as np, dualdiff as dd
    >>> dd.jacobian(log_softmax, np.zeros(2)).tolist()
    [[0.5, -0.5], [-0.5, 0.5]]
    """
    if find_owner([x]) is None:
        return _sc.log_softmax(x, axis=axis)
    return primitive(_log_softmax_primitive(axes_of(axis, np.ndim(x))), x)


# -- SciPy's Python functions of rows -------------------------------------------------------

def polygamma(n, x):
    """``scipy.special.polygamma``: psi^(n)(x), differentiable in x (a composite of rows).

    >>> import dualdiff as dd
    >>> round(float(dd.derivative(lambda x: polygamma(0, x), 1.0)), 12)  # psi'(1) = pi^2/6
    1.644934066848
    """
    if find_owner([n, x]) is None:
        return _sc.polygamma(n, x)
    return rules_special.polygamma(n, x)


def multigammaln(a, d):
    """``scipy.special.multigammaln``: log Gamma_d(a), differentiable in a.

    >>> import dualdiff as dd
    >>> round(float(dd.derivative(lambda a: multigammaln(a, 1), 3.0)), 12)  # psi(3)
    0.922784335098
    """
    if find_owner([a, d]) is None:
        return _sc.multigammaln(a, d)
    return rules_special.multigammaln(a, d)


# -- element-wise functions with hand-written partials --------------------------------------

def pointwise(name: str, fn, partials):
    """An element-wise function of several (broadcast) arguments with its partials written
    by hand, for every carrier: ``partials[i](out, *args)`` is d fn / d args[i] (written
    with calls that dispatch on carriers, so that it nests for second derivatives), or
    None where no closed form exists (a carrier there is refused, naming the argument).
    With no carrier among the arguments it is ``fn`` itself.

    >>> import numpy as np, dualdiff as dd
    >>> cube = pointwise("cube", lambda x: x**3, (lambda out, x: 3 * x**2,))
    >>> float(dd.derivative(cube, 2.0)), dd.hessian(lambda v: np.sum(cube(v)), [2.0]).tolist()
    (12.0, [[12.0]])
    """
    def jvp(out, primals, tangents):
        nd = np.ndim(out)
        terms = None
        for d, t in zip(partials, tangents):
            if t is None:
                continue
            term = nan_safe_product(expand(t, nd), d(out, *primals))
            terms = term if terms is None else terms + term
        return np.broadcast_to(terms, np.shape(terms)[:1] + np.shape(out))

    def vjp(out, primals, u, needs):
        return tuple(sum_to(nan_safe_product(d(out, *primals), u), np.shape(p)) if need
                     else None for d, p, need in zip(partials, primals, needs))

    def structure(out, primals, masks, live):
        shape = np.shape(out)
        rows = np.arange(math.prod(shape))
        return [sp.csr_array((np.ones(rows.size, bool), (rows, source_map(np.shape(p), shape))),
                             shape=(rows.size, math.prod(np.shape(p)))) if on else None
                for p, on in zip(primals, live)]

    ordinal = ("first", "second", "third", "fourth")

    def apply(*args):
        if find_owner(args) is None:
            return fn(*args)
        for i, (d, a) in enumerate(zip(partials, args)):
            if d is None and find_owner([a]) is not None:
                raise TypeError(f"{name}: no derivative with respect to its {ordinal[i]} "
                                f"argument (none in closed form); pass a constant there.")
        return primitive(prim, *args)

    prim = Primitive(name, apply, jvp, vjp, structure)  # apply: nested carriers recurse
    apply.__name__ = name
    return apply


def _beta_density(a, b, x):
    return np.exp(_sc.xlogy(a - 1.0, x) + _sc.xlog1py(b - 1.0, -x) - _sc.betaln(a, b))


betainc = pointwise("scipy.special.betainc", _U.betainc,
                    (None, None, lambda out, a, b, x: _beta_density(a, b, x)))
betainc.__doc__ = """``scipy.special.betainc(a, b, x)``, the regularized incomplete beta function,
differentiable in x (d/dx = x**(a-1) (1-x)**(b-1) / B(a, b)); a and b are refused (no
closed-form derivative).

>>> import dualdiff as dd
>>> float(dd.derivative(lambda x: betainc(1.0, 1.0, x), 0.3))  # the uniform cdf
1.0
"""
betaincc = pointwise("scipy.special.betaincc", _U.betaincc,
                     (None, None, lambda out, a, b, x: -_beta_density(a, b, x)))
betaincc.__doc__ = """``scipy.special.betaincc(a, b, x)`` = 1 - betainc, differentiable in x.

>>> import dualdiff as dd
>>> float(dd.derivative(lambda x: betaincc(1.0, 1.0, x), 0.3))
-1.0
"""

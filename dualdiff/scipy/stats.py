"""``scipy.stats`` distributions with derivatives in x and in their parameters.

``norm, t, gamma, beta, expon, laplace, cauchy, lognorm, chi2`` (``logpdf, pdf, cdf,
logcdf, sf, logsf``), ``poisson`` (in mu) and ``binom`` (in p) (``logpmf, pmf, cdf,
logcdf, sf, logsf``), ``multivariate_normal`` and ``dirichlet`` (``logpdf, pdf``).
Calls take SciPy's arguments (shape parameters, then ``loc`` and ``scale``, positional or
by keyword); a distribution called with its parameters is frozen, as in SciPy:
``t(df, loc, scale).logpdf(x)``.  With no carrier among the arguments every call is
SciPy's own; any other attribute (``rvs``, ``ppf``, ``mean`` ...) is SciPy's.

On carriers each method is SciPy's algorithm written with calls that have rules: the
standardized ``z = (x - loc) / scale``, the distribution's formula on the valid elements
(``- log(scale)`` for logpdf, ``/ scale`` for pdf) and SciPy's constants elsewhere
(``-inf`` / 0 / 1 outside the support, nan for invalid parameters).  So values agree with
SciPy's to rounding (bit for bit where SciPy's formula is the same ufuncs), and every
mode (forward, reverse, hyper-dual, nested, sparsity) follows.  Formulas with no row get
one here: ``log poch(df/2, 1/2)`` for Student's t (its derivative a psi difference that
does not cancel for large df), ``betainc`` / ``betaincc`` in x (from
:mod:`dualdiff.scipy.special`), the binomial pmf / cdf / sf in p (their values SciPy's,
derivatives ``n (pmf(k-1; n-1) - pmf(k; n-1))`` and ``-n pmf(k; n-1)``).

Refused with a TypeError naming the argument (no exact derivative exists in closed form):
``gamma`` / ``chi2`` cdf-type methods in ``a`` / ``df``, ``beta`` ones in ``a`` / ``b``, ``t``
ones in ``df``, ``binom`` in ``n`` and the discrete distributions in ``k``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special as sc
import scipy.special._ufuncs as U
import scipy.stats as _st

from .. import rules_special
from ..core import Carrier, discrete, find_owner, primal
from . import linalg as _linalg
from .special import betainc, betaincc, pointwise

__all__ = ["norm", "t", "gamma", "beta", "expon", "laplace", "cauchy", "lognorm", "chi2",
           "poisson", "binom", "multivariate_normal", "dirichlet"]

_LOG_PI = math.log(math.pi)
_NORM_PDF_C = np.sqrt(2 * np.pi)
_NORM_PDF_LOGC = np.log(_NORM_PDF_C)
_LOG2 = np.log(2)
CDF_METHODS = ("cdf", "logcdf", "sf", "logsf")


# -- functions without a row ------------------------------------------------------------

def _log_poch_half(a):
    """log poch(a, 1/2) = log Gamma(a + 1/2) - log Gamma(a), with SciPy's value
    log(poch(a, 0.5)); d/da = psi(a + 1/2) - psi(a) without cancellation."""
    return _LOG_POCH(a)


_LOG_POCH = pointwise(
    "log poch(a, 0.5)", lambda a: np.log(U.poch(a, 0.5)),
    (lambda out, a: rules_special._dpsi(a, 0.5),))


_NO_SHAPE = None  # a partial that does not exist in closed form: refused by pointwise()


def _beta_pdf_dx(out, x, a, b):
    return out * ((a - 1.0) / x - (b - 1.0) / (1.0 - x))


def _beta_pdf_da(out, x, a, b):
    return out * (np.log(x) + rules_special._dpsi(a, b))


def _beta_pdf_db(out, x, a, b):
    return out * (np.log1p(-x) + rules_special._dpsi(b, a))


_BETA_PDF = pointwise("beta.pdf", U._beta_pdf, (_beta_pdf_dx, _beta_pdf_da, _beta_pdf_db))


def _pmf_or_zero(k, n, p):
    """pmf(k; n, p), 0 for k outside 0..n (where Boost's pmf is nan); evaluated at a valid
    (k, n) there, so no nan reaches a derivative."""
    ok = (k >= 0) & (k <= n) & (n >= 0)
    if np.all(ok):
        return _BINOM_PMF(k, n, p)
    return np.where(ok, _BINOM_PMF(np.where(ok, k, 0.0), np.where(ok, n, 1.0), p), 0.0)


def _binom_pmf_dp(out, k, n, p):
    return n * (_pmf_or_zero(k - 1.0, n - 1.0, p) - _pmf_or_zero(k, n - 1.0, p))


_BINOM_PMF = pointwise("binom.pmf", U._binom_pmf, (_NO_SHAPE, _NO_SHAPE, _binom_pmf_dp))
def _binom_cdf_dp(out, k, n, p):
    return -n * _pmf_or_zero(k, n - 1.0, p)


def _binom_sf_dp(out, k, n, p):
    return n * _pmf_or_zero(k, n - 1.0, p)


_BINOM_CDF = pointwise("binom.cdf", U._binom_cdf, (_NO_SHAPE, _NO_SHAPE, _binom_cdf_dp))
_BINOM_SF = pointwise("binom.sf", U._binom_sf, (_NO_SHAPE, _NO_SHAPE, _binom_sf_dp))


# -- the families -----------------------------------------------------------------------

class _Family:
    """A distribution of scipy.stats on carriers (see the module docstring): its methods
    take SciPy's arguments; calling it with parameters freezes them.

    >>> import dualdiff as dd
    >>> float(dd.derivative(lambda m: norm.logpdf(1.0, loc=m), 0.0))  # (x - loc) / scale^2
    1.0
    >>> d = dd.derivative(lambda s: t(3.0, scale=s).cdf(1.0), 2.0)  # -z f(z) / s, z = 1/2
    >>> bool(np.isclose(d, -0.5 * t.pdf(0.5, 3.0) / 2.0, rtol=1e-15))
    True
    """

    shapes: tuple = ()
    discrete = False
    #: method kind ("cdf" for the cdf-type methods) -> shape parameters it cannot
    #: differentiate in, with the reason
    nondiff: dict = {}

    def __init__(self, name: str):
        self.name = name
        self._scipy = getattr(_st, name)
        methods = ("logpmf, pmf" if self.discrete else "logpdf, pdf") + ", " + \
            ", ".join(CDF_METHODS)
        args = ", ".join(("k" if self.discrete else "x",) + self.shapes + (
            ("loc=0",) if self.discrete else ("loc=0", "scale=1")))
        self.__doc__ = (f"``scipy.stats.{name}`` with derivatives: {methods} ({args}), "
                        f"differentiable in every argument but those refused by name "
                        f"(see the module docstring and :class:`_Family`).")

    def __repr__(self):
        return f"<dualdiff.scipy.stats.{self.name}>"

    def __getattr__(self, attr):
        return getattr(self._scipy, attr)  # rvs, ppf, mean, ... : SciPy's own

    def __call__(self, *args, **kwds):
        return _Frozen(self, args, kwds)

    # -- arguments --------------------------------------------------------------------
    def _parse(self, method, args, kwds):
        names = self.shapes + (("loc",) if self.discrete else ("loc", "scale"))
        defaults = {"loc": 0.0, "scale": 1.0}
        if len(args) > len(names):
            raise TypeError(f"{self.name}.{method}() takes at most {len(names) + 1} positional "
                            f"arguments ({len(args) + 1} given)")
        bound = dict(zip(names, args))
        for key, value in kwds.items():
            if key not in names:
                raise TypeError(f"{self.name}.{method}() got an unexpected keyword argument "
                                f"{key!r}")
            if key in bound:
                raise TypeError(f"{self.name}.{method}() got multiple values for argument "
                                f"{key!r}")
            bound[key] = value
        missing = [n for n in self.shapes if n not in bound]
        if missing:
            raise TypeError(f"{self.name}.{method}() missing {len(missing)} required positional "
                            f"argument{'s' if len(missing) > 1 else ''}: "
                            + ", ".join(repr(m) for m in missing))
        return [bound[n] for n in self.shapes], bound.get("loc", defaults["loc"]), \
            bound.get("scale", defaults["scale"])

    def _refuse(self, method, kind, x, shapes):
        for name, value in zip(self.shapes, shapes):
            reason = self.nondiff.get((kind, name))
            if reason and isinstance(value, Carrier):
                raise TypeError(
                    f"dualdiff.scipy.stats.{self.name}.{method}: no derivative in the shape "
                    f"parameter {name!r} ({reason}); pass {name} as a constant.")
        if self.discrete and isinstance(x, Carrier):
            raise TypeError(f"dualdiff.scipy.stats.{self.name}.{method}: k counts outcomes and "
                            f"has no derivative; pass k as a constant (derivatives are taken "
                            f"in the parameters).")

    # -- the computation ----------------------------------------------------------------
    def _evaluate(self, method, x, args, kwds):
        shapes, loc, scale = self._parse(method, args, kwds)
        if find_owner([x, loc, scale, *shapes]) is None:
            return getattr(self._scipy, method)(x, *shapes, loc=loc, **(
                {} if self.discrete else {"scale": scale}))
        kind = "cdf" if method in CDF_METHODS else "pdf"
        self._refuse(method, kind, x, shapes)
        return _finish(self._discrete(method, x, shapes, loc) if self.discrete
                       else self._continuous(method, x, shapes, loc, scale))

    def _masks(self, method, x, loc, scale, *shapes):
        """SciPy's masks on plain values: (cond, cond0, z >= b, z <= a)."""
        with np.errstate(all="ignore"):
            z = (x - loc) / scale
            lo, hi = self.support(*shapes)
            cond0 = np.asarray(self.argcheck(*shapes)) & (scale > 0)
            if method in ("pdf", "logpdf"):
                cond1 = (lo <= z) & (z <= hi) & (scale > 0)
            else:
                cond1 = (lo < z) & (z < hi) & (scale > 0)
            shape = np.broadcast_shapes(np.shape(z), np.shape(cond0))
            return tuple(np.broadcast_to(m, shape) for m in (
                cond0 & cond1, cond0, ~cond0 | np.isnan(z), (z >= hi) & cond0, (z <= lo) & cond0))

    def _continuous(self, method, x, shapes, loc, scale):
        # the masks are discrete results of the values (reported to plans); every argument
        # is moved to a valid point outside them before anything is computed from it, so
        # that no nan or inf of a discarded element reaches a derivative (in reverse mode
        # a zero adjoint times a nan partial would be nan)
        cond, cond0, bad, top, bottom = discrete(
            lambda *a: self._masks(method, *a), (x, loc, scale, *shapes))
        every = bool(np.all(cond))
        if every:
            zs, ss, shp = (x - loc) / scale, scale, shapes
        else:
            ss = np.where(cond, scale, 1.0)
            zs = np.where(cond, (np.where(cond, x, 0.0) - np.where(cond, loc, 0.0)) / ss,
                          self.inside[0])
            shp = [np.where(cond, s, v) for s, v in zip(shapes, self.inside[1:])]
        value = getattr(self, "_" + method)(zs, *shp)
        if method == "logpdf":
            value = value - np.log(ss)
        elif method == "pdf":
            value = value / ss
        if every:
            return value
        fill, edge = {"logpdf": (-np.inf, None), "pdf": (0.0, None),
                      "cdf": (0.0, (top, 1.0)), "logcdf": (-np.inf, (top, 0.0)),
                      "sf": (0.0, (bottom, 1.0)), "logsf": (-np.inf, (bottom, 0.0))}[method]
        const = np.full(np.shape(cond), fill)
        if edge is not None:
            const = np.where(edge[0], edge[1], const)
        const = np.where(bad, np.nan, const)
        return np.where(cond, value, const)

    def _discrete_masks(self, method, k, loc, *shapes):
        """SciPy's rv_discrete masks on plain values: cond and the constants' masks, in
        the order SciPy places them."""
        k = k - loc
        lo, hi = self.support(*shapes)
        cond0 = np.asarray(self.argcheck(*shapes))
        if method in ("pmf", "logpmf"):
            cond = cond0 & (lo <= k) & (k <= hi) & (np.floor(k) == k)
        else:
            k = np.floor(k)
            cond = cond0 & (lo <= k) & (k < hi) & np.isfinite(k)
        bad = ~cond0 | np.isnan(k)
        steps = {
            "pmf": [(bad, np.nan)],
            "logpmf": [(bad, np.nan)],
            "cdf": [(k >= hi, 1.0), (np.isneginf(k), 0.0), (bad, np.nan)],
            "logcdf": [(bad, np.nan), (k >= hi, 0.0)],
            "sf": [(bad, np.nan), (((k < lo) | np.isneginf(k)) & cond0, 1.0)],
            "logsf": [(bad, np.nan), ((k < lo) & cond0, 0.0)],
        }[method]
        return cond, steps

    def _discrete(self, method, k, shapes, loc):
        # SciPy's rv_discrete, including the order in which it places its constants; the
        # shapes are moved to valid values outside cond (see _continuous)
        cond, steps = discrete(lambda *a: self._discrete_masks(method, *a), (k, loc, *shapes))
        k = k - loc if method in ("pmf", "logpmf") else np.floor(k - loc)
        every = bool(np.all(cond))
        if every:
            ks, shp = k, shapes
        else:
            ks = np.where(cond, k, self.inside[0])
            shp = [np.where(cond, s, v) for s, v in zip(shapes, self.inside[1:])]
        value = getattr(self, "_" + method)(ks, *shp)
        if every:
            return value
        fill = {"pmf": 0.0, "logpmf": -np.inf, "cdf": 0.0, "logcdf": -np.inf, "sf": 0.0,
                "logsf": -np.inf}[method]
        const = np.full(np.shape(cond), fill)
        for mask, v in steps:
            const = np.where(mask, v, const)
        return np.where(cond, value, const)

    # log-methods SciPy takes from the plain ones by default: for a continuous
    # distribution log(cdf) below the median and log1p(-sf) above (so the log of a cdf
    # near 1 keeps its digits), for a discrete one log(cdf)
    def _logcdf(self, z, *shapes):
        if self.discrete:
            return np.log(self._cdf(z, *shapes))
        return self._split(z, shapes, lambda *a: np.log(self._cdf(*a)),
                           lambda *a: np.log1p(-self._sf(*a)))

    def _logsf(self, z, *shapes):
        if self.discrete:
            return np.log(self._sf(z, *shapes))
        return self._split(z, shapes, lambda *a: np.log1p(-self._cdf(*a)),
                           lambda *a: np.log(self._sf(*a)))

    def _split(self, z, shapes, below, above):
        """below(z) where z < the median, above(z) elsewhere, each evaluated only where
        it is taken (the other points moved to the median) so no nan of the branch not
        taken reaches a reverse sweep."""
        median = discrete(lambda *s: self._scipy._ppf(0.5, *s), tuple(shapes))
        low = z < median
        zl = np.where(low, z, median)
        zh = np.where(low, median, z)
        return np.where(low, below(zl, *shapes), above(zh, *shapes))

    def _pdf(self, z, *shapes):
        return np.exp(self._logpdf(z, *shapes))

    def _pmf(self, k, *shapes):
        return np.exp(self._logpmf(k, *shapes))

    def argcheck(self, *shapes):
        return np.ones((), bool)

    def support(self, *shapes):
        return -np.inf, np.inf


def _finish(out):
    """SciPy's result: a 0-d result as a scalar (a 0-d carrier stays a carrier)."""
    if isinstance(out, np.ndarray) and out.ndim == 0:
        return out[()]
    return out


def _method(name):
    def method(self, x, *args, **kwds):
        return self._evaluate(name, x, args, kwds)

    method.__name__ = name
    method.__doc__ = f"SciPy's ``{name}(x, *shapes, loc=0, scale=1)``, differentiable."
    return method


for _name in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "logpmf", "pmf"):
    setattr(_Family, _name, _method(_name))


class _Frozen:
    """A distribution with its parameters fixed, as ``scipy.stats.norm(loc, scale)``."""

    def __init__(self, family, args, kwds):
        self.dist, self.args, self.kwds = family, args, kwds

    def __repr__(self):
        return f"<frozen dualdiff.scipy.stats.{self.dist.name}>"

    def __getattr__(self, attr):
        if attr in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "logpmf", "pmf"):
            def call(x):
                return getattr(self.dist, attr)(x, *self.args, **self.kwds)
            return call
        return getattr(self.dist._scipy(*self.args, **self.kwds), attr)


# -- continuous --------------------------------------------------------------------------

class _Norm(_Family):
    inside = (0.0,)

    def _logpdf(self, z):
        return -z**2 / 2.0 - _NORM_PDF_LOGC

    def _pdf(self, z):
        return np.exp(-z**2 / 2.0) / _NORM_PDF_C

    def _cdf(self, z):
        return sc.ndtr(z)

    def _logcdf(self, z):
        return sc.log_ndtr(z)

    def _sf(self, z):
        return sc.ndtr(-z)

    def _logsf(self, z):
        return sc.log_ndtr(-z)


class _T(_Family):
    shapes = ("df",)
    inside = (0.0, 1.0)
    nondiff = {("cdf", "df"): "the Student t cdf has no closed-form derivative in df"}

    def argcheck(self, df):
        return df > 0

    def _logpdf(self, z, df):
        inf = np.isposinf(primal(df))
        if np.any(inf):
            dfs = np.where(inf, 1.0, df)
            return np.where(inf, -z**2 / 2.0 - _NORM_PDF_LOGC, self._logpdf(z, dfs))
        return (_log_poch_half(0.5 * df) - 0.5 * (np.log(df) + np.log(np.pi))
                - (df + 1) / 2 * np.log1p(z * z / df))

    def _pdf(self, z, df):
        inf = np.isposinf(primal(df))
        if np.any(inf):
            dfs = np.where(inf, 1.0, df)
            return np.where(inf, np.exp(-z**2 / 2.0) / _NORM_PDF_C, self._pdf(z, dfs))
        return np.exp(self._logpdf(z, df))

    def _cdf(self, z, df):
        return sc.stdtr(df, z)

    def _sf(self, z, df):
        return sc.stdtr(df, -z)


_GAMMA_A = "the regularized incomplete gamma function has no closed-form derivative in a"


class _Gamma(_Family):
    shapes = ("a",)
    inside = (1.0, 1.0)
    nondiff = {("cdf", "a"): _GAMMA_A}

    def argcheck(self, a):
        return a > 0

    def support(self, a):
        return 0.0, np.inf

    def _logpdf(self, z, a):
        return sc.xlogy(a - 1.0, z) - z - sc.gammaln(a)

    def _cdf(self, z, a):
        return sc.gammainc(a, z)

    def _sf(self, z, a):
        return sc.gammaincc(a, z)


class _Beta(_Family):
    shapes = ("a", "b")
    inside = (0.5, 1.0, 1.0)
    nondiff = {("cdf", "a"): "the regularized incomplete beta function has no closed-form "
                             "derivative in a",
               ("cdf", "b"): "the regularized incomplete beta function has no closed-form "
                             "derivative in b"}

    def argcheck(self, a, b):
        return (a > 0) & (b > 0)

    def support(self, a, b):
        return 0.0, 1.0

    def _logpdf(self, z, a, b):
        lpx = sc.xlog1py(b - 1.0, -z) + sc.xlogy(a - 1.0, z)
        return lpx - sc.betaln(a, b)

    def _pdf(self, z, a, b):
        return _BETA_PDF(z, a, b)

    def _cdf(self, z, a, b):
        return betainc(a, b, z)

    def _sf(self, z, a, b):
        return betaincc(a, b, z)


class _Expon(_Family):
    inside = (1.0,)

    def support(self):
        return 0.0, np.inf

    def _logpdf(self, z):
        return -z

    def _pdf(self, z):
        return np.exp(-z)

    def _cdf(self, z):
        return -sc.expm1(-z)

    def _sf(self, z):
        return np.exp(-z)

    def _logsf(self, z):
        return -z


class _Laplace(_Family):
    inside = (0.0,)

    def _logpdf(self, z):
        return np.log(self._pdf(z))

    def _pdf(self, z):
        return 0.5 * np.exp(-abs(z))

    def _cdf(self, z):
        return np.where(z > 0, 1.0 - 0.5 * np.exp(-np.where(z > 0, z, 0.0)),
                        0.5 * np.exp(np.where(z > 0, 0.0, z)))

    def _sf(self, z):
        return self._cdf(-z)


class _Cauchy(_Family):
    inside = (0.0,)

    def _pdf(self, z):
        return 1.0 / np.pi / (1.0 + z * z)

    def _logpdf(self, z):
        absz = np.abs(z)
        near = absz < 1
        zn = np.where(near, absz, 0.0)
        zf = np.where(near, 1.0, absz)
        return np.where(near, -_LOG_PI - np.log1p(zn**2),
                        -_LOG_PI - (2 * np.log(zf) + np.log1p((1 / zf)**2)))

    def _cdf(self, z):
        return np.arctan2(1, -z) / np.pi

    def _sf(self, z):
        return np.arctan2(1, z) / np.pi


class _Lognorm(_Family):
    shapes = ("s",)
    inside = (1.0, 1.0)

    def argcheck(self, s):
        return s > 0

    def support(self, s):
        return 0.0, np.inf

    def _logpdf(self, z, s):
        zero = z == 0
        if np.any(zero):
            zs = np.where(zero, 1.0, z)
            return np.where(zero, -np.inf, self._logpdf(zs, s))
        return -np.log(z)**2 / (2 * s**2) - np.log(s * z * np.sqrt(2 * np.pi))

    def _cdf(self, z, s):
        return sc.ndtr(np.log(z) / s)

    def _logcdf(self, z, s):
        return sc.log_ndtr(np.log(z) / s)

    def _sf(self, z, s):
        return sc.ndtr(-(np.log(z) / s))

    def _logsf(self, z, s):
        return sc.log_ndtr(-(np.log(z) / s))


class _Chi2(_Family):
    shapes = ("df",)
    inside = (1.0, 1.0)
    nondiff = {("cdf", "df"): "the chi-squared cdf (an incomplete gamma function) has no "
                              "closed-form derivative in df"}

    def argcheck(self, df):
        return df > 0

    def support(self, df):
        return 0.0, np.inf

    def _logpdf(self, z, df):
        return sc.xlogy(df / 2. - 1, z) - z / 2. - sc.gammaln(df / 2.) - (_LOG2 * df) / 2.

    def _cdf(self, z, df):
        return sc.gammainc(df / 2, z / 2)

    def _sf(self, z, df):
        return sc.gammaincc(df / 2, z / 2)


# -- discrete ----------------------------------------------------------------------------

class _Poisson(_Family):
    shapes = ("mu",)
    discrete = True
    inside = (0.0, 1.0)

    def argcheck(self, mu):
        return mu >= 0

    def support(self, mu):
        return 0.0, np.inf

    def _logpmf(self, k, mu):
        return sc.xlogy(k, mu) - sc.gammaln(k + 1) - mu

    def _cdf(self, k, mu):
        return sc.gammaincc(k + 1, mu)  # pdtr(k, mu)

    def _sf(self, k, mu):
        return sc.gammainc(k + 1, mu)  # pdtrc(k, mu)


class _Binom(_Family):
    shapes = ("n", "p")
    discrete = True
    inside = (0.0, 1.0, 0.5)
    nondiff = {("cdf", "n"): "n counts trials", ("pdf", "n"): "n counts trials"}

    def argcheck(self, n, p):
        nv = primal(n)
        return (nv >= 0) & (np.floor(nv) == nv) & (p >= 0) & (p <= 1)

    def support(self, n, p):
        return 0.0, n

    def _logpmf(self, k, n, p):
        combiln = sc.gammaln(n + 1) - (sc.gammaln(k + 1) + sc.gammaln(n - k + 1))
        return combiln + sc.xlogy(k, p) + sc.xlog1py(n - k, -p)

    def _pmf(self, k, n, p):
        return _BINOM_PMF(k, n, p)

    def _cdf(self, k, n, p):
        return _BINOM_CDF(k, n, p)

    def _sf(self, k, n, p):
        return _BINOM_SF(k, n, p)


norm = _Norm("norm")
t = _T("t")
gamma = _Gamma("gamma")
beta = _Beta("beta")
expon = _Expon("expon")
laplace = _Laplace("laplace")
cauchy = _Cauchy("cauchy")
lognorm = _Lognorm("lognorm")
chi2 = _Chi2("chi2")
poisson = _Poisson("poisson")
binom = _Binom("binom")


# -- multivariate ------------------------------------------------------------------------

_LOG_2PI = math.log(2 * math.pi)


def _squeeze_output(out):
    out = np.squeeze(out)
    return out[()] if isinstance(out, np.ndarray) and out.ndim == 0 else out


class _Multivariate:
    """Shared by multivariate_normal and dirichlet: freezing, SciPy's other methods.

    >>> import numpy as np, dualdiff as dd
    >>> dd.gradient(multivariate_normal(np.zeros(2), np.eye(2)).logpdf, [1.0, 2.0]).tolist()
    [-1.0, -2.0]
    """

    def __init__(self, name: str):
        self.name = name
        self._scipy = getattr(_st, name)
        self.__doc__ = (f"``scipy.stats.{name}`` with derivatives: logpdf and pdf, "
                        f"differentiable in x and the parameters (see their docstrings).")

    def __repr__(self):
        return f"<dualdiff.scipy.stats.{self.name}>"

    def __getattr__(self, attr):
        return getattr(self._scipy, attr)

    def __call__(self, *args, **kwds):
        return _Frozen(self, args, kwds)

    def pdf(self, x, *args, **kwds):
        if find_owner([x, *args, *kwds.values()]) is None:
            return self._scipy.pdf(x, *args, **kwds)
        return np.exp(self.logpdf(x, *args, **kwds))


class _MultivariateNormal(_Multivariate):
    def logpdf(self, x, mean=None, cov=1, allow_singular=False):
        """SciPy's ``multivariate_normal.logpdf(x, mean=None, cov=1, allow_singular=False)``,
        differentiable in x, mean and cov: with cov = L L^T (Cholesky),
        ``-(d log(2 pi) + 2 sum log diag L + |L^-1 (x - mean)|^2) / 2``.

        >>> import numpy as np, dualdiff as dd
        >>> dd.gradient(lambda m: multivariate_normal.logpdf([1.0, 2.0], m, np.eye(2)),
        ...             np.zeros(2)).tolist()
        [1.0, 2.0]
        """
        if find_owner([x, mean, cov]) is None:
            return self._scipy.logpdf(x, mean, cov, allow_singular=allow_singular)
        if not isinstance(cov, Carrier) and not isinstance(cov, (int, float, np.ndarray, list,
                                                                 tuple)):
            raise TypeError("dualdiff.scipy.stats.multivariate_normal.logpdf: cov must be an "
                            "array on carriers (not a scipy.stats.Covariance object)")
        dim, mean, cov = self._parameters(mean, cov)
        x = np.asarray(x, dtype=float) if find_owner([x]) is None else x
        if np.ndim(x) == 0:
            x = np.reshape(x, (1,))
        if np.ndim(x) == 1:
            x = np.reshape(x, (-1, 1) if dim == 1 else (1, -1))
        dev = x - mean
        try:
            low = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise ValueError(
                "dualdiff.scipy.stats.multivariate_normal.logpdf: the covariance matrix is not "
                "positive definite; a singular covariance (allow_singular=True) has no "
                "derivative here.") from None
        flat = np.reshape(dev, (-1, dim))
        z = _linalg.solve_triangular(low, np.swapaxes(flat, 0, 1), lower=True)
        maha = np.sum(z * z, axis=0)
        log_det = 2.0 * np.sum(np.log(np.diagonal(low)))
        out = -0.5 * (dim * _LOG_2PI + log_det + maha)
        return _squeeze_output(np.reshape(out, np.shape(dev)[:-1]))

    @staticmethod
    def _parameters(mean, cov):
        """SciPy's dimension and full (mean, cov) from its shorthand forms."""
        if mean is None:
            dim = 1 if np.ndim(cov) < 2 else np.shape(cov)[0]
        else:
            dim = math.prod(np.shape(mean))
        mean = np.zeros(dim) if mean is None else mean
        mean = mean if isinstance(mean, Carrier) else np.asarray(mean, dtype=float)
        cov = cov if isinstance(cov, Carrier) else np.asarray(cov, dtype=float)
        if dim == 1:
            mean, cov = np.reshape(mean, (1,)), np.reshape(cov, (1, 1))
        if np.ndim(mean) != 1 or np.shape(mean)[0] != dim:
            raise ValueError(f"Array 'mean' must be a vector of length {dim}.")
        if np.ndim(cov) == 0:
            cov = cov * np.eye(dim)
        elif np.ndim(cov) == 1:
            cov = np.diag(cov)
        elif np.shape(cov) != (dim, dim):
            raise ValueError(f"Dimension mismatch: array 'cov' is of shape {np.shape(cov)}, "
                             f"but 'mean' is a vector of length {dim}.")
        return dim, mean, cov


class _Dirichlet(_Multivariate):
    def logpdf(self, x, alpha):
        """SciPy's ``dirichlet.logpdf(x, alpha)`` (components along the first axis of x,
        the last one optional), differentiable in x and alpha:
        ``sum (alpha - 1) log x - (sum gammaln(alpha) - gammaln(sum alpha))``.

        >>> import numpy as np, dualdiff as dd
        >>> # d/d alpha_i = log x_i - psi(alpha_i) + psi(sum alpha) = log x_i + 1 here
        >>> dd.gradient(lambda a: dirichlet.logpdf([0.2, 0.8], a), [1.0, 1.0]).round(6).tolist()
        [-0.609438, 0.776856]
        """
        if find_owner([x, alpha]) is None:
            return self._scipy.logpdf(x, alpha)
        av = primal(alpha)
        if np.min(av) <= 0:
            raise ValueError("All parameters must be greater than 0")
        if av.ndim != 1:
            raise ValueError(f"Parameter vector 'a' must be one dimensional, but "
                             f"a.shape = {av.shape}.")
        x = x if find_owner([x]) is not None else np.asarray(x, dtype=float)
        if np.shape(x)[0] + 1 != av.shape[0] and np.shape(x)[0] != av.shape[0]:
            raise ValueError("Vector 'x' must have either the same number of entries as, or "
                             f"one entry fewer than, parameter vector 'a', but alpha.shape = "
                             f"{av.shape} and x.shape = {np.shape(x)}.")
        if np.shape(x)[0] != av.shape[0]:
            x = np.concatenate([x, 1 - np.sum(x, axis=0, keepdims=True)], axis=0)
        self._check(primal(x), av)
        lnb = np.sum(sc.gammaln(alpha)) - sc.gammaln(np.sum(alpha))
        terms = np.swapaxes(sc.xlogy(alpha - 1, np.swapaxes(x, 0, -1)), 0, -1)
        return _squeeze_output(-lnb + np.sum(terms, axis=0))

    @staticmethod
    def _check(x, alpha):
        if np.min(x) < 0:
            raise ValueError("Each entry in 'x' must be greater than or equal to zero.")
        if np.max(x) > 1:
            raise ValueError("Each entry in 'x' must be smaller or equal one.")
        low = alpha < 1
        if x.shape != alpha.shape:
            low = np.repeat(low, x.shape[-1], axis=-1).reshape(x.shape)
        if np.sum((x == 0) & low):
            raise ValueError("Each entry in 'x' must be greater than zero if its alpha is "
                             "less than one.")
        if (np.abs(np.sum(x, 0) - 1.0) > 10e-10).any():
            raise ValueError(f"The input vector 'x' must lie within the normal simplex. but "
                             f"np.sum(x, 0) = {np.sum(x, 0)}.")


multivariate_normal = _MultivariateNormal("multivariate_normal")
dirichlet = _Dirichlet("dirichlet")

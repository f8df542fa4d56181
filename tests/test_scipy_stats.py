"""dualdiff.scipy.stats against references that share no code with dualdiff.

* values: scipy.stats' own, bit for bit, inside and outside the support and for invalid
  parameters (the mirror runs SciPy's formulas);
* log-densities: the complex step (tests/refs.py) of hand-written formulas in plain NumPy
  (log-gamma from scipy.special.loggamma, which is analytic in the complex plane), in x,
  loc, scale and the shape parameters;
* cdf-type methods: closed forms from scipy.stats' own density values: dF/dx = f,
  dF/dloc = -f, dF/dscale = -z f, dlogF = dF / F; the lognormal's dF/ds = -phi(u) u / s
  (u = log z / s); the Poisson's dF/dmu = -pmf(k; mu); the binomial's
  dF/dp = -n pmf(k; n - 1, p);
* second derivatives: central differences of the complex-step gradient (h = 1e-5:
  truncation h^2/6 |f''''| and rounding eps |f'| / h are both ~1e-11 relative for these
  well-scaled log-likelihoods: rtol 1e-7), or the closed forms above differentiated;
* two clients: maximum likelihood of a Student t model by trust-exact with the exact
  gradient and Hessian, against SciPy's own fit and the stationarity of SciPy's
  log-likelihood (central differences).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import scipy.optimize as so
import scipy.special as sc
import scipy.stats as st
from carriers import check_hessians, check_modes
from refs import cd_jacobian, cs_cd_hessian, cs_jacobian

import dualdiff as dd
import dualdiff.scipy
import dualdiff.scipy.stats as ds

check = functools.partial(check_modes, rtol=1e-12, atol=1e-13)
check_hessian = functools.partial(check_hessians, rtol=1e-07, atol=1e-09)

LOG2PI = math.log(2 * math.pi)


lg = sc.loggamma


def _abs(z):  # |z| for the complex step (away from 0)
    return np.where(np.real(z) > 0, z, -z)


# name, shape values, loc, scale, points inside the support, log-density of z = (x-loc)/scale
CONTINUOUS = {
    "norm": ((), 0.3, 1.7, [-1.1, 0.4, 2.5], lambda z: -z * z / 2 - LOG2PI / 2),
    "t": ((3.5,), -0.2, 0.8, [-1.3, 0.1, 2.2],
          lambda z, d: lg((d + 1) / 2) - lg(d / 2) - 0.5 * np.log(d * np.pi)
          - (d + 1) / 2 * np.log(1 + z * z / d)),
    "gamma": ((2.5,), 0.1, 1.5, [0.4, 1.7, 5.0], lambda z, a: (a - 1) * np.log(z) - z - lg(a)),
    "beta": ((2.5, 1.7), -0.5, 3.0, [-0.2, 0.9, 2.3],
             lambda z, a, b: (a - 1) * np.log(z) + (b - 1) * np.log(1 - z)
             - (lg(a) + lg(b) - lg(a + b))),
    "expon": ((), -0.5, 2.0, [-0.1, 0.8, 4.0], lambda z: -z),
    "laplace": ((), 0.2, 1.3, [-2.0, -0.4, 1.1], lambda z: -_abs(z) - np.log(2)),
    "cauchy": ((), 0.5, 0.7, [-3.0, 0.2, 1.9], lambda z: -np.log(np.pi * (1 + z * z))),
    "lognorm": ((0.6,), 0.0, 2.0, [0.5, 1.9, 4.2],
                lambda z, s: -np.log(z) ** 2 / (2 * s * s) - np.log(s * z * np.sqrt(2 * np.pi))),
    "chi2": ((3.0,), 0.2, 1.1, [0.5, 1.8, 6.0],
             lambda z, d: (d / 2 - 1) * np.log(z) - z / 2 - lg(d / 2) - d / 2 * np.log(2)),
}
REFUSED_CDF_SHAPES = {"t": "df", "gamma": "a", "beta": "a", "chi2": "df"}


def layout(name):
    shapes, loc, scale, x, logpdf = CONTINUOUS[name]
    x = np.array(x)
    theta = np.concatenate([x, shapes, [loc, scale]])
    n, k = x.size, len(shapes)

    def parts(t):
        return t[:n], tuple(t[n:n + k]), t[n + k], t[n + k + 1]

    def ref_logpdf(t):
        xx, sh, lo, sca = parts(t)
        return logpdf((xx - lo) / sca, *sh) - np.log(sca)

    return theta, parts, ref_logpdf


# -- falling through, values ---------------------------------------------------------------

@pytest.mark.parametrize("name", list(CONTINUOUS) + ["poisson", "binom"])
def test_values_are_scipys_bit_for_bit(name):
    dist, ours = getattr(st, name), getattr(ds, name)
    if name in CONTINUOUS:
        shapes, loc, scale = CONTINUOUS[name][:3]
        x = np.array([-3.0, -0.5, 0.0, 0.3, 0.999, 1.0, 2.0, 40.0, np.inf, -np.inf, np.nan])
        methods = ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")
        kw = {"loc": loc, "scale": scale}
        bad = {"scale": -1.0}
    else:
        shapes = (3.5,) if name == "poisson" else (7, 0.3)
        x = np.array([-1.0, 0.0, 2.0, 2.5, 7.0, 9.0, np.inf, np.nan])
        methods = ("logpmf", "pmf", "cdf", "logcdf", "sf", "logsf")
        kw, bad = {"loc": 0.0}, None
    for m in methods:
        theirs = getattr(dist, m)(x, *shapes, **kw)
        assert np.array_equal(getattr(ours, m)(x, *shapes, **kw), theirs, equal_nan=True)
        carrier = dd.Dual(x, np.eye(x.size)) if name in CONTINUOUS else \
            dd.Dual(np.float64(shapes[-1]), 1.0)
        args = (carrier, *shapes, ) if name in CONTINUOUS else (x, *shapes[:-1], carrier)
        got = getattr(ours, m)(*args, **kw).value
        assert np.array_equal(got, theirs, equal_nan=True), m
        if bad:  # invalid parameters: nan where SciPy puts its bad value
            theirs = getattr(dist, m)(x, *shapes, **dict(kw, **bad))
            got = getattr(ours, m)(carrier, *shapes, **dict(kw, **bad)).value
            assert np.array_equal(got, theirs, equal_nan=True), m


def test_scalars_frozen_and_keywords_as_in_scipy():
    x = dd.Dual(0.7, 1.0)
    assert ds.t.logpdf(x, df=3.0, scale=2.0).value == st.t.logpdf(0.7, 3.0, scale=2.0)
    assert ds.t(3.0, scale=2.0).logpdf(x).value == st.t(3.0, scale=2.0).logpdf(0.7)
    assert ds.t(3.0).mean() == st.t(3.0).mean() and ds.norm.ppf(0.3) == st.norm.ppf(0.3)
    assert ds.norm.logpdf(0.7) == st.norm.logpdf(0.7)
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'df'"):
        ds.t.logpdf(x)
    with pytest.raises(TypeError, match="unexpected keyword argument 'shape'"):
        ds.gamma.pdf(x, 2.0, shape=1.0)


# -- derivatives of the densities ----------------------------------------------------------------

@pytest.mark.parametrize("name", list(CONTINUOUS))
def test_logpdf_and_pdf_in_x_and_every_parameter(name):
    theta, parts, ref_logpdf = layout(name)
    ours = getattr(ds, name)

    def logpdf(t):
        xx, sh, lo, sca = parts(t)
        return ours.logpdf(xx, *sh, loc=lo, scale=sca)

    def pdf(t):
        xx, sh, lo, sca = parts(t)
        return ours.pdf(xx, *sh, loc=lo, scale=sca)

    check(logpdf, theta, cs_jacobian(ref_logpdf, theta))
    check(pdf, theta, cs_jacobian(lambda t: np.exp(ref_logpdf(t)), theta))
    check_hessian(lambda t: np.sum(logpdf(t)), theta,
                  cs_cd_hessian(lambda t: np.sum(ref_logpdf(t)), theta))
    # element-wise in x, every output reads the (scalar) parameters
    pattern = dd.jacobian_sparsity(logpdf, theta).toarray()
    n = len(CONTINUOUS[name][3])
    assert np.array_equal(pattern[:, :n], np.eye(n, dtype=bool)) and pattern[:, n:].all()


@pytest.mark.parametrize("name", list(CONTINUOUS))
def test_cdf_type_methods_in_x_loc_and_scale(name):
    shapes, loc, scale, x, _ = CONTINUOUS[name]
    x = np.array(x)
    dist, ours = getattr(st, name), getattr(ds, name)
    z = (x - loc) / scale
    f = dist.pdf(x, *shapes, loc=loc, scale=scale)
    cdf, sf = dist.cdf(x, *shapes, loc=loc, scale=scale), dist.sf(x, *shapes, loc=loc,
                                                                  scale=scale)
    dcdf = np.concatenate([np.diag(f), -f[:, None], (-z * f)[:, None]], axis=1)
    refs = {"cdf": dcdf, "sf": -dcdf, "logcdf": dcdf / cdf[:, None],
            "logsf": -dcdf / sf[:, None]}
    theta = np.concatenate([x, [loc, scale]])
    for m, ref in refs.items():
        g = lambda t, m=m: getattr(ours, m)(t[:3], *shapes, loc=t[3], scale=t[4])
        check(g, theta, ref, rtol=1e-13, atol=1e-15)
    # second order in x: d2F/dx2 = f'(x) = f dlogf/dx
    _, parts, ref_logpdf = layout(name)
    full = np.concatenate([x, shapes, [loc, scale]])
    dlog = np.diagonal(cs_jacobian(lambda xx: ref_logpdf(np.concatenate([xx, full[3:]])), x))
    check_hessian(lambda xx: np.sum(ours.cdf(xx, *shapes, loc=loc, scale=scale)), x,
                  np.diag(f * dlog), rtol=1e-12, atol=1e-14)
    if name in REFUSED_CDF_SHAPES:
        arg = REFUSED_CDF_SHAPES[name]
        for m in ("cdf", "logcdf", "sf", "logsf"):
            with pytest.raises(TypeError, match=f"{name}.{m}: no derivative in the shape "
                                                f"parameter '{arg}'"):
                dd.derivative(lambda s, m=m: getattr(ours, m)(x, s, *shapes[1:]), shapes[0])


def test_lognormal_cdf_in_its_shape():
    x, s = np.array([0.5, 1.3, 4.0]), 0.6
    u = np.log(x) / s
    phi = np.exp(-u * u / 2) / np.sqrt(2 * np.pi)
    for m, sign in (("cdf", -1.0), ("sf", 1.0)):
        np.testing.assert_allclose(dd.derivative(lambda t, m=m: getattr(ds.lognorm, m)(x, t), s),
                                   sign * phi * u / s, rtol=1e-14)


# -- discrete ----------------------------------------------------------------------------------

def test_poisson_in_mu():
    k = np.array([0.0, 1.0, 3.0, 7.0])
    mu = 2.6
    check(lambda m: ds.poisson.logpmf(k, m), mu, cs_jacobian(
        lambda m: k * np.log(m) - m - lg(k + 1), mu))
    pmf = st.poisson.pmf(k, mu)
    check(lambda m: ds.poisson.pmf(k, m), mu, pmf * (k / mu - 1))
    # F(k; mu) = Q(k + 1, mu): dF/dmu = -pmf(k; mu)
    check(lambda m: ds.poisson.cdf(k, m), mu, -pmf, rtol=1e-13)
    check(lambda m: ds.poisson.sf(k, m), mu, pmf, rtol=1e-13)
    check(lambda m: ds.poisson.logcdf(k, m), mu, -pmf / st.poisson.cdf(k, mu), rtol=1e-13)
    check_hessian(lambda m: np.sum(ds.poisson.logpmf(k, m[0])), np.array([mu]),
                  np.array([[-np.sum(k) / mu**2]]), rtol=1e-14, atol=0)
    with pytest.raises(TypeError, match="k counts outcomes"):
        dd.derivative(lambda kk: ds.poisson.pmf(kk, mu), 2.0)


def test_binomial_in_p():
    n, p = 9, 0.35
    k = np.array([0.0, 2.0, 5.0, 9.0])
    check(lambda q: ds.binom.logpmf(k, n, q), p, cs_jacobian(
        lambda q: k * np.log(q) + (n - k) * np.log(1 - q), p))

    def pmf(kk, nn, q):  # by hand
        return np.array([math.comb(nn, int(j)) * q**j * (1 - q)**(nn - j) if 0 <= j <= nn
                         else 0.0 for j in kk])

    # d pmf / dp = n (pmf(k-1; n-1) - pmf(k; n-1)); dF/dp = -n pmf(k; n-1)
    check(lambda q: ds.binom.pmf(k, n, q), p, n * (pmf(k - 1, n - 1, p) - pmf(k, n - 1, p)),
          rtol=1e-13, atol=1e-15)
    check(lambda q: ds.binom.cdf(k, n, q), p, -n * pmf(k, n - 1, p), rtol=1e-13, atol=1e-15)
    check(lambda q: ds.binom.sf(k, n, q), p, n * pmf(k, n - 1, p), rtol=1e-13, atol=1e-15)
    # second derivative of the pmf: n (n-1) (pmf(k-2; n-2) - 2 pmf(k-1; n-2) + pmf(k; n-2))
    d2 = n * (n - 1) * (pmf(k - 2, n - 2, p) - 2 * pmf(k - 1, n - 2, p) + pmf(k, n - 2, p))
    check_hessian(lambda q: np.sum(ds.binom.pmf(k, n, q[0])), np.array([p]),
                  np.array([[np.sum(d2)]]), rtol=1e-12, atol=1e-14)
    with pytest.raises(TypeError, match="no derivative in the shape parameter 'n'"):
        dd.derivative(lambda nn: ds.binom.pmf(k, nn, p), 9.0)


# -- multivariate ------------------------------------------------------------------------------

def _spd(t, d):
    low = np.zeros((d, d), dtype=t.dtype, like=t)
    low[np.tril_indices(d)] = t
    return low @ low.T + d * np.eye(d)


def test_multivariate_normal_in_x_mean_and_cov():
    d = 3
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(4, d))
    theta = np.concatenate([rng.normal(size=d), 0.5 * rng.normal(size=d * (d + 1) // 2)])

    def ours(t):
        return ds.multivariate_normal.logpdf(xs, t[:d], _spd(t[d:], d))

    def ref(t):
        cov, dev = _spd(t[d:], d), xs - t[:d]
        maha = np.sum(dev * np.linalg.solve(cov, dev.T).T, axis=1)
        return -0.5 * (d * LOG2PI + np.log(np.linalg.det(cov)) + maha)

    np.testing.assert_allclose(dd.vjp(ours, theta)[0],
                               st.multivariate_normal.logpdf(xs, theta[:d], _spd(theta[d:], d)),
                               rtol=1e-14)
    check(ours, theta, cs_jacobian(ref, theta))
    check_hessian(lambda t: np.sum(ours(t)), theta, cs_cd_hessian(lambda t: np.sum(ref(t)), theta))
    # in x (one point: a scalar, as SciPy), the frozen form and pdf
    cov = _spd(theta[d:], d)
    frozen = ds.multivariate_normal(theta[:d], cov)
    check(frozen.logpdf, xs[0], -np.linalg.solve(cov, xs[0] - theta[:d]))
    check(lambda x: ds.multivariate_normal.pdf(x, theta[:d], cov), xs[0],
          -st.multivariate_normal.pdf(xs[0], theta[:d], cov) * np.linalg.solve(cov, xs[0] -
                                                                                 theta[:d]))
    # scalar and diagonal covariances, a default mean, as SciPy reads them
    for m, c in ((np.zeros(d), 2.0), (np.zeros(d), np.array([1.0, 2.0, 3.0])), (None, 2.5)):
        x = xs if m is not None else xs[:, 0]
        got = ds.multivariate_normal.logpdf(dd.Dual(x, np.ones((1,) + x.shape)), m, c)
        np.testing.assert_allclose(got.value, st.multivariate_normal.logpdf(x, m, c),
                                   rtol=1e-14)


def test_dirichlet_in_x_and_alpha():
    alpha = np.array([1.5, 2.0, 0.7])
    x = np.array([[0.2, 0.3], [0.5, 0.1], [0.3, 0.6]])  # components along the first axis
    np.testing.assert_allclose(ds.dirichlet.logpdf(x, dd.Dual(alpha, np.eye(3))).value,
                               st.dirichlet.logpdf(x, alpha), rtol=1e-15)

    def ref(a):
        return np.sum((a[:, None] - 1) * np.log(x), axis=0) - (np.sum(lg(a)) - lg(np.sum(a)))

    check(lambda a: ds.dirichlet.logpdf(x, a), alpha, cs_jacobian(ref, alpha))
    # Hessian in alpha: -(diag psi'(alpha) - psi'(sum alpha)), the same for every x
    h = -(np.diag(sc.polygamma(1, alpha)) - sc.polygamma(1, np.sum(alpha)))
    check_hessian(lambda a: ds.dirichlet.logpdf(x[:, 0], a), alpha, h, rtol=1e-13, atol=1e-14)
    # in x given with one component fewer: the last is 1 - sum
    xk = x[:2, 0]
    g = (alpha[:2] - 1) / xk - (alpha[2] - 1) / (1 - np.sum(xk))
    check(lambda v: ds.dirichlet.logpdf(v, alpha), xk, g)
    with pytest.raises(ValueError, match="simplex"):
        ds.dirichlet.logpdf(dd.Dual(np.array([0.2, 0.3, 0.3]), np.eye(3)), alpha)


# -- a plain SciPy call on a carrier ------------------------------------------------------------

def test_scipy_stats_on_a_carrier_names_the_twin():
    x = dd.Dual(np.array([0.1, 0.5]), np.eye(2))
    with pytest.raises(TypeError, match=r"scipy\.stats\.t\.logpdf cannot take a dualdiff "
                                        r"array: call dualdiff\.scipy\.stats\.t\.logpdf"):
        st.t.logpdf(x, 3.0)
    with pytest.raises(TypeError, match=r"dualdiff\.scipy\.stats\.norm\(\.\.\.\)\.cdf"):
        st.norm(0.0, 2.0).cdf(x)
    with pytest.raises(TypeError, match=r"dualdiff\.scipy\.stats\.multivariate_normal\.logpdf"):
        st.multivariate_normal.logpdf(x, np.zeros(2))
    with pytest.raises(TypeError, match=r"call dualdiff\.scipy\.stats\.norm\.logpdf"):
        st.norm.logpdf(np.ones(2), loc=dd.Dual(0.0, 1.0))  # a scalar carrier too
    with pytest.raises(TypeError) as err:  # no twin for ppf: no hint rather than a wrong one
        st.norm.ppf(x)
    assert "dualdiff.scipy" not in str(err.value)
    assert set(dualdiff.scipy.MIRRORS["scipy.stats"]) == set(ds.__all__)


# -- client: maximum likelihood of a Student t model ------------------------------------------

def test_student_t_maximum_likelihood_by_trust_exact():
    rng = np.random.default_rng(42)
    data = 1.5 + 0.8 * rng.standard_t(4.0, size=400)

    def nll(theta):  # theta = (loc, log scale, log df)
        loc, log_scale, log_df = theta[0], theta[1], theta[2]
        return -np.sum(ds.t.logpdf(data, np.exp(log_df), loc=loc, scale=np.exp(log_scale)))

    def fun(theta):
        return float(dd.vjp(nll, theta)[0])

    x0 = np.array([np.median(data), 0.0, np.log(10.0)])
    res = so.minimize(fun, x0, method="trust-exact", jac=lambda t: dd.gradient(nll, t),
                      hess=lambda t: dd.hessian(nll, t), options={"gtol": 1e-6})
    assert res.success and res.nit < 15  # Newton steps: quadratic convergence

    # the known optimum, found without derivatives on SciPy's own log-likelihood
    # (Nelder-Mead to xatol 1e-9; scipy.stats.t.fit stops earlier, at its default tolerances)
    def scipy_nll(theta):
        return -np.sum(st.t.logpdf(data, np.exp(theta[2]), loc=theta[0], scale=np.exp(theta[1])))

    ref = so.minimize(scipy_nll, x0, method="Nelder-Mead",
                      options={"xatol": 1e-9, "fatol": 1e-12, "maxfev": 5000})
    np.testing.assert_allclose(res.x, ref.x, rtol=0, atol=1e-7)
    assert res.fun <= scipy_nll(ref.x) * (1 + 1e-14)  # no worse, to the rounding of a sum
    # the central-difference gradient of SciPy's likelihood vanishes there (h = 1e-5:
    # truncation ~1e-10 |f3|, rounding ~1e-11 |f| / h ~ 1e-8)
    assert np.max(np.abs(cd_jacobian(scipy_nll, res.x, h=1e-5))) < 1e-5
    assert np.all(np.linalg.eigvalsh(dd.hessian(nll, res.x)) > 0)


@pytest.mark.parametrize("name", list(CONTINUOUS))
def test_discarded_elements_leave_no_nan_in_any_mode(name):
    # elements outside the support or nan get SciPy's constants, with zero derivative;
    # a reverse sweep multiplies their zero adjoints by the partials computed there, so
    # those partials must be finite (the arguments are moved to valid points first)
    shapes, loc, scale, _, _ = CONTINUOUS[name]
    # (not x = inf: SciPy keeps it where the support is closed there, with an infinite
    # partial, and a reverse sweep gives 0 * inf = nan in the other rows, as for np.sqrt)
    x = np.array([-50.0, 0.5, np.nan, 1.5, 1e6])
    theta = np.array([*shapes, loc, scale])
    k = len(shapes)
    for m in ("logpdf", "cdf", "logsf"):
        if m != "logpdf" and name in REFUSED_CDF_SHAPES:  # shapes as constants there
            f = lambda t, m=m: getattr(getattr(ds, name), m)(x, *shapes, loc=t[k],
                                                             scale=t[k + 1])
        else:
            f = lambda t, m=m: getattr(getattr(ds, name), m)(x, *t[:k], loc=t[k],
                                                             scale=t[k + 1])
        fwd = dd.jacobian(f, theta, mode="forward")
        rev = dd.jacobian(f, theta, mode="reverse")
        np.testing.assert_allclose(rev, fwd, rtol=1e-14, atol=1e-300)  # no nan anywhere
        assert np.all(np.isfinite(fwd)), (m, fwd)
        assert not np.any(fwd[2])  # the nan element is a constant (nan)

"""dualdiff.scipy.integrate, .signal and .interpolate against references that share no code
with dualdiff, and a Gaussian-process client of dualdiff.scipy.linalg.

* values: SciPy's own, bit for bit (the mirrors run SciPy's algorithms);
* quadrature: the complex step (tests/refs.py) of the rules written out by hand
  (trapezoids; Simpson's rule for uneven spacing with Cartwright's last interval);
* convolutions: the complex step of a direct N-D convolution written as a loop, cropped
  to the mode by hand;
* splines: SciPy itself on what the derivative must be: a spline is linear in its data,
  so d S / d y_i is SciPy's spline of the unit vector e_i, and d S / d x is SciPy's
  derivative ``S(x, nu=1)``; knots by central differences (h = 1e-6: truncation
  h^2/6 |S'''| ~ 1e-12, rounding eps |S| / h ~ 1e-10: rtol 1e-6);
* second derivatives: central differences of an exact first derivative (h = 1e-5; a
  bilinear map's gradient is linear, so only rounding remains: rtol 1e-8);
* the Gaussian process: the hand-derived gradient of the marginal likelihood,
  0.5 tr(K^-1 dK) - 0.5 a^T dK a with a = K^-1 y, and the optimum it leads to.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import scipy.integrate as si
import scipy.interpolate as sip
import scipy.optimize as so
import scipy.signal as ss
from carriers import HESSIANS, check_hessians, check_modes
from refs import cd_jacobian, cs_jacobian, rnd

import dualdiff as dd
import dualdiff.scipy
import dualdiff.scipy.integrate as di
import dualdiff.scipy.interpolate as dip
import dualdiff.scipy.linalg as dl
import dualdiff.scipy.signal as dsig

check = functools.partial(check_modes, rtol=1e-13, atol=1e-14)
check_hessian = functools.partial(check_hessians, rtol=1e-08, atol=1e-10)



def value(f, x):
    return dd.vjp(f, x)[0]


# -- integrate ------------------------------------------------------------------------------

def trap_ref(y, x):
    return np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2)


def simpson_ref(y, x):
    """Composite Simpson for uneven spacing; an even count closes with Cartwright's last
    interval (alpha, beta, eta)."""
    n = len(y)
    h = np.diff(x)
    m = n if n % 2 else n - 1
    total = 0.0
    for i in range(0, m - 2, 2):
        h0, h1 = h[i], h[i + 1]
        total = total + (h0 + h1) / 6 * ((2 - h1 / h0) * y[i] + (h0 + h1) ** 2 / (h0 * h1)
                                         * y[i + 1] + (2 - h0 / h1) * y[i + 2])
    if n % 2 == 0:
        h0, h1 = h[-2], h[-1]
        total = total + ((2 * h1**2 + 3 * h0 * h1) / (6 * (h0 + h1)) * y[-1]
                         + (h1**2 + 3 * h0 * h1) / (6 * h0) * y[-2]
                         - h1**3 / (6 * h0 * (h0 + h1)) * y[-3])
    return total


@pytest.mark.parametrize("n", [5, 6, 3, 4])
def test_quadrature_in_samples_and_points(n):
    x = np.cumsum(np.abs(rnd(n, seed=1)) + 0.2)
    y = rnd(n, seed=2)
    z = np.concatenate([y, x])
    for ours, theirs, ref in ((di.trapezoid, si.trapezoid, trap_ref),
                              (di.simpson, si.simpson, simpson_ref)):
        f = lambda v, ours=ours: ours(v[:n], x=v[n:])
        assert value(f, z) == theirs(y, x=x)
        jac = cs_jacobian(lambda v, ref=ref: ref(v[:n], v[n:]), z)
        check(f, z, jac)
        check_hessian(f, z, cd_jacobian(lambda v, ref=ref: cs_jacobian(
            lambda w: ref(w[:n], w[n:]), v), z, h=1e-5), rtol=1e-7, atol=1e-9)
    cum = lambda v: di.cumulative_trapezoid(v[:n], x=v[n:], initial=0)
    np.testing.assert_array_equal(value(cum, z), si.cumulative_trapezoid(y, x=x, initial=0))
    check(cum, z, cs_jacobian(lambda v: np.concatenate(
        [[0.0], np.cumsum(np.diff(v[n:]) * (v[1:n] + v[:n - 1]) / 2)]), z))
    pattern = dd.jacobian_sparsity(lambda v: di.cumulative_trapezoid(v), y).toarray()
    np.testing.assert_array_equal(pattern, np.tril(np.ones((n - 1, n), bool), 1))


def test_quadrature_with_dx_axis_and_2d_points():
    y = rnd(3, 5, seed=3)
    x2 = np.cumsum(np.abs(rnd(3, 5, seed=4)) + 0.1, axis=1)
    for ours, theirs in ((di.trapezoid, si.trapezoid), (di.simpson, si.simpson),
                         (di.cumulative_trapezoid, si.cumulative_trapezoid)):
        for kw in ({"dx": 0.3}, {"x": x2}, {"x": x2[0]}, {"axis": 0, "dx": 2.0}):
            np.testing.assert_array_equal(value(lambda v, kw=kw: ours(v, **kw), y),
                                          theirs(y, **kw))
            jac = dd.jacobian(lambda v, kw=kw: ours(v, **kw), y)
            # linear in y: the Jacobian applied to y is the value itself
            np.testing.assert_allclose(np.tensordot(jac, y, axes=2), theirs(y, **kw),
                                       rtol=1e-14, atol=1e-15)
    assert float(dd.derivative(lambda h: di.simpson(y[0], dx=h), 0.5)) == si.simpson(y[0])


# -- signal ---------------------------------------------------------------------------------

def conv_ref(a, b, mode, flip=False):
    """Direct N-D convolution by a loop, cropped (centred) to the mode by hand."""
    if flip:
        b = np.flip(b)
    full = np.zeros(tuple(np.add(a.shape, b.shape) - 1), dtype=np.result_type(a, b))
    for idx in np.ndindex(*a.shape):
        full[tuple(slice(i, i + s) for i, s in zip(idx, b.shape))] += a[idx] * b
    if mode == "full":
        return full
    out = a.shape if mode == "same" else tuple(abs(p - q) + 1 for p, q in zip(a.shape, b.shape))
    start = [(f - o) // 2 for f, o in zip(full.shape, out)]
    return full[tuple(slice(s, s + o) for s, o in zip(start, out))]


CONVS = [(dsig.convolve, ss.convolve, {"method": "direct"}, False),
         (dsig.convolve, ss.convolve, {"method": "fft"}, False),
         (dsig.correlate, ss.correlate, {"method": "auto"}, True),
         (dsig.fftconvolve, ss.fftconvolve, {}, False)]


@pytest.mark.parametrize("sa, sb", [((7,), (3,)), ((6,), (4,)), ((3,), (6,)), ((3, 4), (2, 2))])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolutions_in_both_arguments(sa, sb, mode):
    a, b = rnd(*sa, seed=5), rnd(*sb, seed=6)
    z = np.concatenate([a.ravel(), b.ravel()])

    def split(v):
        return v[:a.size].reshape(sa), v[a.size:].reshape(sb)

    for ours, theirs, kw, flip in CONVS:
        f = lambda v, ours=ours, kw=kw: ours(*split(v), mode, **kw)
        np.testing.assert_array_equal(value(f, z), theirs(a, b, mode, **kw))
        jac = cs_jacobian(lambda v, flip=flip: conv_ref(*split(v), mode, flip), z)
        fft = ours is dsig.fftconvolve or kw.get("method") == "fft"
        check(f, z, jac, rtol=1e-12 if fft else 1e-14, atol=1e-13 if fft else 1e-15)
        pattern = dd.jacobian_sparsity(f, z).toarray()
        assert np.array_equal(pattern, jac.reshape(pattern.shape) != 0), ours.__name__
    w = rnd(*np.shape(conv_ref(a, b, mode)), seed=7)
    g = lambda v: np.sum(w * dsig.convolve(*split(v), mode))
    check_hessian(g, z, cd_jacobian(lambda v: cs_jacobian(
        lambda u: np.sum(w * conv_ref(*split(u), mode)), v), z, h=1e-5))


def test_fftconvolve_along_axes_and_a_sparse_kernel():
    a, b = rnd(3, 6, seed=8), rnd(1, 3, seed=9)
    f = lambda v: dsig.fftconvolve(v, b, mode="same", axes=1)
    np.testing.assert_array_equal(value(f, a), ss.fftconvolve(a, b, mode="same", axes=1))
    jac = cs_jacobian(lambda v: np.stack([conv_ref(r, b[0], "same") for r in v]), a)
    check(f, a, jac, rtol=1e-12, atol=1e-13)
    # a kernel with a structural zero: the pattern skips it
    k = np.array([1.0, 0.0, 2.0])
    pattern = dd.jacobian_sparsity(lambda v: dsig.convolve(v, k), a[0]).toarray()
    np.testing.assert_array_equal(pattern, cs_jacobian(lambda v: conv_ref(v, k, "full"),
                                                       a[0]) != 0)


# -- interpolate -----------------------------------------------------------------------------

KNOTS = np.cumsum(np.abs(rnd(8, seed=10)) + 0.3)
POINTS = np.concatenate([np.linspace(KNOTS[0] - 1, KNOTS[-1] + 1, 23), KNOTS])


def basis_columns(build, n):
    """d S(points) / d y: SciPy's spline of every unit vector (the map is linear)."""
    return np.stack([build(e)(POINTS) for e in np.eye(n)], axis=-1)


@pytest.mark.parametrize("bc", ["not-a-knot", "natural", "clamped", ((1, 0.5), (2, -1.0))])
def test_cubic_spline_from_traced_values(bc):
    y = rnd(8, seed=11)
    f = lambda v: dip.CubicSpline(KNOTS, v, bc_type=bc)(POINTS)
    spl = sip.CubicSpline(KNOTS, y, bc_type=bc)
    np.testing.assert_array_equal(value(f, y), spl(POINTS))
    np.testing.assert_array_equal(dip.CubicSpline(KNOTS, dd.Dual(y, np.eye(8)), bc_type=bc)
                                  .c.value, spl.c)
    homogeneous = bc if isinstance(bc, str) else ((1, 0.0), (2, 0.0))
    check(f, y, basis_columns(lambda e: sip.CubicSpline(KNOTS, e, bc_type=homogeneous), 8),
          rtol=1e-12, atol=1e-12)
    # the boundary values are differentiable too: S depends on them affinely
    if not isinstance(bc, str):
        g = lambda d: dip.CubicSpline(KNOTS, y, bc_type=((1, d[0]), (2, d[1])))(POINTS)
        ref = np.stack([sip.CubicSpline(KNOTS, np.zeros(8), bc_type=((1, e[0]), (2, e[1])))(
            POINTS) for e in np.eye(2)], axis=-1)
        check(g, np.array([0.5, -1.0]), ref, rtol=1e-12, atol=1e-12)


def test_periodic_cubic_spline_and_small_counts():
    y = rnd(8, seed=12)
    y[-1] = y[0]
    spl = sip.CubicSpline(KNOTS, y, bc_type="periodic")
    ours = lambda v: dip.CubicSpline(KNOTS, v, bc_type="periodic")(POINTS)
    np.testing.assert_array_equal(value(ours, y), spl(POINTS))
    # directions keeping y periodic: e_i inside, e_0 + e_7 at the ends
    dirs = [np.eye(8)[i] for i in range(1, 7)] + [np.eye(8)[0] + np.eye(8)[7]]
    for d in dirs:
        _, t = dd.jvp(ours, y, d)
        np.testing.assert_allclose(t, sip.CubicSpline(KNOTS, d, bc_type="periodic")(POINTS),
                                   rtol=1e-12, atol=1e-12)
    for n in (2, 3, 4):
        for bc in ("not-a-knot", "natural"):
            v = rnd(n, seed=n)
            ref = sip.CubicSpline(KNOTS[:n], v, bc_type=bc)
            got = dip.CubicSpline(KNOTS[:n], dd.Dual(v, np.eye(n)), bc_type=bc)
            np.testing.assert_array_equal(got.c.value, ref.c)


def test_splines_at_traced_points():
    y = rnd(8, seed=13)
    spl = sip.CubicSpline(KNOTS, y)
    ours = dip.CubicSpline(KNOTS, y)
    for nu in (0, 1, 2):
        f = lambda p, nu=nu: ours(p, nu)
        np.testing.assert_array_equal(value(f, POINTS), spl(POINTS, nu))
        check(f, POINTS, np.diag(spl(POINTS, nu + 1)), rtol=1e-14, atol=1e-14)
    check_hessian(lambda p: np.sum(ours(p)), POINTS, np.diag(spl(POINTS, 2)), rtol=1e-14,
                  atol=1e-13)
    np.testing.assert_array_equal(dd.jacobian_sparsity(ours, POINTS).toarray(),
                                  np.eye(POINTS.size, dtype=bool))
    # no extrapolation: nan outside, as SciPy; periodic extrapolation wraps
    f = lambda p: ours(p, extrapolate=False)
    np.testing.assert_array_equal(value(f, POINTS), spl(POINTS, extrapolate=False))
    per = sip.CubicSpline(KNOTS, np.r_[y[:-1], y[0]], bc_type="periodic")
    g = lambda p: dip.CubicSpline(KNOTS, np.r_[y[:-1], y[0]], bc_type="periodic")(p)
    np.testing.assert_array_equal(value(g, POINTS), per(POINTS))
    check(g, POINTS, np.diag(per(POINTS, 1)), rtol=1e-13, atol=1e-13)
    # a prepared plan re-records where a point changes interval
    plan = dd.jacobian_plan(ours, POINTS)
    moved = POINTS + 0.7
    np.testing.assert_allclose(plan(moved).toarray(), np.diag(spl(moved, 1)), rtol=1e-14,
                               atol=1e-14)


def test_ppoly_in_its_breakpoints_and_the_spline_in_its_knots():
    y = rnd(8, seed=14)
    spl = sip.CubicSpline(KNOTS, y)
    pts = POINTS[(POINTS > KNOTS[0]) & (POINTS < KNOTS[-1]) & ~np.isin(POINTS, KNOTS)]
    # moving breakpoint i shifts its piece: d/dx_i S(p) = -S'(p) on piece i
    f = lambda b: dip.PPoly(spl.c, b)(pts)
    piece = np.searchsorted(KNOTS, pts, side="right") - 1
    ref = np.zeros((pts.size, KNOTS.size))
    ref[np.arange(pts.size), piece] = -spl(pts, 1)
    check(f, KNOTS, ref, rtol=1e-14, atol=1e-14)
    # the whole construction in the knots, against central differences of SciPy's
    g = lambda k: dip.CubicSpline(k, y)(pts)
    check(g, KNOTS, cd_jacobian(lambda k: sip.CubicSpline(k, y)(pts), KNOTS, h=1e-6),
          rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("k, bc", [(1, None), (2, None), (3, None), (5, None), (3, "natural"),
                                   (3, "clamped")])
def test_make_interp_spline_from_traced_values(k, bc):
    y = rnd(8, seed=15)
    f = lambda v: dip.make_interp_spline(KNOTS, v, k=k, bc_type=bc)(POINTS)
    spl = sip.make_interp_spline(KNOTS, y, k=k, bc_type=bc)
    np.testing.assert_array_equal(value(f, y), spl(POINTS))
    check(f, y, basis_columns(lambda e: sip.make_interp_spline(KNOTS, e, k=k, bc_type=bc), 8),
          rtol=1e-12, atol=1e-12)
    b = dip.make_interp_spline(KNOTS, y, k=k, bc_type=bc)  # plain data, traced points
    for nu in range(min(k, 2) + 1):
        check(lambda p, nu=nu: b(p, nu), POINTS, np.diag(spl(POINTS, nu + 1)), rtol=1e-13,
              atol=1e-12)


def test_bspline_in_coefficients_and_boundary_derivatives():
    spl = sip.make_interp_spline(KNOTS, rnd(8, seed=16))
    c = spl.c
    f = lambda v: dip.BSpline(spl.t, v, 3)(POINTS)
    np.testing.assert_array_equal(value(f, c), spl(POINTS))
    check(f, c, sip.BSpline.design_matrix(POINTS, spl.t, 3, extrapolate=True).toarray(),
          rtol=1e-14, atol=1e-15)
    y = rnd(8, seed=17)
    g = lambda d: dip.make_interp_spline(KNOTS, y, bc_type=([(1, d[0])], [(2, d[1])]))(POINTS)
    ref = np.stack([sip.make_interp_spline(KNOTS, np.zeros(8), bc_type=([(1, e[0])],
                                                                        [(2, e[1])]))(POINTS)
                    for e in np.eye(2)], axis=-1)
    check(g, np.array([0.3, -0.2]), ref, rtol=1e-12, atol=1e-12)


def test_plain_scipy_splines_on_carriers_name_the_twins():
    with pytest.raises(TypeError, match=r"build it with dualdiff\.scipy\.interpolate\.CubicSpline"):
        sip.CubicSpline(KNOTS, dd.Dual(rnd(8), np.eye(8)))
    spl = sip.make_interp_spline(KNOTS, rnd(8))
    with pytest.raises(TypeError, match=r"dualdiff\.scipy\.interpolate\.BSpline"):
        spl(dd.Dual(POINTS[:3], np.eye(3)))
    with pytest.raises(TypeError, match=r"call dualdiff\.scipy\.signal\.convolve"):
        ss.convolve(dd.Dual(rnd(3), np.eye(3)), np.ones(2))
    with pytest.raises(TypeError, match=r"call dualdiff\.scipy\.integrate\.simpson"):
        si.simpson(dd.Dual(rnd(3), np.eye(3)))
    for mod, twin in (("scipy.integrate", di), ("scipy.signal", dsig),
                      ("scipy.interpolate", dip)):
        assert set(dualdiff.scipy.MIRRORS[mod]) == set(twin.__all__)


# -- client: a Gaussian process marginal likelihood ----------------------------------------------

def gp_data():
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(0, 6, 25))
    return x, np.sin(x) + 0.1 * rng.normal(size=x.size)


def gp_nll(theta, x, y):
    """Negative log marginal likelihood, theta = log(amplitude, lengthscale, noise)."""
    amp, ell, noise = np.exp(2 * theta[0]), np.exp(theta[1]), np.exp(2 * theta[2])
    d = x[:, None] - x[None, :]
    k = amp * np.exp(-0.5 * d * d / ell**2) + noise * np.eye(x.size)
    c, low = dl.cho_factor(k, lower=True)
    alpha = dl.cho_solve((c, low), y)
    return 0.5 * y @ alpha + np.sum(np.log(np.diagonal(c))) + 0.5 * x.size * np.log(2 * np.pi)


def gp_grad_ref(theta, x, y):
    """0.5 tr(K^-1 dK) - 0.5 a^T dK a, a = K^-1 y, by hand."""
    amp, ell, noise = np.exp(2 * theta[0]), np.exp(theta[1]), np.exp(2 * theta[2])
    d = x[:, None] - x[None, :]
    kf = amp * np.exp(-0.5 * d * d / ell**2)
    k = kf + noise * np.eye(x.size)
    kinv = np.linalg.inv(k)
    a = kinv @ y
    dks = (2 * kf, kf * d * d / ell**2, 2 * noise * np.eye(x.size))
    return np.array([0.5 * np.trace(kinv @ dk) - 0.5 * a @ dk @ a for dk in dks])


def test_gaussian_process_hyperparameters():
    x, y = gp_data()
    theta0 = np.array([0.3, -0.2, -1.0])
    for mode in ("forward", "reverse"):
        np.testing.assert_allclose(dd.gradient(lambda t: gp_nll(t, x, y), theta0, mode=mode),
                                   gp_grad_ref(theta0, x, y), rtol=1e-10, atol=1e-12)
    fun = lambda t: float(dd.vjp(lambda s: gp_nll(s, x, y), t)[0])
    ours = so.minimize(fun, theta0, method="L-BFGS-B",
                       jac=lambda t: dd.gradient(lambda s: gp_nll(s, x, y), t),
                       options={"gtol": 1e-10, "ftol": 1e-15})
    ref = so.minimize(fun, theta0, method="L-BFGS-B", jac=lambda t: gp_grad_ref(t, x, y),
                      options={"gtol": 1e-10, "ftol": 1e-15})
    assert ours.success and ref.success
    np.testing.assert_allclose(ours.x, ref.x, rtol=0, atol=1e-6)
    assert np.max(np.abs(gp_grad_ref(ours.x, x, y))) < 1e-6
    # exact second derivatives through the Cholesky factor: a minimum (positive definite),
    # and the Hessian is the Jacobian of the hand-derived gradient (central differences,
    # h = 1e-5: truncation and rounding both ~1e-10 here)
    for method in HESSIANS:
        h = dd.hessian(lambda t: gp_nll(t, x, y), ours.x, method=method)
        np.testing.assert_allclose(h, cd_jacobian(lambda t: gp_grad_ref(t, x, y), ours.x,
                                                  h=1e-5), rtol=1e-6, atol=1e-7)
        assert np.all(np.linalg.eigvalsh(h) > 0)


def test_nan_and_discarded_points_leave_no_nan_in_the_coefficients():
    y = rnd(8, seed=18)
    pts = np.array([np.nan, KNOTS[2] + 0.1, KNOTS[-1] + 5.0])
    for build in (lambda v: dip.CubicSpline(KNOTS, v),
                  lambda v: dip.make_interp_spline(KNOTS, v)):
        f = lambda v, build=build: build(v)(pts, extrapolate=False)
        assert np.isnan(value(f, y)[[0, 2]]).all()
        fwd, rev = dd.jacobian(f, y, mode="forward"), dd.jacobian(f, y, mode="reverse")
        np.testing.assert_allclose(rev, fwd, rtol=1e-13, atol=1e-15)
        assert np.all(np.isfinite(fwd)) and not fwd[[0, 2]].any()

"""Complex intermediates: real inputs, complex values inside, real or complex outputs.

References, none sharing code with dualdiff.  The complex step does not pass through
non-holomorphic functions (real, imag, conj, abs, angle), so:
* real formulations written by hand in plain NumPy (``|1/(i w a + b)| = 1/sqrt(w^2 a^2 +
  b^2)``, ``(A + iB)(c + id)`` by real blocks, the real block form of a complex solve) are
  analytic in the real inputs: their complex step is exact to rounding;
* hand-derived formulas evaluated with NumPy (d det M = det M tr(M^-1 dM), eigenvalue
  derivatives l^T dA r / l^T r from NumPy's left and right eigenvectors, d|z| =
  Re(conj(z) dz)/|z|, ...);
* eigenvectors: central differences at 40 digits of mpmath's eig, normalised as LAPACK
  normalises (h = 1e-15: truncation h^2 |f'''| ~ 1e-30, rounding 1e-40 / h ~ 1e-25);
* second derivatives: the complex step or central differences of a hand gradient
  (h = 1e-5: truncation h^2/6 |f''''| ~ 1e-11, rounding eps |f'| / h ~ 1e-11; rtol 1e-6).
Complex outputs give complex Jacobians, the same in forward and reverse mode.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import scipy.special as sc
from refs import cd_jacobian, cs_jacobian, rnd

import dualdiff as dd

la = np.linalg
MODES = ({"mode": "forward", "chunk": 1}, {"mode": "forward"}, {"mode": "reverse"},
         {"mode": "auto"})



def check(f, x, ref, rtol=1e-12, atol=1e-13):
    """Every mode gives ref (forward with chunk 1 and default, reverse, auto)."""
    for kw in MODES:
        dd.modes.forget(f)
        np.testing.assert_allclose(dd.jacobian(f, x, **kw), ref, rtol=rtol, atol=atol,
                                   err_msg=str(kw))


def cd_hessian_of(gradient, x):
    """Central differences of a hand gradient (h = 1e-5: truncation h^2/6 |f^(4)| ~ 1e-11,
    rounding eps |f'| / h ~ 1e-11; compare with rtol 1e-6)."""
    return cd_jacobian(gradient, x, h=1e-5)


def check_hessian(f, x, ref, rtol=1e-7, atol=1e-9):
    for method in ("hyperdual", "forward-over-reverse"):
        np.testing.assert_allclose(dd.hessian(f, x, method=method), ref, rtol=rtol, atol=atol,
                                   err_msg=method)


def cs_complex(f_re, f_im, x):
    """Complex Jacobian from the complex steps of hand-written real and imaginary parts."""
    return cs_jacobian(f_re, x) + 1j * cs_jacobian(f_im, x)


# -- the examples -------------------------------------------------------------------

W = np.array([0.1, 0.5, 1.0, 2.0, 7.0])


def transfer(p):
    return 1 / (1j * W * p[0] + p[1])


def test_transfer_function_magnitude():
    p = np.array([0.7, 1.3])
    ref = cs_jacobian(lambda q: 1 / np.sqrt((W * q[0]) ** 2 + q[1] ** 2), p)
    check(lambda q: np.abs(transfer(q)), p, ref)
    # the complex response itself: a complex Jacobian, d H / d(a, b) = -H^2 (i w, 1)
    h = transfer(p)
    check(transfer, p, np.stack([-h * h * 1j * W, -h * h], axis=-1))


def test_transfer_function_hessians():
    # sum |H(jw)|^2 = sum 1 / (w^2 a^2 + b^2): gradient by hand, Hessian by its complex step
    def hand_gradient(q):
        d = (W * q[0]) ** 2 + q[1] ** 2
        return np.stack([np.sum(-2 * W**2 * q[0] / d**2), np.sum(-2 * q[1] / d**2)])

    p = np.array([0.7, 1.3])
    ref = cs_jacobian(hand_gradient, p)
    check_hessian(lambda q: np.sum(np.abs(transfer(q)) ** 2), p, ref, rtol=1e-12, atol=1e-14)
    check_hessian(lambda q: np.sum((transfer(q) * np.conj(transfer(q))).real), p, ref,
                  rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dd.gradient(lambda q: np.sum(np.abs(transfer(q)) ** 2), p),
                               hand_gradient(p), rtol=1e-13)
    # phase: angle H = -arctan(w a / b), Hessian of its sum by the complex step of the hand
    # gradient (d/da = -w b / (w^2 a^2 + b^2), d/db = w a / (...))
    def phase_gradient(q):
        d = (W * q[0]) ** 2 + q[1] ** 2
        return np.stack([np.sum(-W * q[1] / d), np.sum(W * q[0] / d)])

    phase = lambda q: np.sum(np.angle(transfer(q)))  # noqa: E731
    check(phase, p, phase_gradient(p))
    check_hessian(phase, p, cs_jacobian(phase_gradient, p), rtol=1e-12, atol=1e-14)


def test_exp_i_theta_gives_a_complex_jacobian():
    theta = np.array([0.3, 1.1, -2.0])
    ref = np.diag(1j * np.exp(1j * theta))
    check(lambda t: np.exp(1j * t), theta, ref, rtol=1e-15, atol=0)
    # its real and imaginary parts, and a real function of it
    check(lambda t: np.real(np.exp(1j * t)), theta, np.diag(-np.sin(theta)), rtol=1e-15, atol=0)
    check(lambda t: np.exp(1j * t).imag, theta, np.diag(np.cos(theta)), rtol=1e-15, atol=0)
    f = lambda t: np.sum(np.cos(t[0]) * np.exp(1j * t)).real  # noqa: E731
    g = lambda t: np.sum(np.cos(t[0]) * np.cos(t))  # noqa: E731  (the same, real)
    check(f, theta, cs_jacobian(g, theta))

    def hand_gradient(t):  # of cos(t0) sum_i cos(t_i)
        e0 = np.eye(t.size)[0]
        return -np.sin(t[0]) * np.sum(np.cos(t)) * e0 - np.cos(t[0]) * np.sin(t)

    check_hessian(f, theta, cs_jacobian(hand_gradient, theta), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("what", ["gradient", "hessian", "hvp"])
def test_complex_scalar_output_is_refused_by_gradient_and_hessian(what):
    f = lambda t: np.sum(np.exp(1j * t))  # noqa: E731
    x = np.array([0.1, 0.2])
    call = {"gradient": lambda: dd.gradient(f, x), "hessian": lambda: dd.hessian(f, x),
            "hvp": lambda: dd.hvp(f, x, x)}[what]
    with pytest.raises(TypeError, match=r"real-valued.*np\.real.*jacobian"):
        call()
    for mode in ("forward", "reverse"):
        with pytest.raises(TypeError, match="real-valued"):
            dd.gradient(f, x, mode=mode)


def test_complex_inputs_keep_their_error():
    with pytest.raises(ValueError, match="complex input"):
        dd.jacobian(np.exp, np.array([1j]))


# -- real, imag, conj, abs, sign, angle ----------------------------------------------------

def z_of(x):
    """z = x0 + i x1 (elementwise over the two halves)."""
    n = x.size // 2
    return x[:n] + 1j * x[n:]


X = np.array([0.6, -1.2, 2.0, 0.9, 0.4, -0.7])


@pytest.mark.parametrize("name", ["real", "imag", "conj", "abs", "sign", "angle", "abs2"])
def test_non_holomorphic_functions_against_hand_formulas(name):
    n = X.size // 2
    re, im = X[:n], X[n:]
    z = re + 1j * im
    r = np.hypot(re, im)
    eye = np.eye(n)
    # Jacobians with respect to (re, im), by hand
    ref = {
        "real": np.hstack([eye, 0 * eye]),
        "imag": np.hstack([0 * eye, eye]),
        "conj": np.hstack([eye, -1j * eye]),
        "abs": np.hstack([np.diag(re / r), np.diag(im / r)]),
        "sign": np.hstack([np.diag(1 / r - z * re / r**3), np.diag(1j / r - z * im / r**3)]),
        "angle": np.hstack([np.diag(-im / r**2), np.diag(re / r**2)]),
        "abs2": np.hstack([np.diag(2 * re), np.diag(2 * im)]),
    }[name]
    f = {"real": lambda x: np.real(z_of(x)), "imag": lambda x: np.imag(z_of(x)),
         "conj": lambda x: np.conj(z_of(x)), "abs": lambda x: np.abs(z_of(x)),
         "sign": lambda x: np.sign(z_of(x)), "angle": lambda x: np.angle(z_of(x)),
         "abs2": lambda x: abs(z_of(x)) ** 2}[name]
    check(f, X, ref)
    # through a holomorphic function after it: exp(g(z)) (chain rule by hand)
    g0 = f(X)
    check(lambda x: np.exp(f(x)), X, np.exp(g0)[:, None] * ref)


def test_abs_and_angle_second_derivatives():
    # |z| = hypot(re, im) and angle = arctan2(im, re): Hessians of their weighted sums from
    # the complex step of the hand gradients
    w = np.array([1.0, -2.0, 0.5])

    def abs_gradient(x):
        re, im = x[:3], x[3:]
        r = np.sqrt(re * re + im * im)
        return np.concatenate([w * re / r, w * im / r])

    def angle_gradient(x):
        re, im = x[:3], x[3:]
        r2 = re * re + im * im
        return np.concatenate([-w * im / r2, w * re / r2])

    check_hessian(lambda x: np.sum(w * np.abs(z_of(x))), X, cs_jacobian(abs_gradient, X),
                  rtol=1e-12, atol=1e-13)
    check_hessian(lambda x: np.sum(w * np.angle(z_of(x))), X, cs_jacobian(angle_gradient, X),
                  rtol=1e-12, atol=1e-13)
    check_hessian(lambda x: np.sum(w * np.angle(z_of(x), deg=True)), X,
                  cs_jacobian(angle_gradient, X) * 180 / np.pi, rtol=1e-12, atol=1e-11)

    def sign_gradient(x):  # of sum w (Re sign z + Im sign z) = sum w (re + im) / r
        re, im = x[:3], x[3:]
        r = np.sqrt(re * re + im * im)
        return np.concatenate([w * (1 / r - (re + im) * re / r**3),
                               w * (1 / r - (re + im) * im / r**3)])

    sign = lambda x: np.sum(w * (np.sign(z_of(x)).real + np.sign(z_of(x)).imag))  # noqa: E731
    check(sign, X, sign_gradient(X))
    check_hessian(sign, X, cs_jacobian(sign_gradient, X), rtol=1e-12, atol=1e-13)


def test_abs_at_zero():
    # |z| at z = 0: slope 0 (a subgradient) in every mode; second derivatives nan, never 0
    x = np.zeros(2)
    f = lambda x: np.abs(x[0] + 1j * x[1])  # noqa: E731
    check(f, x, np.zeros(2), atol=0)
    for g in (lambda x: f(x) ** 2, lambda x: f(x) ** 3):
        check(g, x, np.zeros(2), atol=0)
        for method in ("hyperdual", "forward-over-reverse"):
            assert np.all(np.isnan(dd.hessian(g, x, method=method)))
    # a stationary zero: z = (1 + 2i) t^2 at t = 0 has |z| = sqrt(5) t^2; the chain through
    # |.| cannot give that, so nan, not 0
    assert np.isnan(dd.hessian(lambda t: np.abs((1 + 2j) * t[0] ** 2), np.zeros(1))).all()
    # the smooth formulation is exact
    np.testing.assert_allclose(
        dd.hessian(lambda x: ((x[0] + 1j * x[1]) * np.conj(x[0] + 1j * x[1])).real, x),
        2 * np.eye(2), atol=0)
    # constants and untouched directions stay 0 (no nan from 0 * inf)
    j = dd.jacobian(lambda x: np.abs(np.array([0j, 1 + 0j]) * x[0]) + x[1], np.zeros(2))
    np.testing.assert_array_equal(j, [[0.0, 1.0], [0.0, 1.0]])


def test_sign_and_angle_at_zero_are_nan():
    x = np.zeros(2)
    for f in (lambda x: np.sign(x[0] + 1j * x[1]).real, lambda x: np.angle(x[0] + 1j * x[1])):
        for kw in MODES[1:3]:
            assert np.isnan(dd.jacobian(f, x, **kw)).all()


def test_functions_of_real_arrays():
    x = np.array([-1.5, 0.0, 2.0])
    for kw in MODES[:2]:  # a jump at 0
        np.testing.assert_array_equal(dd.jacobian(np.angle, x, **kw), np.diag([0, np.nan, 0]))
    check(np.angle, x + 1, np.zeros((3, 3)))
    check(np.real, x, np.eye(3))
    check(lambda v: np.imag(v) + v, x, np.eye(3))
    check(np.conj, x, np.eye(3))
    check(np.abs, x, np.diag([-1.0, 1.0, 1.0]))  # the kink row: slope +1 at 0
    np.testing.assert_array_equal(dd.jacobian(lambda v: np.sign(v), x), np.zeros((3, 3)))
    d = dd.Dual(x, np.eye(3))
    assert np.real(d) is d
    with pytest.raises(ValueError, match="read-only"):
        np.imag(d)[0] = 1.0
    with pytest.raises(TypeError, match="imaginary part"):
        d.imag = 1.0


def test_real_imag_conj_transposes_are_exact():
    # <w, J t> from one forward pass equals <w J, t> from one reverse sweep (real outputs)
    rng = np.random.default_rng(3)
    f = lambda x: np.concatenate([np.abs(np.conj(z_of(x)) * (1 + 2j)) ** 1.5,  # noqa: E731
                                  np.angle(z_of(x) ** 2), np.imag(np.sign(z_of(x)))])
    t, w = rng.normal(size=X.size), rng.normal(size=9)
    _, jt = dd.jvp(f, X, t)
    _, pullback = dd.vjp(f, X)
    assert abs(np.dot(w, jt) - np.dot(pullback(w), t)) < 1e-13 * np.sum(np.abs(w * jt))


# -- views: z.real and z.imag are writable views of a complex array --------------------------

def test_writes_through_real_and_imag_views_forward():
    x = np.array([0.5, -1.0, 2.0])

    def f(x):
        z = x * (1 + 2j)
        r = z.real  # a view: writing it changes z
        r[0] = x[1] ** 2
        z.imag[2] = 3 * x[0]
        z.real = z.real * x[2]  # the property setter, through the view
        return z

    def g(x):  # the same, by hand
        re = np.array([x[1] ** 2, x[1], x[2]]) * x[2]
        im = np.array([2 * x[0], 2 * x[1], 3 * x[0]])
        return re, im

    ref = cs_jacobian(lambda x: g(x)[0], x) + 1j * cs_jacobian(lambda x: g(x)[1], x)
    for kw in MODES:
        np.testing.assert_allclose(dd.jacobian(f, x, **kw), ref, rtol=1e-15, atol=0)
    y = f(dd.Dual(x, np.eye(3)))
    np.testing.assert_array_equal(y.value, g(x)[0] + 1j * g(x)[1])
    # hyper-duals write through the same views: Hessian of sum(re * im), by central
    # differences of the complex-step gradient of the hand formula
    h = lambda x: np.sum(np.real(f(x)) * np.imag(f(x)))  # noqa: E731
    hand = lambda x: cs_jacobian(lambda v: np.sum(g(v)[0] * g(v)[1]), x)  # noqa: E731
    for method in ("hyperdual", "forward-over-reverse"):
        np.testing.assert_allclose(dd.hessian(h, x, method=method), cd_hessian_of(hand, x),
                                   rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("which", ["real", "imag"])
def test_writes_through_component_views_in_reverse_mode_and_tracing(which):
    # the write replaces one component and keeps the other: reverse mode sends Re u
    # (real) or -Im u (imag) of a written element's cotangent to the item; the pattern
    # of a written element is the item's and the old element's (all of it: the Tracer
    # does not split components)
    def f(x):
        z = x[:2] * (1 + 2j) + 1j * x[2] ** 2
        getattr(z, which)[[0, 0]] = [x[2], x[1] * x[0]]  # repeated: the last write wins
        return np.concatenate([z, z * z])

    def g(x):  # the same, by hand
        re, im = x[:2].copy(), 2 * x[:2] + x[2] ** 2
        (re if which == "real" else im)[0] = x[1] * x[0]
        z = re + 1j * im
        return np.concatenate([z, z * z])

    x = np.array([0.5, -1.0, 0.7])
    # central differences of the hand version (.real / .imag stop the complex step)
    ref = cd_jacobian(lambda v: g(v).real, x) + 1j * cd_jacobian(lambda v: g(v).imag, x)
    jac = dd.jacobian(f, x, mode="reverse")
    np.testing.assert_allclose(jac, ref, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(jac, dd.jacobian(f, x, mode="forward"), rtol=1e-15, atol=0)
    y, pullback = dd.vjp(f, x)
    u = np.array([1.0, -2.0j, 0.5 + 1j, 3.0])
    np.testing.assert_allclose(pullback(u), u @ jac, rtol=1e-15)
    pattern = dd.jacobian_sparsity(f, x).toarray()
    assert pattern[0].all()  # the item's x0, x1 and the old element's x0, x2
    assert np.all(pattern | (jac == 0))
    assert np.array_equal(pattern[0], pattern[2])
    p = dd.hessian_plan(lambda v: np.sum(np.abs(f(v)) ** 2), x)
    np.testing.assert_array_equal(p(x * 1.1), dd.hessian(
        lambda v: np.sum(np.abs(f(v)) ** 2), x * 1.1, method="forward-over-reverse"))


def test_saved_component_views_are_copied_before_a_write():
    # y = r * r saves r = z.real (a view of z); writing z afterwards must not change y's
    # derivative (copy-on-write), while r itself sees the write
    def f(x):
        z = x * (1 + 1j)
        r = z.real
        y = r * r
        z[0] = x[1] * 1j + x[2]
        return y + r

    x = np.array([0.5, -1.0, 2.0])
    ref = cs_jacobian(lambda x: x * x + np.array([x[2], x[1], x[2]]), x)
    check(f, x, ref)


def test_component_views_see_writes_into_the_array():
    # r = z.real read after z is written: NumPy's view semantics in every mode
    def f(x):
        z = x * (1 + 1j)
        r = z.real
        z[0] = x[1] * 1j + x[2]
        return r * x[0]

    x = np.array([0.5, -1.0, 2.0])
    ref = cs_jacobian(lambda x: np.array([x[2], x[1], x[2]]) * x[0], x)
    check(f, x, ref)
    d = f(dd.Dual(x, np.eye(3)))
    assert d.dtype == np.float64


# -- reductions and products of complex values -------------------------------------------------

def test_norm_vdot_var_std_cov_of_complex_values():
    x = X
    n = x.size // 2

    def hand(x):  # the same quantities from real and imaginary parts
        re, im = x[:n], x[n:]
        s2 = np.sum(re * re + im * im)
        mr, mi = np.mean(re), np.mean(im)
        var = np.mean((re - mr) ** 2 + (im - mi) ** 2)
        return np.stack([np.sqrt(s2), s2, var, np.sqrt(var)])

    def f(x):
        z = z_of(x)
        return np.stack([np.linalg.norm(z), np.vdot(z, z).real, np.var(z), np.std(z)])

    check(f, x, cs_jacobian(hand, x))
    # vdot conjugates its first argument; cov is X X^H / (n - 1)
    a = z_of(x)
    check(lambda x: np.vdot(z_of(x), a), x,
          np.concatenate([a, -1j * a]))
    check(lambda x: np.cov(np.stack([z_of(x), z_of(x) ** 2]))[0, 1], x,
          cd_jacobian(lambda x: np.cov(np.stack([z_of(x), z_of(x) ** 2]))[0, 1].real, x)
          + 1j * cd_jacobian(lambda x: np.cov(np.stack([z_of(x), z_of(x) ** 2]))[0, 1].imag,
                             x), rtol=1e-8, atol=1e-9)  # central differences: rtol 1e-8


def test_vecdot_and_vecmat_conjugate_their_first_argument():
    # NumPy 2's vecdot / linalg.vecdot / vecmat: sum conj(x1) x2; matvec does not conjugate.
    # By hand: d/d re_k conj(z) . b = b_k, d/d im_k = -i b_k
    x = X
    n = x.size // 2
    b = np.arange(1.0, n + 1) * (2 - 1j)
    ref = np.concatenate([b, -1j * b])
    for f in (lambda x: np.vecdot(z_of(x), b), lambda x: np.linalg.vecdot(z_of(x), b),
              lambda x: np.vecmat(z_of(x), b[:, None])[0]):
        check(f, x, ref)
    check(lambda x: np.matvec(b[None, :], z_of(x))[0], x,
          np.concatenate([b, 1j * b]))
    # np.correlate conjugates its second argument: correlate(b, z)[k] = sum b[i+k] conj(z[i])
    m = np.arange(1.0, 4.0) + 0.5j
    want = np.correlate(m, z_of(x)[:1])
    got, _ = dd.jvp(lambda x: np.correlate(m, z_of(x)[:1]), x, np.zeros_like(x))
    np.testing.assert_allclose(got, want, rtol=1e-15)
    e = np.zeros(n)
    e[0] = 1.0
    check(lambda x: np.correlate(m, z_of(x)[:1]), x,
          np.stack([np.concatenate([mk * e, -1j * mk * e]) for mk in m]))


# -- complex matmul, solve, inv, det, slogdet ------------------------------------------------

N = 3


def cmat(x, n=N):
    """A complex n x n matrix from 2 n^2 real inputs."""
    return np.reshape(x[:n * n], (n, n)) + 1j * np.reshape(x[n * n:2 * n * n], (n, n))


def test_complex_matmul_and_solve_against_real_block_forms():
    x = rnd(2 * N * N + 2 * N, seed=1) + np.concatenate([3 * np.eye(N).ravel(),
                                                         np.zeros(N * N + 2 * N)])

    def parts(x):
        return (np.reshape(x[:N * N], (N, N)), np.reshape(x[N * N:2 * N * N], (N, N)),
                x[2 * N * N:2 * N * N + N], x[2 * N * N + N:])

    def block_solve(x):  # [[A, -B], [B, A]] [u; v] = [c; d]
        a, b, c, d = parts(x)
        return np.linalg.solve(np.block([[a, -b], [b, a]]), np.concatenate([c, d]))

    def block_matmul(x):
        a, b, c, d = parts(x)
        return np.concatenate([a @ c - b @ d, a @ d + b @ c])

    def vec(x):
        return x[2 * N * N:2 * N * N + N] + 1j * x[2 * N * N + N:]

    check(lambda x: cmat(x) @ vec(x), x,
          cs_complex(lambda x: block_matmul(x)[:N], lambda x: block_matmul(x)[N:], x))
    check(lambda x: np.linalg.solve(cmat(x), vec(x)), x,
          cs_complex(lambda x: block_solve(x)[:N], lambda x: block_solve(x)[N:], x))

    def block_inv(x):
        a, b, _, _ = parts(x)
        return np.linalg.inv(np.block([[a, -b], [b, a]]))[:, :N]  # [Re inv; Im inv]

    check(lambda x: np.linalg.inv(cmat(x)), x[:2 * N * N],
          cs_complex(lambda x: block_inv(x)[:N], lambda x: block_inv(x)[N:], x[:2 * N * N]))


@pytest.mark.parametrize("n", [3, 5])
def test_complex_det_and_slogdet_hand_formulas(n):
    # d det M = det M tr(M^-1 dM); d log|det M| = Re tr(M^-1 dM); d sign = i sign Im tr(...)
    x = rnd(2 * n * n, seed=n)
    m = cmat(x, n)
    minv = np.linalg.inv(m)
    dm = np.concatenate([np.eye(n * n), 1j * np.eye(n * n)], axis=1).reshape(n, n, -1)
    tr = np.einsum("ij,jik->k", minv, dm)  # tr(M^-1 dM/dx_k)
    det = np.linalg.det(m)
    check(lambda x: np.linalg.det(cmat(x, n)), x, det * tr, rtol=1e-11, atol=1e-12)
    sign = det / abs(det)
    check(lambda x: np.linalg.slogdet(cmat(x, n)).logabsdet, x, tr.real, rtol=1e-11,
          atol=1e-12)
    check(lambda x: np.linalg.slogdet(cmat(x, n)).sign, x, 1j * sign * tr.imag, rtol=1e-11,
          atol=1e-12)
    # Hessian of log|det M|^2 = 2 log|det M|: central differences of the hand gradient
    hand = lambda x: 2 * np.real(np.einsum(  # noqa: E731
        "ij,jik->k", np.linalg.inv(cmat(x, n)), dm))
    check_hessian(lambda x: np.log(np.abs(np.linalg.det(cmat(x, n))) ** 2), x,
                  cd_hessian_of(hand, x), rtol=1e-6, atol=1e-8)


def test_complex_values_are_numpys():
    x = rnd(2 * 16 + 4, seed=7)
    m = cmat(x, 4)
    d = dd.Dual(x, np.ones((1, x.size)))
    md = cmat(d, 4)
    for fn in (np.linalg.det, np.linalg.inv, lambda a: np.linalg.slogdet(a)[0],
               np.abs, np.angle, np.sign, np.conj):
        np.testing.assert_array_equal(fn(md).value, fn(m))


@pytest.mark.parametrize("name", ["svd", "qr", "pinv", "cholesky", "eigh", "eigvalsh",
                                  "svdvals", "lstsq"])
def test_complex_matrices_refused_by_name(name):
    fn = getattr(np.linalg, name)
    args = (lambda a: (a, a)) if name == "lstsq" else (lambda a: (a,))
    with pytest.raises(TypeError, match=f"np.linalg.{name}.*complex"):
        dd.jacobian(lambda x: np.abs(fn(*args(cmat(x, 2)))[0]).sum(), rnd(8, seed=1) + 2)


@pytest.mark.parametrize("fn", [sc.gamma, sc.psi, sc.loggamma, sc.rgamma])
def test_special_functions_with_real_rules_refuse_complex(fn):
    with pytest.raises(TypeError, match=f"scipy.special.{fn.__name__} of a complex"):
        dd.jacobian(lambda x: fn(x + 1j).real, np.ones(2))
    with pytest.raises(TypeError, match="scipy.special.jv of a complex"):
        dd.jacobian(lambda x: sc.jv(1.5, x * 1j).real, np.ones(2))


def test_holomorphic_rows_at_complex_points():
    # f'(z) along the real axis, against 4th-order central differences (h = 1e-3:
    # truncation h^4 |f^(5)| / 30 ~ 1e-13, rounding eps |f| / h ~ 1e-13)
    z = np.array([0.3 + 0.4j, -0.7 + 0.2j, 1.5 - 0.8j, -1.6 - 0.5j])
    h = 1e-3
    for fn in (np.sqrt, np.log, np.arcsin, np.arccos, np.arctan, np.arcsinh, np.arccosh,
               np.arctanh, np.tanh, np.tan, np.expm1, np.log1p, sc.erf):
        ref = (-fn(z + 2 * h) + 8 * fn(z + h) - 8 * fn(z - h) + fn(z - 2 * h)) / (12 * h)
        got = dd.jacobian(lambda t: fn(z + t), 0.0)
        np.testing.assert_allclose(got, ref, rtol=1e-9, err_msg=fn.__name__)


# -- eig, eigvals, roots -----------------------------------------------------------------

A4 = rnd(4, 4, seed=11)  # two real eigenvalues and a complex pair


def eig_hand(a):
    """dw_i/dA = conj-free l_i r_i^T / (l_i^T r_i) from NumPy's left (eig of A^T) and right
    eigenvectors, matched by eigenvalue."""
    w, right = la.eig(a)
    wl, left = la.eig(a.T)
    left = left[:, [np.argmin(abs(wl - wi)) for wi in w]]
    return (np.einsum("ai,bi->iab", left, right)
            / np.einsum("ai,ai->i", left, right)[:, None, None])


def mp_eigvecs(a, ref_w, ref_v):
    """mpmath's eigenvectors of a at 40 digits, ordered like ref_w and normalised as LAPACK:
    unit 2-norm, the component where ref_v is largest (and real) real with ref_v's sign."""
    e, er = mpmath.eig(mpmath.matrix(a))
    n = len(e)
    out = []
    for i in range(n):
        j = min(range(n), key=lambda j: abs(complex(e[j]) - ref_w[i]))
        v = [er[k, j] for k in range(n)]
        norm = mpmath.sqrt(sum(abs(c) ** 2 for c in v))
        k = int(np.argmax(np.where(ref_v[:, i].imag == 0, abs(ref_v[:, i]), -1)))
        phase = v[k] / abs(v[k]) * (1 if ref_v[k, i].real > 0 else -1)
        out += [c / norm / phase for c in v]
    return out


def mp_eigvec_jacobian(a, h=mpmath.mpf("1e-15")):
    w, v = la.eig(a)
    n = a.shape[0]
    cols = []
    with mpmath.workdps(40):
        base = mpmath.matrix(a.tolist())
        for i in range(n):
            for j in range(n):
                up, dn = base.copy(), base.copy()
                up[i, j] += h
                dn[i, j] -= h
                cols.append([complex((p - q) / (2 * h)) for p, q in
                             zip(mp_eigvecs(up, w, v), mp_eigvecs(dn, w, v))])
    return np.array(cols).T.reshape(n, n, n, n).transpose(1, 0, 2, 3)  # (row k, col i, a, b)


def test_eig_eigenvalues_against_left_right_eigenvectors():
    w = la.eigvals(A4)
    assert np.sum(w.imag != 0) == 2
    ref = eig_hand(A4)
    check(lambda a: la.eig(a).eigenvalues, A4, ref, rtol=1e-11, atol=1e-12)
    check(la.eigvals, A4, ref, rtol=1e-11, atol=1e-12)


def test_eig_eigenvectors_against_mpmath():
    ref = mp_eigvec_jacobian(A4)
    check(lambda a: la.eig(a).eigenvectors, A4, ref, rtol=1e-10, atol=1e-11)


def test_eig_symmetric_matrix_has_real_results():
    s = A4 + A4.T
    for kw in MODES[1:3]:
        j = dd.jacobian(lambda a: la.eig(a)[1], s, **kw)
        assert j.dtype == np.float64
    # eigenvalues of a real symmetric matrix: dw_i = v_i v_i^T (unit v_i)
    w, v = la.eig(s)
    check(la.eigvals, s, np.einsum("ai,bi->iab", v, v), rtol=1e-11, atol=1e-12)
    y = la.eig(dd.Dual(s, np.ones((1, 4, 4))))
    np.testing.assert_array_equal(y.eigenvalues.value, w)
    np.testing.assert_array_equal(y.eigenvectors.value, v)


def test_eig_of_a_complex_matrix():
    x = rnd(2 * N * N, seed=5)
    m = cmat(x)
    ref = np.einsum("iab,abk->ik", eig_hand(m),
                    np.concatenate([np.eye(N * N), 1j * np.eye(N * N)], axis=1).reshape(N, N, -1))
    check(lambda x: la.eigvals(cmat(x)), x, ref, rtol=1e-11, atol=1e-12)
    check(lambda x: la.eig(cmat(x))[0], x, ref, rtol=1e-11, atol=1e-12)
    # eigenvectors: unit norm and the largest component real, to first order
    for kw in MODES[1:3]:
        jv = dd.jacobian(lambda x: la.eig(cmat(x))[1], x, **kw)
        _, v = la.eig(m)
        np.testing.assert_allclose(np.einsum("ai,aik->ik", np.conj(v), jv).real, 0, atol=1e-12)
        k = np.argmax(abs(v), axis=0)
        np.testing.assert_allclose(jv[k, np.arange(N)].imag, 0, atol=1e-12)


def test_eig_second_derivatives():
    # sum |w_i|^2 (smooth at distinct eigenvalues): Hessian by central differences of the hand
    # gradient 2 Re(conj(w_i) dw_i)
    def hand(a):
        w = la.eigvals(a.reshape(4, 4))
        return np.real(np.einsum("i,iab->ab", 2 * np.conj(w), eig_hand(a.reshape(4, 4)))).ravel()

    f = lambda a: np.sum(np.abs(la.eigvals(a.reshape(4, 4))) ** 2)  # noqa: E731
    check_hessian(f, A4.ravel(), cd_hessian_of(hand, A4.ravel()), rtol=1e-6, atol=1e-8)
    # an eigenvector function, |v_0i|^2 (independent of the phase convention): second
    # differences of NumPy's eig (h = 1e-4: truncation h^2 |f^(4)| / 6 ~ 1e-9, rounding
    # eps |f| / h^2 ~ 1e-8; compared with atol 1e-6)
    g = lambda a: np.sum(np.abs(la.eig(a.reshape(4, 4))[1][0]) ** 2 * [1, 2, 3, 4])  # noqa
    x, h = A4.ravel(), 1e-4
    e = np.eye(x.size) * h
    ref = np.array([[(g(x + e[i] + e[j]) - g(x + e[i] - e[j]) - g(x - e[i] + e[j])
                      + g(x - e[i] - e[j])) / (4 * h * h) for j in range(x.size)]
                    for i in range(x.size)])
    check_hessian(g, x, ref, rtol=1e-5, atol=1e-6)


def test_eig_tied_eigenvalues_give_nan_and_only_there():
    a = np.diag([2.0, 2.0, 5.0])
    a[0, 2] = 1.0
    for kw in MODES[1:3]:
        j = dd.jacobian(la.eigvals, a, **kw)
        assert np.isnan(j[:2]).all() and np.isfinite(j[2]).all()
        jv = dd.jacobian(lambda a: la.eig(a)[1], a, **kw)
        assert np.isnan(jv[:, :2]).all() and np.isfinite(jv[:, 2]).all()
    # a cotangent that does not reach the tied eigenvalues gives a finite gradient
    with np.errstate(divide="ignore", invalid="ignore"):  # the reference at the tie
        ref = eig_hand(a)[2]
    np.testing.assert_allclose(dd.gradient(lambda a: la.eigvals(a)[2], a, mode="reverse"),
                               ref, atol=1e-14)


def test_roots():
    # r is a root of p: dr = -(sum_k dp_k r^(N-1-k)) / p'(r)
    p = np.array([1.0, -2.0, -5.0, 6.0, 0.0])  # roots 3, -2, 1 and a trailing zero
    r = np.roots(p)
    core = p[:-1]
    ref = -np.vander(r[:3], 4) / np.polyval(np.polyder(core), r[:3])[:, None]
    ref = np.concatenate([np.concatenate([ref, np.zeros((3, 1))], axis=1), np.zeros((1, 5))])
    check(np.roots, p, ref, rtol=1e-11, atol=1e-12)
    assert dd.jacobian(np.roots, p).dtype == np.float64
    # complex roots of x^2 + 2x + 5 (-1 +- 2i); a double root gives nan
    c = np.array([1.0, 2.0, 5.0])
    rc = np.roots(c)
    check(np.roots, c, -np.vander(rc, 3) / (2 * rc + 2)[:, None], rtol=1e-12, atol=1e-13)
    assert np.isnan(dd.jacobian(np.roots, np.array([1.0, -2.0, 1.0]))).all()


def test_sort_complex():
    x = np.array([2.0, -1.0, 0.5])
    check(np.sort_complex, x, np.eye(3)[[1, 2, 0]].astype(complex))
    check(lambda x: np.sort_complex(x * (1 - 1j) + 1j * x[::-1]).real, x,
          cd_jacobian(lambda x: np.sort_complex(x * (1 - 1j) + 1j * x[::-1]).real, x),
          rtol=1e-9, atol=1e-10)


# -- sparsity ----------------------------------------------------------------------------------

def test_sparsity_through_complex_functions():
    x = rnd(6, seed=2)

    def f(x):
        z = x[:3] * np.exp(1j * x[3:])
        return np.concatenate([np.abs(z), np.angle(np.conj(z)), np.real(z * 1j),
                               np.imag(np.sign(z))])

    pattern = dd.jacobian_sparsity(f, x).toarray()
    block = np.hstack([np.eye(3), np.eye(3)]).astype(bool)
    np.testing.assert_array_equal(pattern, np.vstack([block] * 4))
    np.testing.assert_allclose(dd.jacobian(f, x, sparsity="auto").toarray(), dd.jacobian(f, x),
                               rtol=1e-15, atol=0)
    # a complex output: the sparse Jacobian is complex in both modes
    g = lambda x: np.exp(1j * x) * x[::-1]  # noqa: E731
    for mode in ("forward", "reverse"):
        np.testing.assert_allclose(dd.jacobian(g, x, sparsity="auto", mode=mode).toarray(),
                                   dd.jacobian(g, x), rtol=1e-15, atol=0)


def test_vjp_of_a_complex_output_is_u_times_the_complex_jacobian():
    # pullback(u) = u @ J, complex, linear in complex u, and its rows are the reverse
    # Jacobian's (hand formula: d exp(i t_j) w_j / d t_j = i exp(i t_j) w_j)
    theta = np.array([0.3, 1.1, -2.0])
    w = np.array([1.0, -0.5, 2.0])
    y, pullback = dd.vjp(lambda t: np.exp(1j * t) * w, theta)
    jac = np.diag(1j * np.exp(1j * theta) * w)
    u = np.array([0.5 - 1j, 2.0, 1j])
    np.testing.assert_allclose(pullback(u), u @ jac, rtol=1e-15)
    np.testing.assert_allclose(pullback(np.stack([u, u.real])), [u @ jac, u.real @ jac],
                               rtol=1e-15)
    np.testing.assert_array_equal(pullback(np.eye(3)), dd.jacobian(
        lambda t: np.exp(1j * t) * w, theta, mode="reverse"))
    # a real output keeps a real pullback
    assert dd.vjp(np.sin, theta)[1](np.ones(3)).dtype == np.float64


def test_a_component_view_read_after_its_base_was_written():
    # a4 = z.imag is re-derived from z after z is written: through np.imag's own
    # transpose (-1j Re u), not as a movement of elements (np.imag of an index array is 0)
    def f(x):
        z = x * (1 + 2j)
        im = z.imag
        z[0] = im[1] ** 2 + 1j * x[2]
        return np.concatenate([im * 1.0, z.real])

    x = np.array([0.5, -1.0, 0.7])
    # hand formula: im = (x2, 2 x1, 2 x2), re = (4 x1^2, x1, x2)
    want = np.array([[0, 0, 1], [0, 2, 0], [0, 0, 2], [0, 8 * x[1], 0], [0, 1, 0], [0, 0, 1]])
    for kw in MODES:
        np.testing.assert_array_equal(dd.jacobian(f, x, **kw), want)
    pattern = dd.jacobian_sparsity(f, x).toarray()
    assert np.all(pattern | (want == 0)) and pattern[1].tolist() == [False, True, False]

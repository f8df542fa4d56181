"""hessian / hvp / value_gradient_and_hessian against hand-derived Hessians.

Where no closed form is handy the reference is a central difference of the
complex-step gradient of the same function on plain complex NumPy:
``G_i(x) = Im f(x + i h e_i) / h`` is exact to rounding, and
``(G(x + d e_j) - G(x - d e_j)) / 2d`` has truncation error ``d^2 |f''''| / 6``
(~1e-10 for d = 1e-5 and O(1) derivatives) and rounding ``eps |G| / d``
(~1e-11), hence rtol 1e-7 for those.
"""

import numpy as np
import pytest
import scipy.optimize as so
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import dualdiff as dd
from dualdiff.problems import rosen


def cs_fd_hessian(f, x, h=1e-200, d=1e-5):
    n = x.size

    def grad(x):
        return np.array([np.imag(f(x + 1j * h * e)) / h for e in np.eye(n)])

    return np.stack([(grad(x + d * e) - grad(x - d * e)) / (2 * d) for e in np.eye(n)], axis=1)


@settings(max_examples=10, deadline=None)
@given(x=arrays(float, st.integers(2, 12), elements=st.floats(-2, 2)),
       chunk=st.sampled_from([None, 1, 3, 5]))
@example(x=np.zeros(4), chunk=None)  # the usual starting point
@example(x=np.ones(3), chunk=1)  # the minimum (ties everywhere)
@example(x=np.array([-0.0, 2.0, -2.0]), chunk=3)
def test_rosenbrock_matches_scipy(x, chunk):
    H = dd.hessian(rosen, x, chunk=chunk)
    ref = so.rosen_hess(x)
    np.testing.assert_allclose(H, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    assert np.array_equal(H, H.T)


def test_value_gradient_and_hessian_from_the_same_passes():
    x = np.linspace(-1.0, 1.5, 11)
    v, g, H = dd.value_gradient_and_hessian(rosen, x, chunk=4)
    assert float(v) == pytest.approx(so.rosen(x), rel=1e-14)
    np.testing.assert_allclose(g, so.rosen_der(x), rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(H, so.rosen_hess(x), rtol=1e-13, atol=1e-12)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 8))
def test_quadratic_form_and_log_sum_exp(seed, n):
    rng = np.random.default_rng(seed)
    A, b, x = rng.normal(size=(n, n)), rng.normal(size=n), rng.normal(size=n)
    H = dd.hessian(lambda x: 0.5 * x @ A @ x + b @ x + 3.0, x)
    np.testing.assert_allclose(H, 0.5 * (A + A.T), rtol=1e-14, atol=1e-15)
    # log-sum-exp: H = diag(p) - p p^T with p = softmax(x)
    H = dd.hessian(lambda x: np.log(np.sum(np.exp(x))), x)
    p = np.exp(x - x.max()) / np.sum(np.exp(x - x.max()))
    np.testing.assert_allclose(H, np.diag(p) - np.outer(p, p), rtol=1e-12, atol=1e-15)


def _spd(rng, n):
    a = rng.normal(size=(n, n))
    return a @ a.T + n * np.eye(n)


def test_logdet_hessian_via_slogdet_det_and_cholesky():
    # f(x) = log det(A0 + sum_i x_i B_i):  H_ij = -tr(M^-1 B_i M^-1 B_j)
    rng = np.random.default_rng(1)
    n, m = 4, 3
    A0 = _spd(rng, n)
    B = np.array([(lambda s: s + s.T)(rng.normal(size=(n, n))) for _ in range(m)]) * 0.1
    x = rng.normal(size=m) * 0.1
    M = A0 + np.einsum("i,ijk->jk", x, B)
    Mi = np.linalg.inv(M)
    ref = np.array([[-np.trace(Mi @ B[i] @ Mi @ B[j]) for j in range(m)] for i in range(m)])

    def mat(x):
        return A0 + np.einsum("i,ijk->jk", x, B)

    for f in (lambda x: np.linalg.slogdet(mat(x))[1],
              lambda x: np.log(np.linalg.det(mat(x))),
              lambda x: 2.0 * np.sum(np.log(np.diagonal(np.linalg.cholesky(mat(x)))))):
        np.testing.assert_allclose(dd.hessian(f, x), ref, rtol=1e-11, atol=1e-14)


def test_inverse_quadratic_via_solve():
    rng = np.random.default_rng(2)
    n = 5
    A, b, x = rng.normal(size=(n, n)) + n * np.eye(n), rng.normal(size=n), rng.normal(size=n)
    # x^T A^-1 x: H = A^-1 + A^-T
    H = dd.hessian(lambda x: x @ np.linalg.solve(A, x), x)
    Ai = np.linalg.inv(A)
    np.testing.assert_allclose(H, Ai + Ai.T, rtol=1e-12)
    # f = b^T (A + diag x)^-1 b, u = M^-1 b, w = M^-T b:
    # H_ij = (M^-T)_ij w_j u_i + w_i (M^-1)_ij u_j
    M = A + np.diag(x)
    Mi = np.linalg.inv(M)
    u, w = Mi @ b, Mi.T @ b
    ref = Mi.T * np.outer(u, w) + Mi * np.outer(w, u)
    H = dd.hessian(lambda x: b @ np.linalg.solve(A + np.diag(x), b), x)
    np.testing.assert_allclose(H, ref, rtol=1e-11, atol=1e-14)


def test_largest_eigenvalue_hessian():
    # d2 lam_k / dx_i dx_j = 2 sum_{l != k} v_ik v_il v_jl v_jk / (lam_k - lam_l), M = A + diag x
    rng = np.random.default_rng(4)
    n = 5
    A, x = _spd(rng, n), rng.normal(size=n)
    w, V = np.linalg.eigh(A + np.diag(x))
    k = n - 1
    ref = sum(2 * np.outer(V[:, k] * V[:, j], V[:, k] * V[:, j]) / (w[k] - w[j])
              for j in range(n - 1))
    H = dd.hessian(lambda x: np.linalg.eigh(A + np.diag(x))[0][-1], x)
    np.testing.assert_allclose(H, ref, rtol=1e-10, atol=1e-13)


def test_lstsq_einsum_and_friends_vs_complex_step():
    rng = np.random.default_rng(5)
    A, b, C = rng.normal(size=(6, 3)), rng.normal(size=6), rng.normal(size=(6, 3))
    x = rng.normal(size=3) * 0.3

    def f_lstsq(x):
        return np.sum(np.linalg.lstsq(A + x[0] * C + np.outer(b, x) * 0.1, b, rcond=None)[0] ** 2)

    def f_lstsq_ref(x):  # normal equations, analytic in x (transpose, not conjugate)
        M = A + x[0] * C + np.outer(b, x) * 0.1
        return np.sum(np.linalg.solve(M.T @ M, M.T @ b) ** 2)

    np.testing.assert_allclose(dd.hessian(f_lstsq, x), cs_fd_hessian(f_lstsq_ref, x),
                               rtol=1e-7, atol=1e-8)

    def f_mix(x):
        y = np.einsum("i,ij,j->", np.tanh(x), A.T @ A, np.exp(-x))
        return y + np.sum(np.cumsum(x) ** 3) * np.mean(np.sqrt(1 + x**2))

    np.testing.assert_allclose(dd.hessian(f_mix, x), cs_fd_hessian(f_mix, x), rtol=1e-7,
                               atol=1e-8)


def test_matrix_input_shape():
    X = np.arange(6.0).reshape(2, 3) / 5
    H = dd.hessian(lambda X: np.sum(X**3) + X[0, 1] * X[1, 2], X)
    assert H.shape == (2, 3, 2, 3)
    ref = np.diag(6 * X.ravel())
    ref[1, 5] = ref[5, 1] = 1.0
    np.testing.assert_allclose(H.reshape(6, 6), ref, rtol=1e-15)


@settings(max_examples=10, deadline=None)
@given(x=arrays(float, st.integers(2, 15), elements=st.floats(-2, 2)),
       chunk=st.sampled_from([None, 1, 4]))
@example(x=np.zeros(5), chunk=None)
@example(x=np.ones(2), chunk=1)
def test_hvp_matches_scipy(x, chunk):
    v = np.cos(np.arange(x.size))
    ref = so.rosen_hess_prod(x, v)
    np.testing.assert_allclose(dd.hvp(rosen, x, v, chunk=chunk), ref, rtol=1e-12,
                               atol=1e-12 * np.abs(ref).max())


def test_non_scalar_f_is_a_value_error():
    f = lambda x: x**2
    for drv in (dd.hessian, dd.value_gradient_and_hessian, dd.gradient):
        with pytest.raises(ValueError, match="scalar"):
            drv(f, np.ones(3))
    with pytest.raises(ValueError, match="scalar"):
        dd.hvp(f, np.ones(3), np.ones(3))


def test_constant_f_and_scalar_x():
    assert dd.hessian(lambda x: 3.0, np.ones(2)).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert float(dd.hessian(lambda x: np.sin(x), 0.5)) == pytest.approx(-np.sin(0.5), rel=1e-15)
    assert float(dd.hvp(lambda x: x**4, 2.0, 3.0)) == 12 * 4 * 3


@pytest.mark.parametrize("n", [10, 100])
def test_scipy_trust_exact_and_newton_cg_converge_on_rosenbrock(n):
    x0 = np.full(n, 0.5)  # (-1.2, 1, ...) leads to the local minimum near x_0 = -1 for n >= 4
    grad = lambda x: dd.gradient(rosen, x)
    res = so.minimize(rosen, x0, method="trust-exact", jac=grad,
                      hess=lambda x: dd.hessian(rosen, x))
    assert res.success, res.message
    np.testing.assert_allclose(res.x, np.ones(n), atol=1e-6)
    res = so.minimize(rosen, x0, method="Newton-CG", jac=grad,
                      hessp=lambda x, p: dd.hvp(rosen, x, p), options={"xtol": 1e-10})
    assert res.success, res.message
    np.testing.assert_allclose(res.x, np.ones(n), atol=1e-6)


def test_solve_and_lstsq_with_batched_right_hand_sides():
    # rules fix (solve): the tangent of A must be expanded before it meets a batched x;
    # before, k == batch paired direction i with right-hand side i silently.
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    B = np.arange(12.0).reshape(3, 2, 2)
    Ms = (np.eye(2), A, np.eye(2)[::-1])
    f = lambda x: np.linalg.solve(A + x[0] * Ms[0] + x[1] * Ms[1] + x[2] * Ms[2], B)
    h = 1e-200
    ref = np.stack([np.imag(np.linalg.solve(A + 1j * h * M, B)) / h for M in Ms], -1)
    np.testing.assert_allclose(dd.jacobian(f, np.zeros(3)), ref, rtol=1e-13, atol=1e-15)
    C = np.random.default_rng(0).normal(size=(5, 2))
    D = np.random.default_rng(1).normal(size=(5, 3))
    g = lambda x: np.linalg.lstsq(C + x[0] * C**2 + x[1], D, rcond=None)[0]
    Cs = (C**2, np.ones((5, 2)))

    def g_ref(M):  # normal equations, analytic (transpose, not conjugate)
        return np.linalg.solve(M.T @ M, M.T @ D)

    ref = np.stack([np.imag(g_ref(C + 1j * h * M)) / h for M in Cs], -1)
    np.testing.assert_allclose(dd.jacobian(g, np.zeros(2)), ref, rtol=1e-12, atol=1e-14)


_A = np.random.default_rng(7).normal(size=(4, 4)) + 4 * np.eye(4)
MEDLEY = {  # plain NumPy idioms; all complex-analytic, so the complex-step reference applies
    "max": lambda x: np.max(x * x[::-1]),
    "where": lambda x: np.sum(np.where(x > 1, x**3, np.sin(x))),
    "sort": lambda x: np.sort(x)[1] * x[0] ** 2,
    "inv": lambda x: np.sum(np.linalg.inv(_A + np.diag(x))),
    "det": lambda x: np.linalg.det(_A + np.outer(x, x)),
    "dot_outer": lambda x: np.dot(x, _A @ x) + np.outer(x, x).sum() * np.tensordot(x, x, 1),
    "cumprod_prod": lambda x: np.sum(np.cumprod(x)) + np.prod(x) ** 2,
    "clip_diff_roll": lambda x: np.sum(np.clip(x, 0.7, 1.2) ** 2 + np.diff(x, append=0.0) ** 3
                                       * np.roll(x, 1)),
    "kron_pad": lambda x: np.sum(np.kron(x, x) ** 2) + np.sum(np.pad(x, 1) ** 3),
    "matrix_power": lambda x: np.sum(np.linalg.matrix_power(_A + np.diag(x), 3)),
    "reshape_mean": lambda x: np.sum(np.mean(np.reshape(x, (2, 2)) ** 2, axis=0) ** 2),
}


@pytest.mark.parametrize("name", list(MEDLEY))
def test_numpy_medley_vs_complex_step(name):
    x = np.random.default_rng(8).uniform(0.5, 1.5, 4)
    f = MEDLEY[name]
    ref = cs_fd_hessian(f, x)
    np.testing.assert_allclose(dd.hessian(f, x), ref, rtol=1e-7, atol=1e-7 * np.abs(ref).max())


@pytest.mark.parametrize("method", ["hyperdual", "forward-over-reverse", "auto"])
def test_methods_agree_with_scipy_rosen_hess(method):
    from scipy.optimize import rosen_der, rosen_hess
    x = np.linspace(-1.2, 1.1, 40)
    v, g, h = dd.value_gradient_and_hessian(rosen, x, chunk=7, method=method)
    ref = rosen_hess(x)
    assert np.isclose(v, rosen(x), rtol=1e-15)
    np.testing.assert_allclose(g, rosen_der(x), rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(h, ref, rtol=1e-13, atol=1e-12 * np.abs(ref).max())
    u = np.cos(np.arange(40.0))
    np.testing.assert_allclose(dd.hvp(rosen, x, u, method=method), ref @ u,
                               rtol=1e-12, atol=1e-11 * np.abs(ref).max())


def test_unknown_hessian_method():
    with pytest.raises(ValueError, match="method"):
        dd.hessian(lambda x: np.sum(x**2), np.ones(3), method="fd")


@pytest.mark.parametrize("method", ["hyperdual", "forward-over-reverse"])
def test_infinite_second_derivatives_stay_out_of_other_entries(method):
    # NaN-safety as in Jacobians: d^2 sqrt(x0) is -inf at 0, but entries not involving
    # x0 twice are the finite hand-derived values, never 0 * inf = nan
    h = dd.hessian(lambda x: np.sum(np.sqrt(x)), np.array([0.0, 4.0]), method=method)
    assert h[0, 0] == -np.inf and h[0, 1] == h[1, 0] == 0.0 and h[1, 1] == -1.0 / 32
    # f = sqrt(x0) x1^2 + x0 x1 at (0, 3): f_00 = -inf, f_01 = x1 / sqrt(x0) + 1 = inf, f_11 = 0
    h = dd.hessian(lambda x: np.sqrt(x[0]) * x[1] ** 2 + x[0] * x[1], np.array([0.0, 3.0]),
                   method=method)
    assert h.tolist() == [[-np.inf, np.inf], [np.inf, 0.0]]


@pytest.mark.parametrize("method", ["hyperdual", "forward-over-reverse"])
def test_power_with_a_zero_exponent_keeps_its_mixed_derivative(method):
    # d/dx x**y = y x**(y-1) was taken as 0 wherever y == 0, also as an outer pass's
    # carrier, dropping its derivative in y: the forward-over-reverse Hessian lost
    # d2/dx dy.  Hand formula for g = (1 + b^2)^a at a = 0: H = [[L^2, 2b/(1+b^2)], [., 0]]
    def g(x):
        return np.power(1.0 + x[1] ** 2, x[0])

    x = np.array([0.0, 0.5])
    L = np.log(1.25)
    want = np.array([[L * L, 0.8], [0.8, 0.0]])
    np.testing.assert_allclose(dd.hessian(g, x, method=method), want, rtol=1e-15)
    plan = dd.hessian_plan(g, np.array([0.3, 0.5]))
    np.testing.assert_allclose(plan(x), want, rtol=1e-15)

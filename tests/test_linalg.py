"""np.linalg on Duals against references that share no code with dualdiff.

solve, inv, det, matrix_power and (via the normal equations) lstsq/pinv accept complex input
and are analytic in it: complex step of plain NumPy.  slogdet: complex step of log(+-det).
cholesky: complex step of a hand-written Cholesky-Banachiewicz loop (no conjugation).
eigh, svd-based norms: central differences (h = 1e-6: truncation h^2/6 |f'''| ~ 1e-12 for
these O(1) well-separated spectra, rounding eps/h ~ 1e-10; rtol 1e-6) and the hand formula
dw_i = v_i^T dA v_i.  Vector norms: plain sums written out.
"""

from __future__ import annotations

import carriers
import numpy as np
import pytest
from carriers import same_in_every_mode
from refs import rnd

import dualdiff as dd

la = np.linalg



def check(f, x, ref=None, rtol=1e-11, atol=1e-12, cd=False, **kw):
    return carriers.check(f, x, ref, kind="cd" if cd else "cs", rtol=rtol, atol=atol, **kw)


def spd(x, n):
    m = x.reshape(n, n)
    return m @ m.T + n * np.eye(n)


A0 = rnd(3, 3, seed=1) + 3 * np.eye(3)


def test_solve_vector_matrix_and_batched():
    x = rnd(9, seed=2)
    b = rnd(3, seed=3)
    check(lambda x: la.solve(A0 + x.reshape(3, 3), b), x)
    check(lambda x: la.solve(A0, x[:3]), x)
    check(lambda x: la.solve(A0 + x.reshape(3, 3), x[:3]), x)
    check(lambda x: la.solve(A0 + x.reshape(3, 3), x.reshape(3, 3)[:, :2]), x)
    xb = rnd(18, seed=4)
    check(lambda x: la.solve(A0 + x.reshape(2, 3, 3), np.ones((2, 3, 1))), xb)
    check(lambda x: la.solve(A0, x.reshape(3, 6)), xb)


def test_inv_det_matrix_power():
    x = rnd(9, seed=5)
    check(lambda x: la.inv(A0 + x.reshape(3, 3)), x)
    check(lambda x: la.inv(A0 + x.reshape(3, 3)[None] * np.array([1.0, 2.0])[:, None, None]), x)
    check(lambda x: la.det(A0 + x.reshape(3, 3)), x)
    check(lambda x: la.det(x.reshape(3, 3)), x)  # any sign
    check(lambda x: la.det(np.stack([A0 + x.reshape(3, 3), A0 - x.reshape(3, 3)])), x)
    for p in (0, 1, 2, 3, 5, -1, -2):
        check(lambda x, p=p: la.matrix_power(A0 + x.reshape(3, 3), p), x)


def test_det_hand_formula():
    # d det A = det A * tr(A^-1 dA): the gradient is det A * A^-T
    a = rnd(4, 4, seed=6)
    np.testing.assert_allclose(dd.gradient(la.det, a), la.det(a) * la.inv(a).T, rtol=1e-12)


def test_slogdet():
    x = rnd(9, seed=7)
    for a in (A0, -A0):  # det > 0 and det < 0
        d = la.det(a)
        check(lambda x, a=a: la.slogdet(a + 0.1 * x.reshape(3, 3)).logabsdet, x,
              lambda x, a=a: np.log(np.sign(d) * la.det(a + 0.1 * x.reshape(3, 3))))
        sign = la.slogdet(dd.Dual(a, np.ones((1, 3, 3)))).sign
        assert not isinstance(sign, dd.Dual) and sign == np.sign(d)


def _chol_ref(a):
    """Cholesky-Banachiewicz reading the lower triangle; analytic (no conjugation)."""
    n = a.shape[0]
    L = [[0j] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = a[i, j] - sum(L[i][k] * L[j][k] for k in range(j))
            L[i][j] = np.sqrt(s) if i == j else s / L[j][j]
    return np.array(L)


def test_cholesky():
    x = rnd(16, seed=8)
    check(lambda x: la.cholesky(spd(x, 4)), x, lambda x: _chol_ref(spd(x, 4)))
    # only the lower triangle is read: perturbing the upper one changes nothing
    s = spd(rnd(16, seed=9), 4)
    y = rnd(16, seed=10) * 0.1
    check(lambda y: la.cholesky(s + y.reshape(4, 4)), y, lambda y: _chol_ref(s + y.reshape(4, 4)))
    check(lambda y: la.cholesky(s + y.reshape(4, 4), upper=True), y,
          lambda y: _chol_ref(s + y.reshape(4, 4)).T)


def _sym(x, n=4):
    m = x.reshape(n, n)
    return np.diag(np.arange(1.0, n + 1) * 2) + 0.3 * (m + m.T)


def _signed(v):  # eigenvectors up to sign: fix the sign of the first row
    return v * np.sign(v[:1, :])


def test_eigh():
    x = rnd(16, seed=11)
    check(lambda x: la.eigh(_sym(x)).eigenvalues, x, cd=True, rtol=1e-6, atol=1e-8)
    check(lambda x: la.eigvalsh(_sym(x)), x, cd=True, rtol=1e-6, atol=1e-8)
    check(lambda x: _signed(la.eigh(_sym(x)).eigenvectors), x, cd=True, rtol=1e-6, atol=1e-8)
    # UPLO="U" reads the other triangle
    a = _sym(rnd(16, seed=12))
    y = rnd(16, seed=13) * 0.1
    check(lambda y: la.eigh(a + y.reshape(4, 4), UPLO="U")[0], y, cd=True, rtol=1e-6, atol=1e-8)
    # hand formula for a symmetric direction: dw_i = v_i^T dA v_i
    w, v = la.eigh(a)
    da = np.triu(rnd(4, 4, seed=14))
    da = da + np.triu(da, 1).T
    _, t = dd.jvp(lambda s: la.eigvalsh(a + s * da), 0.0, 1.0)
    np.testing.assert_allclose(t, np.einsum("ji,jk,ki->i", v, da, v), rtol=1e-12)


def test_lstsq_and_pinv():
    x = rnd(12, seed=15)
    b = rnd(6, seed=16)
    a0 = rnd(6, 2, seed=17)

    def normal(a, b):  # solution of the normal equations, analytic
        return la.solve(a.T @ a, a.T @ b)

    check(lambda x: la.lstsq(a0 + 0.1 * x.reshape(6, 2), b)[0], x,
          lambda x: normal(a0 + 0.1 * x.reshape(6, 2), b))
    check(lambda x: la.lstsq(a0, x[:6], rcond=None)[0], x, lambda x: normal(a0, x[:6]))
    check(lambda x: la.lstsq(a0 + 0.1 * x.reshape(6, 2), x.reshape(6, 2))[0], x,
          lambda x: normal(a0 + 0.1 * x.reshape(6, 2), x.reshape(6, 2)))
    check(lambda x: la.lstsq(a0 + 0.1 * x.reshape(6, 2), b)[1], x,
          lambda x: np.sum((b - (a0 + 0.1 * x.reshape(6, 2))
                            @ normal(a0 + 0.1 * x.reshape(6, 2), b)) ** 2, keepdims=True))
    check(lambda x: la.pinv(a0 + 0.1 * x.reshape(6, 2)), x,
          lambda x: la.solve((a0 + 0.1 * x.reshape(6, 2)).T @ (a0 + 0.1 * x.reshape(6, 2)),
                             (a0 + 0.1 * x.reshape(6, 2)).T))
    check(lambda x: la.pinv(x.reshape(2, 6)), x,
          lambda x: la.solve(x.reshape(2, 6) @ x.reshape(2, 6).T, x.reshape(2, 6)).T)
    with pytest.raises(ValueError, match="rank"):
        dd.jacobian(lambda x: la.lstsq(np.ones((3, 2)) * x[0], x)[0], np.ones(3))


def _abs_c(x):  # analytic continuation of |x| away from 0
    return x * np.sign(np.real(x))


VECTOR_NORMS = {
    None: lambda x: np.sqrt(np.sum(x * x)),
    2: lambda x: np.sqrt(np.sum(x * x)),
    1: lambda x: np.sum(_abs_c(x)),
    3: lambda x: np.sum(_abs_c(x) ** 3) ** (1 / 3),
    0.5: lambda x: np.sum(_abs_c(x) ** 0.5) ** 2,
    np.inf: lambda x: _abs_c(x)[np.argmax(np.abs(x))],
    -np.inf: lambda x: _abs_c(x)[np.argmin(np.abs(x))],
}


@pytest.mark.parametrize("ord", list(VECTOR_NORMS), ids=str)
def test_vector_norms(ord):
    x = rnd(5, seed=18)
    check(lambda x: la.norm(x, ord), x, VECTOR_NORMS[ord])
    check(lambda x: la.vector_norm(x, ord=2 if ord is None else ord), x, VECTOR_NORMS[ord])
    m = rnd(3, 4, seed=19)
    ref = VECTOR_NORMS[ord]
    check(lambda m: la.norm(m, ord, axis=1), m, lambda m: np.stack([ref(r) for r in m]))
    check(lambda m: la.norm(m, ord, axis=0, keepdims=True), m,
          lambda m: np.stack([ref(c) for c in m.T])[None, :])


def test_norm_0_counts_and_has_zero_derivative():
    x = np.array([1.0, 0.0, -2.0])
    assert la.norm(x, 0) == 2.0
    same_in_every_mode(lambda x: la.norm(x, 0), x, np.zeros(3))


MATRIX_NORMS = {
    None: lambda m: np.sqrt(np.sum(m * m)),
    "fro": lambda m: np.sqrt(np.sum(m * m)),
    1: lambda m: np.max(np.sum(_abs_c(m), axis=0)),
    -1: lambda m: np.min(np.sum(_abs_c(m), axis=0)),
    np.inf: lambda m: np.max(np.sum(_abs_c(m), axis=1)),
    -np.inf: lambda m: np.min(np.sum(_abs_c(m), axis=1)),
}


@pytest.mark.parametrize("ord", list(MATRIX_NORMS), ids=str)
def test_matrix_norms(ord):
    m = rnd(3, 4, seed=20)
    check(lambda m: la.norm(m, ord), m, MATRIX_NORMS[ord])
    check(lambda m: la.norm(m, ord, keepdims=True), m,
          lambda m: np.reshape(MATRIX_NORMS[ord](m), (1, 1)))
    if ord is not None:
        check(lambda m: la.matrix_norm(m, ord=ord), m, MATRIX_NORMS[ord])
    b = rnd(2, 3, 4, seed=21)
    check(lambda b: la.norm(b, ord, axis=(1, 2)), b,
          lambda b: np.stack([MATRIX_NORMS[ord](m) for m in b]))


@pytest.mark.parametrize("ord", [2, -2, "nuc"])
def test_spectral_norms(ord):
    m = rnd(3, 4, seed=22)
    check(lambda m: la.norm(m, ord), m, cd=True, rtol=1e-6, atol=1e-8)
    check(lambda m: la.norm(m.T, ord), m, cd=True, rtol=1e-6, atol=1e-8)
    check(la.svdvals, m, cd=True, rtol=1e-6, atol=1e-8)
    # hand formula: d sigma_max = u_1^T dM v_1
    u, s, vt = la.svd(m)
    np.testing.assert_allclose(dd.gradient(lambda m: la.norm(m, 2), m),
                               np.outer(u[:, 0], vt[0]), rtol=1e-9)


@pytest.mark.parametrize("ord", [None, 2, 3, 1, np.inf, "fro"])
def test_norm_at_zero_is_finite(ord):
    # convention: at x == 0 the 2-norm (and every p-norm with p > 1, and Frobenius) has
    # derivative 0 (a subgradient), not nan; ord 1 / inf follow |x| (directional).
    x = np.zeros((2, 3)) if ord == "fro" else np.zeros(3)
    with np.errstate(all="raise"):
        jacs = carriers.jacobians(lambda x: la.norm(x, ord), x)
    for path, g in jacs.items():
        assert np.all(np.isfinite(g)), path
        if ord in (None, 2, 3, "fro"):
            assert not g.any(), path


def test_trace_diagonal_outer_cross_from_linalg():
    m = rnd(3, 3, seed=23)
    check(lambda m: la.trace(m), m)
    check(lambda m: la.diagonal(m, offset=1), m)
    check(lambda m: la.outer(m[0], m[1]), m)
    check(lambda m: la.cross(m[0], m[1]), m)
    check(lambda m: la.matrix_transpose(m), m)
    check(lambda m: la.tensordot(m, m, axes=1), m)
    check(lambda m: la.matmul(m, m), m)
    check(lambda m: la.vecdot(m, m[0]), m, lambda m: np.sum(m * m[0], axis=-1))


def _det_laplace(a):
    """det by cofactor expansion along the first row: a polynomial, no division (analytic,
    so its complex step is exact also at singular matrices)."""
    n = a.shape[0]
    if n == 1:
        return a[0, 0]
    return sum((-1) ** j * a[0, j] * _det_laplace(np.delete(a[1:], j, axis=1))
               for j in range(n))


@pytest.mark.parametrize("a", [np.array([[1.0, 2.0], [2.0, 4.0]]), np.zeros((3, 3)),
                               np.array([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]),
                               np.array([[2.0]]), np.arange(4.0).reshape(2, 2),
                               np.arange(16.0).reshape(4, 4),  # rank 2
                               np.outer([1.0, 2, 3, 4], [1.0, -1, 2, 0.5]),  # rank 1
                               np.zeros((4, 4))],
                         ids=["singular2", "zero3", "singular3", "1x1", "regular2",
                              "rank2_4x4", "rank1_4x4", "zero4"])
def test_det_of_small_matrices_is_exact_also_when_singular(a):
    # d det = the adjugate (transposed), which exists at singular matrices (n >= 4 too);
    # reference: the complex step of the cofactor expansion, in every carrier
    check(la.det, a, _det_laplace)


def test_det_of_empty_and_batched_small_matrices():
    assert dd.jacobian(la.det, np.zeros((0, 0))).shape == (0, 0)
    x = rnd(2, 3, 3, seed=30)
    check(la.det, x)


def test_svdvals_value_matches_numpy_for_ill_conditioned_input():
    m = np.diag([3.0, 1.0, 1e-9])
    value, jac = dd.value_and_jacobian(la.svdvals, m)
    np.testing.assert_allclose(value, la.svdvals(m), rtol=1e-14)
    # d sigma_i / d M = u_i v_i^T = e_i e_i^T for a diagonal M
    for i in range(3):
        np.testing.assert_allclose(jac[i], np.outer(np.eye(3)[i], np.eye(3)[i]), atol=1e-6)

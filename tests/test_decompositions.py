"""np.linalg.svd, qr, pinv and det on carriers (dualdiff.decompositions).

References, none sharing code with dualdiff:
* svd: singular values and vectors are not analytic in the complex-step sense (LAPACK
  conjugates), so sign-invariant functions of them (s_i, u_i u_i^T, u_i v_i^T) are
  differentiated by central differences on mpmath's SVD at 40 digits (h = 1e-15: truncation
  h^2 |f'''| ~ 1e-30, rounding 1e-40 / h ~ 1e-25, so exact to double precision), and the hand
  formula ds_i = u_i^T dA v_i; second derivatives against the complex step of hand gradients
  (sum s^4 = tr((A^T A)^2) has gradient 4 A A^T A) or central differences of the hand
  gradient U diag(w) V^T (h = 1e-6: truncation ~1e-12 |f'''|, rounding ~1e-10; rtol 1e-6).
* qr: complex step of a Gram-Schmidt QR written with non-conjugating transposes (analytic; it
  gives the QR with positive diag R, so dualdiff's factors are normalised by the constant signs
  of diag R).
* pinv: complex step of the normal-equation formulas, valid where they are exact (full rank,
  or a rank-r product B C with B, C of full rank r).
* det: cofactors (plain np.linalg.det of minors) for the gradient; complex step of the
  cofactors (polynomials) for the Hessian, and of the signed second-order minors for the third
  derivative.
Second derivatives where no exact reference exists: the complex step of the gradient
differenced centrally (h = 1e-5: truncation h^2/6 |f''''| ~ 1e-11, rounding eps |f'| / h
~ 1e-11; rtol 1e-7).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from carriers import check_first
from refs import cd_jacobian, cs_jacobian, rnd

import dualdiff as dd
from dualdiff.core import primal

la = np.linalg
MODES = ({"mode": "forward", "chunk": 1}, {"mode": "forward"}, {"mode": "reverse"})



def T(x):
    return np.swapaxes(x, -1, -2)


def check(f, x, ref, rtol=1e-12, atol=1e-13):
    """Every carrier's Jacobian (tests/carriers.py) against ref, atol absolute."""
    scale = max(1.0, float(np.max(np.abs(ref), initial=0.0)))
    check_first(f, x, ref, rtol=rtol, atol=atol / scale)


def check_duality(f, x, seed=0):
    """<w, J t> from one forward pass equals <w J, t> from one reverse sweep."""
    t, w = rnd(*np.shape(x), seed=seed), None
    y, jt = dd.jvp(f, x, t)
    w = rnd(*np.shape(y), seed=seed + 1)
    _, pullback = dd.vjp(f, x)
    lhs, rhs = np.sum(w * jt), np.sum(pullback(w) * t)
    assert abs(lhs - rhs) <= 1e-12 * (np.sum(np.abs(w * jt)) + 1.0)


def check_hessian(f, x, ref, rtol=1e-7, atol=1e-9):
    for method in ("hyperdual", "forward-over-reverse"):
        np.testing.assert_allclose(dd.hessian(f, x, method=method), ref, rtol=rtol, atol=atol,
                                   err_msg=method)


def cs_cd_hessian(g, x):
    return cd_jacobian(lambda y: cs_jacobian(g, y), x, h=1e-5)


def flat(*parts):
    return np.concatenate([np.reshape(p, (-1,)) for p in parts])


# -- SVD ---------------------------------------------------------------------------------

def svd_invariants(u, s, vh):
    """s, u_i u_i^T and u_i v_i^T: smooth, independent of the sign of each singular pair."""
    k = np.shape(s)[-1]
    uu, vv = u[..., :, :k], vh[..., :k, :]
    return flat(s, np.einsum("...ik,...jk->...kij", uu, uu),
                np.einsum("...ik,...kj->...kij", uu, vv))


def mp_svd_invariants(a):
    with mpmath.workdps(40):
        u, s, v = mpmath.svd_r(mpmath.matrix(a), full_matrices=False, compute_uv=True)
        k = len(s)
        cols = [[u[i, c] for i in range(u.rows)] for c in range(k)]
        rows = [[v[c, j] for j in range(v.cols)] for c in range(k)]
        out = list(s)
        out += [x * y for c in range(k) for x in cols[c] for y in cols[c]]
        out += [x * y for c in range(k) for x in cols[c] for y in rows[c]]
        return out


def mp_jacobian(f, a, h=mpmath.mpf("1e-15")):
    """Central differences at 40 digits of f (list of mpf) at the float matrix a."""
    cols = []
    with mpmath.workdps(40):
        base = [[mpmath.mpf(float(v)) for v in row] for row in a]
        for i in range(a.shape[0]):
            for j in range(a.shape[1]):
                up = [r[:] for r in base]
                dn = [r[:] for r in base]
                up[i][j] += h
                dn[i][j] -= h
                cols.append([(p - q) / (2 * h) for p, q in zip(f(up), f(dn))])
    return np.array(cols, dtype=float).T.reshape(-1, *a.shape)


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3)])
def test_svd_singular_vectors_against_mpmath(shape):
    a = rnd(*shape, seed=1)
    ref = mp_jacobian(mp_svd_invariants, a)
    check(lambda x: svd_invariants(*la.svd(x, full_matrices=False)), a, ref, rtol=1e-11,
          atol=1e-12)
    check(lambda x: svd_invariants(*la.svd(x)), a, ref, rtol=1e-11, atol=1e-12)
    check_duality(lambda x: flat(*la.svd(x)), a)


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (2, 4, 3)])
def test_singular_values_hand_formula(shape):
    # ds_i / dA = u_i v_i^T, also for stacks (block diagonal over the batch)
    a = rnd(*shape, seed=2)
    u, s, vh = la.svd(a, full_matrices=False)
    k = s.shape[-1]
    grad = np.einsum("...ik,...kj->...kij", u, vh)  # (..., k, m, n)
    ref = grad if a.ndim == 2 else np.stack(
        [np.stack([grad[i] if j == i else np.zeros_like(grad[i]) for j in range(2)], axis=1)
         for i in range(2)])
    check(lambda x: la.svd(x, compute_uv=False), a, ref)
    check(lambda x: la.svd(x)[1], a, ref)
    assert ref.shape == s.shape + a.shape and k == 3


def test_svd_values_are_numpys():
    for shape in [(4, 3), (3, 4), (2, 3, 3)]:
        a = rnd(*shape, seed=3)
        d = dd.Dual(a, np.ones((1,) + shape))
        for fm in (True, False):
            for got, want in zip(la.svd(d, full_matrices=fm), la.svd(a, full_matrices=fm)):
                np.testing.assert_array_equal(got.value, want)
        np.testing.assert_array_equal(la.svd(d, compute_uv=False).value,
                                      la.svd(a, compute_uv=False))
        assert type(la.svd(d)) is type(la.svd(a))


@pytest.mark.parametrize("shape", [(5, 3), (3, 5)])
def test_svd_full_matrices_complement(shape):
    # the extra columns are a basis of the complement: U_perp U_perp^T = I - U U^T is
    # basis independent, and [U, U_perp] stays orthogonal to first order
    a = rnd(*shape, seed=4)
    m, n = shape
    k = min(shape)

    def proj(x, mod=np):
        u, s, vh = mod.linalg.svd(x) if mod is np else mod(x)
        return (u[:, k:] @ T(u[:, k:]) if m > n else T(vh[k:]) @ vh[k:])

    def ref_proj(x):  # I - U U^T (or I - V V^T) from the reduced factors
        u, s, vh = la.svd(x, full_matrices=False)
        return -(u @ u.T if m > n else vh.T @ vh)

    check(proj, a, cd_jacobian(ref_proj, a), rtol=1e-6, atol=1e-8)
    j = dd.jacobian(lambda x: la.svd(x)[0 if m > n else 2], a)  # (p, p, m, n)
    full = la.svd(a)[0 if m > n else 2]
    w = np.einsum("ji,jkab->ikab", full, j)  # full^T dfull: antisymmetric in (i, k)
    np.testing.assert_allclose(w, -np.swapaxes(w, 0, 1), atol=1e-12)


def test_svd_hermitian_reads_the_lower_triangle():
    a = rnd(4, 4, seed=5)
    a = a + a.T + np.diag([8.0, -5.0, 2.0, 0.5])  # distinct |eigenvalues|
    f = lambda x: la.svd(x, hermitian=True, compute_uv=False)  # noqa: E731
    ref = cd_jacobian(f, a)
    assert np.all(ref[:, np.triu_indices(4, 1)[0], np.triu_indices(4, 1)[1]] == 0)
    check(f, a, ref, rtol=1e-7, atol=1e-8)
    check(lambda x: la.svd(x, hermitian=True)[1], a, ref, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("shape", [(4, 3), (3, 4)])
def test_svd_second_derivatives(shape):
    a = rnd(*shape, seed=6)
    w = np.array([3.0, 2.0, 0.5])

    def hand_gradient(x):  # d(sum w_i s_i) = U diag(w) V^T
        u, s, vh = la.svd(x, full_matrices=False)
        return (u * w) @ vh

    ref = cd_jacobian(hand_gradient, a).reshape(a.size, a.size)
    hs = [lambda x: np.sum(w * la.svd(x.reshape(shape), compute_uv=False)),
          lambda x: np.sum(w * la.svd(x.reshape(shape))[1])]
    for h in hs:
        check_hessian(h, a.ravel(), ref, rtol=1e-6, atol=1e-8)
    # sum s^4 = tr((A^T A)^2): exact Hessian from the complex step of 4 A A^T A
    ref = cs_jacobian(lambda x: 4 * x @ x.T @ x, a).reshape(a.size, a.size)
    check_hessian(lambda x: np.sum(la.svd(x.reshape(shape))[1] ** 4), a.ravel(), ref,
                  rtol=1e-12, atol=1e-11)


def _with_singular_values(s, m, seed):
    q1, _ = la.qr(rnd(m, m, seed=seed))
    q2, _ = la.qr(rnd(len(s), len(s), seed=seed + 1))
    return q1[:, :len(s)] @ np.diag(s) @ q2.T


def test_svd_degenerate_points_give_nan_and_only_there():
    # repeated singular value: s_0 = s_1 have no derivative; s_2's stays exact
    a = _with_singular_values([2.0, 2.0, 1.0], 4, seed=7)
    u, s, vh = la.svd(a, full_matrices=False)
    for kw in MODES:
        j = dd.jacobian(lambda x: la.svd(x, compute_uv=False), a, **kw)
        assert np.all(np.isnan(j[:2])), kw
        np.testing.assert_allclose(j[2], np.outer(u[:, 2], vh[2]), rtol=1e-12, atol=1e-13)
        ju = dd.jacobian(lambda x: la.svd(x)[0], a, **kw)
        assert np.all(np.isnan(ju[:, :2])) and np.all(np.isnan(ju[:, 3]))  # U_perp too
        assert not np.any(np.isnan(ju[:, 2]))
    # reverse mode: only a cotangent that reaches a degenerate output gives nan
    assert np.all(np.isfinite(dd.gradient(lambda x: la.svd(x)[1][2], a, mode="reverse")))
    assert np.all(np.isnan(dd.gradient(lambda x: la.svd(x)[1][0], a, mode="reverse")))
    # zero singular value (rank 2): s_2, u_2, v_2 have none; u_0 u_0^T keeps an exact one
    b = _with_singular_values([3.0, 2.0, 0.0], 4, seed=8)

    def u0(x):
        u = la.svd(x, full_matrices=False)[0]
        return u[:, 0:1] @ T(u[:, 0:1])

    for kw in MODES:
        j = dd.jacobian(lambda x: la.svd(x, compute_uv=False), b, **kw)
        assert np.all(np.isnan(j[2])) and np.all(np.isfinite(j[:2]))
        check(u0, b, cd_jacobian(u0, b), rtol=1e-6, atol=1e-8)
    j = dd.jacobian(lambda x: la.svd(x, full_matrices=False)[2], b)
    assert np.all(np.isnan(j[2])) and np.all(np.isfinite(j[:2]))


# -- QR ----------------------------------------------------------------------------------

def gram_schmidt(a):
    """QR with positive diag R by modified Gram-Schmidt, analytic (no conjugation)."""
    m, n = a.shape[-2:]
    k = min(m, n)
    q = np.zeros(a.shape[:-1] + (k,), dtype=a.dtype)
    r = np.zeros(a.shape[:-2] + (k, n), dtype=a.dtype)
    for j in range(k):
        v = a[..., :, j]
        for i in range(j):
            r[..., i, j] = np.sum(q[..., :, i] * v, axis=-1)
            v = v - r[..., i, j][..., None] * q[..., :, i]
        r[..., j, j] = np.sqrt(np.sum(v * v, axis=-1))
        q[..., :, j] = v / r[..., j, j][..., None]
    for j in range(k, n):
        r[..., :, j] = np.einsum("...mi,...m->...i", q, a[..., :, j])
    return q, r


def qr_normalised(x, mode):
    """Q, R with diag R > 0 (constant signs from the primal), and the complement projector."""
    if mode == "r":
        r = la.qr(x, mode="r")
        d = np.sign(np.diagonal(primal(r), axis1=-2, axis2=-1))
        return flat(r * d[..., :, None])
    q, r = la.qr(x, mode=mode)
    d = np.sign(np.diagonal(primal(r), axis1=-2, axis2=-1))
    k = d.shape[-1]
    parts = [q[..., :, :k] * d[..., None, :], r[..., :k, :] * d[..., :, None]]
    if q.shape[-1] > k:
        parts.append(q[..., :, k:] @ T(q[..., :, k:]))
    if r.shape[-2] > k:
        parts.append(r[..., k:, :])
    return flat(*parts)


def qr_reference(x, mode):
    q, r = gram_schmidt(x)
    m, n = x.shape[-2:]
    if mode == "r":
        return flat(r)
    parts = [q, r]
    if mode == "complete" and m > n:
        parts += [np.eye(m) - q @ T(q), np.zeros(x.shape[:-2] + (m - n, n))]
    return flat(*parts)


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3), (2, 4, 2)])
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
def test_qr_against_gram_schmidt(shape, mode):
    a = rnd(*shape, seed=9)
    check(lambda x: qr_normalised(x, mode), a, cs_jacobian(lambda x: qr_reference(x, mode), a))
    d = dd.Dual(a, np.ones((1,) + shape))
    got, want = la.qr(d, mode=mode), la.qr(a, mode=mode)
    for g, w in zip(*((got, want) if mode != "r" else ((got,), (want,)))):
        np.testing.assert_array_equal(g.value, w)


def test_qr_duality_and_second_derivatives():
    a = rnd(4, 3, seed=10)
    check_duality(lambda x: flat(*la.qr(x, mode="complete")), a)
    check_duality(lambda x: flat(*la.qr(x)), a[:3].T.copy())
    c = rnd(4, 3, seed=11)

    def f(x, qr=None):
        x = x.reshape(4, 3)
        if qr is None:
            q, r = la.qr(x)
            d = np.sign(np.diagonal(primal(r)))
            q, r = q * d, r * d[:, None]
        else:
            q, r = qr(x)
        return np.sum(c * q) + np.sum(r[:, 1:] ** 3)

    check_hessian(f, a.ravel(), cs_cd_hessian(lambda x: f(x, gram_schmidt), a.ravel()))


def test_qr_degenerate_and_raw():
    a = np.array([[1.0, 2.0], [2.0, 4.0], [0.0, 0.0]])  # rank 1: R_11 = 0
    for kw in MODES:
        assert np.all(np.isnan(dd.jacobian(lambda x: la.qr(x)[1], a, **kw)))
    with pytest.raises(ValueError, match="raw"):
        la.qr(dd.Dual(a, np.ones((1, 3, 2))), mode="raw")


# -- pinv --------------------------------------------------------------------------------

def normal_pinv(x):
    return la.solve(T(x) @ x, T(x)) if x.shape[-2] >= x.shape[-1] else T(la.solve(x @ T(x), x))


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3), (2, 4, 3)])
def test_pinv_full_rank(shape):
    a = rnd(*shape, seed=12)
    check(la.pinv, a, cs_jacobian(normal_pinv, a))


def test_pinv_values_are_numpys_including_rank_deficient():
    rank2 = rnd(4, 2, seed=13) @ rnd(2, 3, seed=14)
    small = _with_singular_values([3.0, 1.0, 1e-3], 4, seed=15)
    sym = rank2 @ rank2.T
    cases = [(rank2, {}), (rank2.T, {}), (np.zeros((3, 2)), {}), (small, {"rcond": 1e-2}),
             (small, {"rtol": 1e-2}), (small, {"rtol": None}), (small, {}),
             (np.stack([rank2, small]), {"rcond": np.array([1e-15, 1e-2])}),
             (sym, {"hermitian": True})]
    for a, kw in cases:
        got = la.pinv(dd.Dual(a, np.ones((1,) + a.shape)), **kw).value
        np.testing.assert_array_equal(got, la.pinv(a, **kw), err_msg=str(kw))
    # the old normal equations were wrong here: pinv(rank2) is not (A^T A)^-1 A^T
    assert np.allclose(rank2 @ la.pinv(dd.Dual(rank2, np.ones((1, 4, 3)))).value @ rank2, rank2)


def test_pinv_rank_deficient_family():
    # A(x) = B C, rank 2 for every x: pinv(A) = C^T (C C^T)^-1 (B^T B)^-1 B^T
    x0 = np.concatenate([rnd(8, seed=16), rnd(6, seed=17)])

    def prod(x):
        return x[:8].reshape(4, 2) @ x[8:].reshape(2, 3)

    def ref(x):
        b, c = x[:8].reshape(4, 2), x[8:].reshape(2, 3)
        return c.T @ la.solve(c @ c.T, la.solve(b.T @ b, b.T))

    check(lambda x: la.pinv(prod(x)), x0, cs_jacobian(ref, x0), rtol=1e-11, atol=1e-12)
    check_hessian(lambda x: np.sum(la.pinv(prod(x)) ** 2), x0,
                  cs_cd_hessian(lambda x: np.sum(ref(x) ** 2), x0))
    check_duality(lambda x: la.pinv(prod(x)), x0)


def test_pinv_generic_direction_at_rank_deficient_matrix():
    # with a cutoff the perturbed small singular value stays cut: NumPy's pinv is smooth
    # there, and its central difference (h = 1e-6, rtol 1e-5) checks Golub-Pereyra
    a = rnd(4, 2, seed=18) @ rnd(2, 3, seed=19)
    f = lambda x: la.pinv(x, rcond=1e-3)  # noqa: E731
    check(f, a, cd_jacobian(f, a), rtol=1e-5, atol=1e-7)


def test_pinv_hermitian_reads_the_lower_triangle():
    a = rnd(3, 3, seed=20)
    a = a + a.T
    f = lambda x: la.pinv(x, hermitian=True)  # noqa: E731
    check(f, a, cd_jacobian(f, a), rtol=1e-6, atol=1e-8)


# -- det ---------------------------------------------------------------------------------

def cofactors(a):
    n = a.shape[-1]
    c = np.zeros_like(a)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, axis=-2), j, axis=-1)
            c[..., i, j] = (-1) ** (i + j) * la.det(minor)
    return c


def second_cofactors(a):
    """d^2 det / da_ij da_kl: the signed minor without rows i, k and columns j, l."""
    n = a.shape[-1]
    h = np.zeros((n,) * 4, dtype=a.dtype)
    for i in range(n):
        for k in range(n):
            for j in range(n):
                for l in range(n):  # noqa: E741
                    if i == k or j == l:
                        continue
                    minor = np.delete(np.delete(a, [i, k], axis=0), [j, l], axis=1)
                    sign = (-1) ** (i + j + k + l) * (1 if (i < k) == (j < l) else -1)
                    h[i, j, k, l] = sign * la.det(minor)
    return h


def low_rank(n, r, seed):
    return rnd(n, r, seed=seed) @ rnd(r, n, seed=seed + 1)


@pytest.mark.parametrize("n, r", [(4, 3), (4, 2), (5, 4), (5, 3), (4, 4), (3, 2), (2, 2)])
def test_det_gradient_is_the_adjugate_transpose(n, r):
    a = low_rank(n, r, seed=21)
    ref = cofactors(a)
    scale = np.abs(a).max() ** (n - 1)
    check(la.det, a, ref, rtol=1e-12, atol=1e-14 * scale)
    np.testing.assert_array_equal(dd.jvp(la.det, a, a)[0], la.det(a))


@pytest.mark.parametrize("n, r", [(4, 3), (4, 2), (5, 3)])
def test_det_second_and_third_derivatives_at_singular_matrices(n, r):
    a = low_rank(n, r, seed=22)
    scale = np.abs(a).max() ** (n - 2)
    check_hessian(la.det, a, cs_jacobian(cofactors, a), rtol=1e-12, atol=1e-13 * scale)
    if n == 4:  # order 3: a Dual over a HyperDual pass
        third = dd.jacobian(lambda x: dd.hessian(la.det, x, method="hyperdual"), a,
                            mode="forward")
        np.testing.assert_allclose(third, cs_jacobian(second_cofactors, a), atol=1e-12)


def test_det_log_hessian_and_complex_step():
    a = rnd(4, 4, seed=23) + 2 * np.eye(4)
    check(la.det, a, cs_jacobian(la.det, a))
    inv = la.inv(a)
    ref = -np.einsum("jk,li->ijkl", inv, inv)  # d^2 log|det A| = -tr(A^-1 E A^-1 F)
    check_hessian(lambda x: np.log(np.abs(la.det(x))), a, ref, rtol=1e-11, atol=1e-12)


def test_det_batched_values_and_gradients():
    a = np.stack([low_rank(4, 3, seed=24), rnd(4, 4, seed=25), low_rank(4, 2, seed=26)])
    np.testing.assert_array_equal(dd.jvp(la.det, a, a)[0], la.det(a))
    ref = np.zeros((3, 3, 4, 4))
    for i in range(3):
        ref[i, i] = cofactors(a[i])
    check(la.det, a, ref, rtol=1e-12, atol=1e-13)


def test_public_functions_have_a_doctest():
    import inspect

    import dualdiff.decompositions as mod

    missing = [n for n in mod.__all__ if ">>>" not in (inspect.getdoc(getattr(mod, n)) or "")]
    missing += [n for n, f in vars(mod).items() if inspect.isfunction(f) and not n.startswith("_")
                and f.__module__ == mod.__name__ and ">>>" not in (f.__doc__ or "")]
    assert not missing
    assert la.svd in dd.core.HANDLED and la.qr not in dd.core.REFUSED

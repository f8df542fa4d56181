"""dualdiff.scipy.linalg against references that share no code with dualdiff.

Complex step (exact to rounding for analytic functions) of plain NumPy / SciPy:
* solve_triangular, cho_solve, lu_solve, solve_banded, det, inv, solve: np.linalg.solve / inv /
  det (LU without conjugation: analytic) on the matrix the SciPy function reads, written out
  by hand (a triangle, a band, a symmetric matrix from one triangle);
* lu_factor: SciPy's own (getrf is analytic; pivots chosen on |.| do not see an imaginary part
  of 1e-200);
* cho_factor: a hand Cholesky reading the same triangle;
* expm: a hand Taylor series with scaling and squaring;
* sqrtm: the Denman-Beavers iteration (inverses only: analytic); SciPy's Schur method is not
  analytic in the complex-step sense;
* solve_sylvester: the Kronecker form (I (x) A + B^T (x) I) vec X = vec Q.
Second derivatives: the complex step of the gradient differenced centrally
(h = 1e-5: truncation h^2/6 |f''''| ~ 1e-11, rounding eps |f'| / h ~ 1e-11; rtol 1e-7).
SciPy's own values are compared where dualdiff returns them (fall-through, factors).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import scipy.linalg as sl
from carriers import check_first, check_hessians
from refs import cs_cd_hessian, cs_jacobian, rnd

import dualdiff as dd
import dualdiff.scipy
import dualdiff.scipy.linalg as dl

check_hessian = functools.partial(check_hessians, rtol=1e-7, atol=1e-9)


def check(f, x, ref, rtol=1e-12, atol=1e-13):
    """Every carrier's Jacobian (tests/carriers.py) against ref, atol absolute."""
    scale = max(1.0, float(np.max(np.abs(ref), initial=0.0)))
    check_first(f, x, ref, rtol=rtol, atol=atol / scale)


def check_duality(f, x, seed=0):
    t = rnd(*np.shape(x), seed=seed)
    y, jt = dd.jvp(f, x, t)
    w = rnd(*np.shape(y), seed=seed + 1)
    _, pullback = dd.vjp(f, x)
    lhs, rhs = np.sum(w * jt), np.sum(pullback(w) * t)
    assert abs(lhs - rhs) <= 1e-12 * (np.sum(np.abs(w * jt)) + 1.0)


N = 3
A = rnd(N, N, seed=1) + 3 * np.eye(N)


def spd(x):
    m = x.reshape(N, N)
    return m @ m.T + N * np.eye(N)


def split(x, *shapes):
    out, start = [], 0
    for s in shapes:
        size = int(np.prod(s))
        out.append(x[start:start + size].reshape(s))
        start += size
    return out


# -- falling through -------------------------------------------------------------------

def test_plain_arguments_fall_through_to_scipy():
    b, ab = rnd(N, 2, seed=2), np.array([[0.0, 1.0, 2.0], [4.0, 5.0, 6.0], [1.0, 1.0, 0.0]])
    s = spd(rnd(N * N, seed=3))
    calls = [
        ("solve_triangular", (A, b), {"trans": "T", "lower": True, "unit_diagonal": True}),
        ("cho_factor", (s,), {"lower": True}), ("lu_factor", (A,), {}),
        ("cho_solve", (sl.cho_factor(s), b), {}), ("lu_solve", (sl.lu_factor(A), b), {"trans": 1}),
        ("expm", (A,), {}), ("sqrtm", (s,), {}), ("solve_sylvester", (A, s, b[:, :1] * s), {}),
        ("solve_banded", ((1, 1), ab, b), {}), ("det", (A,), {}),
        ("inv", (s,), {"assume_a": "pos"}), ("solve", (A, b), {"transposed": True}),
    ]
    for name, args, kw in calls:
        got, want = getattr(dl, name)(*args, **kw), getattr(sl, name)(*args, **kw)
        assert type(got) is type(want), name
        for g, w in zip(got if isinstance(got, tuple) else (got,),
                        want if isinstance(want, tuple) else (want,)):
            np.testing.assert_array_equal(g, w, err_msg=name)
    assert set(dl.__all__) <= set(dir(sl))


# -- solve_triangular ---------------------------------------------------------------------

def read_triangle(a, trans, lower, unit):
    """op(T) for the triangle T that solve_triangular reads."""
    t = np.tril(a) if lower else np.triu(a)
    if unit:
        t = t - t * np.eye(a.shape[-1]) + np.eye(a.shape[-1])
    return np.swapaxes(t, -1, -2) if trans not in (0, "N") else t


@pytest.mark.parametrize("trans", [0, 1])
@pytest.mark.parametrize("lower", [False, True])
@pytest.mark.parametrize("unit", [False, True])
def test_solve_triangular(trans, lower, unit):
    a = A + 2 * rnd(N, N, seed=29)  # both triangles dense: only one is read
    for bshape in [(N,), (N, 2)]:
        x0 = np.concatenate([a.ravel(), rnd(*bshape, seed=4).ravel()])

        def f(x):
            m, b = split(x, (N, N), bshape)
            return dl.solve_triangular(m, b, trans=trans, lower=lower, unit_diagonal=unit)

        def ref(x):
            m, b = split(x, (N, N), bshape)
            return np.linalg.solve(read_triangle(m, trans, lower, unit), b)

        check(f, x0, cs_jacobian(ref, x0))
        b0 = x0[N * N:].reshape(bshape)
        got = dl.solve_triangular(dd.Dual(a, np.ones((1, N, N))), b0, trans=trans, lower=lower,
                                  unit_diagonal=unit).value
        want = sl.solve_triangular(a, b0, trans=trans, lower=lower, unit_diagonal=unit)
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)
    check_duality(f, x0)
    for alias in {0: ("N",), 1: (2, "T", "C")}[trans]:  # the same function on real input
        np.testing.assert_array_equal(
            dd.jacobian(lambda x: dl.solve_triangular(*split(x, (N, N), bshape), trans=alias,
                                                      lower=lower, unit_diagonal=unit), x0,
                        mode="forward"),
            dd.jacobian(f, x0, mode="forward"))


def test_solve_triangular_batched():
    shapes = [((2, N, N), (2, N, 2)), ((N, N), (2, N, 2)), ((2, N, N), (N, 2)),
              ((2, N, N), (N,))]
    for ashape, bshape in shapes:
        x0 = np.concatenate([(rnd(*ashape, seed=5) + 3 * np.eye(N)).ravel(),
                             rnd(*bshape, seed=6).ravel()])

        def f(x):
            a, b = split(x, ashape, bshape)
            return dl.solve_triangular(a, b, lower=True)

        def ref(x):
            a, b = split(x, ashape, bshape)
            return np.linalg.solve(np.tril(a), b)

        check(f, x0, cs_jacobian(ref, x0))
        a, b = split(x0, ashape, bshape)
        np.testing.assert_allclose(f(x0), sl.solve_triangular(a, b, lower=True), rtol=1e-14)


# -- Cholesky and LU factor objects ----------------------------------------------------------

def hand_cholesky_factor(a, lower):
    """SciPy's c: the factor in the read triangle, a's entries in the other one."""
    s = np.tril(a) + np.tril(a, -1).T if lower else np.triu(a) + np.triu(a, 1).T
    low = np.zeros_like(a)
    for i in range(N):
        for j in range(i + 1):
            r = s[i, j] - np.sum(low[i, :j] * low[j, :j])
            low[i, j] = np.sqrt(r) if i == j else r / low[j, j]
    return low + np.triu(a, 1) if lower else low.T + np.tril(a, -1)


@pytest.mark.parametrize("lower", [False, True])
def test_cho_factor_and_cho_solve(lower):
    y = spd(rnd(N * N, seed=7)) + 0.1 * rnd(N, N, seed=8)  # not symmetric: one triangle read
    check(lambda a: dl.cho_factor(a, lower=lower)[0], y,
          cs_jacobian(lambda a: hand_cholesky_factor(a, lower), y))
    c, low = dl.cho_factor(dd.Dual(y, np.ones((1, N, N))), lower=lower)
    want = sl.cho_factor(y, lower=lower)
    np.testing.assert_array_equal(c.value, want[0])
    assert low is want[1]
    # cho_solve(cho_factor(A), b) has the derivatives of solve(A, b) in A and b
    for bshape in [(N, 2), (N,)]:  # the Hessian below on the last (vector) case
        x0 = np.concatenate([rnd(N * N, seed=9), rnd(*bshape, seed=10).ravel()])

        def f(x):
            m, b = split(x, (N * N,), bshape)
            return dl.cho_solve(dl.cho_factor(spd(m), lower=lower), b)

        def ref(x):
            m, b = split(x, (N * N,), bshape)
            return np.linalg.solve(spd(m), b)

        check(f, x0, cs_jacobian(ref, x0))
    check_hessian(lambda x: np.sum(f(x) ** 2), x0, cs_cd_hessian(lambda x: np.sum(ref(x) ** 2), x0))
    check_duality(f, x0)


@pytest.mark.parametrize("trans", [0, 1])
def test_lu_factor_and_lu_solve(trans):
    a = rnd(N, N, seed=11)  # pivoting needed
    check(lambda x: dl.lu_factor(x)[0], a, cs_jacobian(lambda x: sl.lu_factor(x)[0], a))
    lu, piv = dl.lu_factor(dd.Dual(a, np.ones((1, N, N))))
    np.testing.assert_array_equal(lu.value, sl.lu_factor(a)[0])
    np.testing.assert_array_equal(piv, sl.lu_factor(a)[1])
    for bshape in [(N, 2), (N,)]:  # the Hessian below on the last (vector) case
        x0 = np.concatenate([a.ravel(), rnd(*bshape, seed=12).ravel()])

        def f(x):
            m, b = split(x, (N, N), bshape)
            return dl.lu_solve(dl.lu_factor(m), b, trans=trans)

        def ref(x):
            m, b = split(x, (N, N), bshape)
            return np.linalg.solve(m.T if trans else m, b)

        check(f, x0, cs_jacobian(ref, x0))
    check_hessian(lambda x: np.sum(f(x) ** 2), x0, cs_cd_hessian(lambda x: np.sum(ref(x) ** 2), x0))
    check_duality(f, x0)


def test_factor_of_a_batch_is_refused():
    d = dd.Dual(np.stack([A, A]), np.ones((1, 2, N, N)))
    for f in (dl.cho_factor, dl.lu_factor):
        with pytest.raises(ValueError, match="loop over the matrices"):
            f(d)


# -- expm, sqrtm, solve_sylvester -----------------------------------------------------------

def taylor_expm(a):
    """Scaling and squaring of a 30-term Taylor series: analytic, accurate for small norms."""
    s = 4
    x = a / 2.0**s
    term = total = np.eye(a.shape[-1]) + 0 * x
    for k in range(1, 30):
        term = term @ x / k
        total = total + term
    for _ in range(s):
        total = total @ total
    return total


def test_expm():
    a = rnd(N, N, seed=13)
    assert np.allclose(taylor_expm(a), sl.expm(a), rtol=1e-13)
    check(dl.expm, a, cs_jacobian(taylor_expm, a), rtol=1e-11, atol=1e-12)
    ab = rnd(2, 2, 2, seed=14)
    check(dl.expm, ab, cs_jacobian(taylor_expm, ab), rtol=1e-11, atol=1e-12)
    a2, c = rnd(2, 2, seed=15), rnd(2, 2, seed=30)
    check_hessian(lambda x: np.sum(c * dl.expm(x)), a2,
                  cs_cd_hessian(lambda x: np.sum(c * taylor_expm(x)), a2))
    check_duality(dl.expm, a)
    np.testing.assert_array_equal(dd.jvp(dl.expm, a, a)[0], sl.expm(a))


def denman_beavers(a):
    y, z = a, np.eye(a.shape[-1]) + 0 * a
    for _ in range(30):
        y, z = 0.5 * (y + np.linalg.inv(z)), 0.5 * (z + np.linalg.inv(y))
    return y


def test_sqrtm():
    s = spd(rnd(N * N, seed=16)) + 0.3 * rnd(N, N, seed=17)  # not symmetric
    assert np.allclose(denman_beavers(s), sl.sqrtm(s))
    check(dl.sqrtm, s, cs_jacobian(denman_beavers, s))
    s2, c = s[:2, :2], rnd(2, 2, seed=18)
    check_hessian(lambda x: np.sum(c * dl.sqrtm(x)), s2,
                  cs_cd_hessian(lambda x: np.sum(c * denman_beavers(x)), s2))
    check_duality(dl.sqrtm, s)
    with pytest.raises(TypeError, match="complex"):
        dl.sqrtm(dd.Dual(-np.eye(2), np.ones((1, 2, 2))))
    with pytest.raises(TypeError, match="disp"):
        dl.sqrtm(dd.Dual(np.eye(2), np.ones((1, 2, 2))), disp=False)


def kron_sylvester(a, b, q):
    n, m = q.shape
    k = np.kron(np.eye(m), a) + np.kron(b.T, np.eye(n))
    return np.linalg.solve(k, q.T.ravel()).reshape(m, n).T


def test_solve_sylvester():
    b = rnd(2, 2, seed=19) + 2 * np.eye(2)
    q = rnd(N, 2, seed=20)
    x0 = np.concatenate([A.ravel(), b.ravel(), q.ravel()])
    shapes = ((N, N), (2, 2), (N, 2))

    def f(x):
        return dl.solve_sylvester(*split(x, *shapes))

    def ref(x):
        return kron_sylvester(*split(x, *shapes))

    check(f, x0, cs_jacobian(ref, x0))
    check_duality(f, x0)
    s2 = ((2, 2),) * 3
    x2 = np.concatenate([A[:2, :2].ravel(), b.ravel(), q[:2].ravel()])
    check_hessian(lambda x: np.sum(dl.solve_sylvester(*split(x, *s2)) ** 3), x2,
                  cs_cd_hessian(lambda x: np.sum(kron_sylvester(*split(x, *s2)) ** 3), x2))
    # a batch of right-hand sides against one (A, B): A and B adjoints sum over the batch
    qb = rnd(2, N, 2, seed=21)
    x1 = np.concatenate([A.ravel(), b.ravel(), qb.ravel()])
    shapes1 = ((N, N), (2, 2), (2, N, 2))
    check(lambda x: dl.solve_sylvester(*split(x, *shapes1)), x1,
          cs_jacobian(lambda x: np.stack([kron_sylvester(*split(x, *shapes1)[:2], qq)
                                          for qq in split(x, *shapes1)[2]]), x1))


# -- solve_banded, det, inv, solve ------------------------------------------------------------

@pytest.mark.parametrize("l_and_u", [(1, 1), (0, 2), (2, 0), (1, 2)])
def test_solve_banded(l_and_u):
    n = 5
    low, up = l_and_u
    ab = rnd(low + up + 1, n, seed=22)
    ab[up] += 5.0  # diagonally dominant
    for bshape in [(n,), (n, 2)]:
        x0 = np.concatenate([ab.ravel(), rnd(*bshape, seed=23).ravel()])

        def f(x):
            m, b = split(x, ab.shape, bshape)
            return dl.solve_banded(l_and_u, m, b)

        def ref(x):
            m, b = split(x, ab.shape, bshape)
            dense = np.zeros((n, n), dtype=m.dtype)
            for i in range(n):
                for j in range(max(0, i - low), min(n, i + up + 1)):
                    dense[i, j] = m[up + i - j, j]
            return np.linalg.solve(dense, b)

        check(f, x0, cs_jacobian(ref, x0))
        want = sl.solve_banded(l_and_u, ab, x0[ab.size:].reshape(bshape))
        np.testing.assert_allclose(f(x0), want, rtol=1e-13)
    check_duality(f, x0)


def test_det_inv_solve_general():
    x0 = np.concatenate([A.ravel(), rnd(N, seed=24)])

    def mat(x):
        return x[:N * N].reshape(N, N)

    check(lambda x: dl.det(mat(x)), x0, cs_jacobian(lambda x: np.linalg.det(mat(x)), x0))
    check(lambda x: dl.inv(mat(x)), x0, cs_jacobian(lambda x: np.linalg.inv(mat(x)), x0))
    for tr in (False, True):
        check(lambda x: dl.solve(mat(x), x[N * N:], transposed=tr), x0,
              cs_jacobian(lambda x: np.linalg.solve(mat(x).T if tr else mat(x), x[N * N:]), x0))
    y0 = rnd(N * N, seed=25)
    check_hessian(lambda x: np.log(dl.det(spd(x))), y0,
                  cs_cd_hessian(lambda x: np.log(np.linalg.det(spd(x))), y0))


READ = {  # the matrix SciPy reads under assume_a (and lower), written out by hand
    ("sym", False): lambda a: np.triu(a) + np.triu(a, 1).T,
    ("pos", True): lambda a: np.tril(a) + np.tril(a, -1).T,
    ("her", False): lambda a: np.triu(a) + np.triu(a, 1).T,
    ("diagonal", False): lambda a: np.diag(np.diag(a)),
    ("upper triangular", False): np.triu,
    ("lower triangular", True): np.tril,
    ("tridiagonal", False): lambda a: np.triu(np.tril(a, 1), -1),
}


@pytest.mark.parametrize("assume_a, lower", list(READ))
def test_solve_and_inv_read_what_scipy_reads(assume_a, lower):
    a = spd(rnd(N * N, seed=26)) + 0.2 * rnd(N, N, seed=27)
    if assume_a == "pos":
        a = spd(rnd(N * N, seed=26))
    x0 = np.concatenate([a.ravel(), rnd(N, seed=28)])
    read = READ[assume_a, lower]
    got = dl.solve(dd.Dual(a, np.ones((1, N, N))), np.ones(N), assume_a=assume_a, lower=lower)
    np.testing.assert_allclose(got.value, sl.solve(a, np.ones(N), assume_a=assume_a, lower=lower),
                               rtol=1e-13)
    check(lambda x: dl.solve(x[:9].reshape(N, N), x[9:], assume_a=assume_a, lower=lower), x0,
          cs_jacobian(lambda x: np.linalg.solve(read(x[:9].reshape(N, N)), x[9:]), x0))
    if assume_a != "tridiagonal":
        check(lambda x: dl.inv(x[:9].reshape(N, N), assume_a=assume_a, lower=lower), x0,
              cs_jacobian(lambda x: np.linalg.inv(read(x[:9].reshape(N, N))), x0))


def test_check_finite_and_unknown_structure():
    d = dd.Dual(np.array([[1.0, np.nan], [0.0, 1.0]]), np.ones((1, 2, 2)))
    with pytest.raises(ValueError, match="infs or NaNs"):
        dl.solve_triangular(d, np.ones(2))
    with pytest.raises(ValueError, match="structure"):
        dl.solve(dd.Dual(A, np.ones((1, N, N))), np.ones(N), assume_a="funny")


# -- the hint for a plain SciPy call on a carrier ----------------------------------------------

class Probe:
    """Converted by SciPy like a carrier: its __array__ raises with the hint."""

    def __array__(self, dtype=None, copy=None):
        raise TypeError(dualdiff.scipy.twin_hint())


@pytest.mark.parametrize("call, name", [
    (lambda: sl.expm(Probe()), "expm"),                            # direct
    (lambda: sl.solve_triangular(Probe(), np.ones(2)), "solve_triangular"),  # batch wrapper
    (lambda: sl.det(Probe()), "det"),                              # via np.asarray_chkfinite
    (lambda: sl.cho_solve((Probe(), False), np.ones(2)), "cho_solve"),
])
def test_twin_hint_names_scipy_function_and_twin(call, name):
    with pytest.raises(TypeError) as err:
        call()
    msg = str(err.value)
    assert f"scipy.linalg.{name} cannot take" in msg
    assert f"dualdiff.scipy.linalg.{name} (same signature)" in msg


def test_plain_scipy_on_a_carrier_raises():
    # SciPy converts with np.asarray, which a carrier refuses: never a silently lost derivative
    with pytest.raises(TypeError, match="derivative would be lost"):
        sl.expm(dd.Dual(A, np.ones((1, N, N))))


def test_twin_hint_is_empty_outside_scipy():
    assert dualdiff.scipy.twin_hint() == ""
    with pytest.raises(TypeError) as err:
        np.asarray(Probe())
    assert str(err.value) == ""
    # a SciPy function without a twin yet: no hint rather than a wrong one
    with pytest.raises(TypeError) as err:
        sl.logm(Probe())
    assert str(err.value) == ""


def test_second_derivatives_of_the_solvers():
    x0 = np.concatenate([(A + 2 * rnd(N, N, seed=31)).ravel(), rnd(N, seed=32)])

    def tri(x, ref=False):
        m, b = split(x, (N, N), (N,))
        if ref:
            return np.linalg.solve(read_triangle(m, 1, True, False), b)
        return dl.solve_triangular(m, b, trans=1, lower=True)

    check_hessian(lambda x: np.sum(tri(x) ** 3), x0,
                  cs_cd_hessian(lambda x: np.sum(tri(x, True) ** 3), x0))

    def sym(x, ref=False):
        m, b = split(x, (N, N), (N,))
        if ref:
            return np.linalg.solve(np.triu(m) + np.triu(m, 1).T, b)
        return dl.solve(m, b, assume_a="sym")

    check_hessian(lambda x: np.sum(sym(x) ** 3), x0,
                  cs_cd_hessian(lambda x: np.sum(sym(x, True) ** 3), x0))
    ab = rnd(3, 4, seed=33)
    ab[1] += 4.0
    y0 = np.concatenate([ab.ravel(), rnd(4, seed=34)])

    def band(x, ref=False):
        m, b = split(x, (3, 4), (4,))
        if ref:
            dense = np.diag(m[1]) + np.diag(m[0, 1:], 1) + np.diag(m[2, :-1], -1)
            return np.linalg.solve(dense, b)
        return dl.solve_banded((1, 1), m, b)

    check_hessian(lambda x: np.sum(band(x) ** 3), y0,
                  cs_cd_hessian(lambda x: np.sum(band(x, True) ** 3), y0))


def test_public_functions_have_a_doctest():
    import inspect

    for mod in (dualdiff.scipy, dl):
        missing = [n for n in mod.__all__ if callable(getattr(mod, n))
                   and ">>>" not in (getattr(mod, n).__doc__ or "")]
        assert not missing, (mod.__name__, missing)
        assert all(inspect.signature(getattr(dl, n)).parameters.keys()
                   == inspect.signature(getattr(sl, n)).parameters.keys() for n in dl.__all__)

"""dualdiff.scipy.special against references that share no code with dualdiff.

* values: SciPy's own, bit for bit (the mirror takes them from SciPy);
* first derivatives: the complex step (tests/refs.py) of the hand-written formulas
  log(sum(b exp(a))), exp(x) / sum(exp(x)), x - log(sum(exp(x))), exact to rounding;
  at ties and for the b-derivative the closed forms (softmax weights);
* second derivatives: the closed form diag(p) - p p^T of logsumexp, else central
  differences of the complex-step gradient (h = 1e-5: truncation h^2/6 |f''''| ~ 1e-11,
  rounding eps |f'| / h ~ 1e-11 for these O(1) functions: rtol 1e-7);
* sparsity: the structural pattern of the reference Jacobian.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import scipy.special as sc
from carriers import MODES, check_hessians, check_modes
from refs import cs_cd_hessian, cs_jacobian, rnd

import dualdiff as dd
import dualdiff.scipy.special as ds

check = functools.partial(check_modes, rtol=1e-13, atol=1e-14)
check_hessian = functools.partial(check_hessians, rtol=1e-12, atol=1e-13)



def lse_ref(a, b=None, axis=None):
    return np.log(np.sum((1.0 if b is None else b) * np.exp(a), axis=axis))


# -- falling through ------------------------------------------------------------------

def test_plain_arguments_fall_through_to_scipy():
    a = rnd(3, 4)
    b = np.abs(rnd(3, 4, seed=1))
    for ours, theirs, kw in ((ds.logsumexp, sc.logsumexp, {"axis": 1, "b": b}),
                             (ds.softmax, sc.softmax, {"axis": 0}),
                             (ds.log_softmax, sc.log_softmax, {})):
        np.testing.assert_array_equal(ours(a, **kw), theirs(a, **kw))
    assert ds.logsumexp([1.0, 2.0], b=[1.0, -1.0], return_sign=True) == \
        sc.logsumexp([1.0, 2.0], b=[1.0, -1.0], return_sign=True)
    assert ds.erf is sc.erf and ds.gammaln is sc.gammaln  # every other name is SciPy's
    assert ds.polygamma(2, 1.5) == sc.polygamma(2, 1.5)
    assert ds.multigammaln(3.5, 3) == sc.multigammaln(3.5, 3)


# -- logsumexp --------------------------------------------------------------------------

@pytest.mark.parametrize("axis, keepdims", [(None, False), (1, False), (0, True), ((0, 1), False),
                                            (-1, True)])
def test_logsumexp_value_and_jacobian(axis, keepdims):
    a = rnd(3, 4)
    f = lambda x: ds.logsumexp(x, axis=axis, keepdims=keepdims)
    np.testing.assert_array_equal(dd.vjp(f, a)[0], sc.logsumexp(a, axis=axis, keepdims=keepdims))
    ref = cs_jacobian(lambda x: np.reshape(lse_ref(x, axis=axis), np.shape(f(a))), a)
    check(f, a, ref)
    expected = np.ones(np.shape(ref)[:np.ndim(ref) - 2] + a.shape, bool)
    if axis in (1, -1):
        expected = np.kron(np.eye(3, dtype=bool), np.ones((1, 4), bool))
    elif axis == 0:
        expected = np.tile(np.eye(4, dtype=bool), (1, 3))
    pattern = dd.jacobian_sparsity(f, a).toarray()
    np.testing.assert_array_equal(pattern, np.reshape(expected, pattern.shape))


def test_logsumexp_in_a_and_b_with_signs():
    a = rnd(5)
    b = np.array([1.0, -0.5, 2.0, 0.0, 0.7])
    b[3] = 0.0
    a[3] = np.inf  # ignored where b == 0, as in SciPy

    def f(z):
        out, sgn = ds.logsumexp(z[:5], b=z[5:], return_sign=True)
        return out * sgn  # sgn is a constant of the computation

    z = np.concatenate([a, b])
    value, sgn = sc.logsumexp(a, b=b, return_sign=True)
    out = ds.logsumexp(dd.Dual(a, np.eye(5)), b=b, return_sign=True)
    assert out[1] == sgn and out[0].value == value
    # d/da_i = b_i e^(a_i) / s, d/db_i = e^(a_i) / s, s = sum b e^a (signed)
    fin = np.isfinite(a)
    s = np.sum(b[fin] * np.exp(a[fin]))
    ga = np.where(b == 0, 0.0, b * np.exp(np.where(fin, a, 0.0)) / s)
    gb = np.where(fin, np.exp(np.where(fin, a, 0.0)) / s, np.inf)
    ref = sgn * np.concatenate([ga, gb])
    for kw in MODES:
        g = dd.jacobian(f, z, **kw)
        np.testing.assert_allclose(g[:8], ref[:8], rtol=1e-14, err_msg=str(kw))
        np.testing.assert_allclose(g[9:], ref[9:], rtol=1e-14, err_msg=str(kw))


def test_logsumexp_b_broadcast_and_scalar():
    a = rnd(3, 4)
    b = np.abs(rnd(4, seed=2)) + 0.1
    f = lambda x: ds.logsumexp(x, axis=1, b=b)
    check(f, a, cs_jacobian(lambda x: lse_ref(x, b, axis=1), a))
    g = lambda w: ds.logsumexp(a, axis=1, b=w)  # derivative in a broadcast b
    check(g, b, cs_jacobian(lambda w: lse_ref(a, w, axis=1), b))
    assert float(dd.derivative(ds.logsumexp, 0.3)) == 1.0  # a 0-d a


def test_logsumexp_is_exact_at_ties_to_second_order():
    for a in (np.zeros(3), np.array([1.0, 1.0, -2.0]), np.array([-0.0, -0.0])):
        p = np.exp(a - lse_ref(a))
        check(ds.logsumexp, a, p, rtol=1e-15, atol=1e-16)
        check_hessian(ds.logsumexp, a, np.diag(p) - np.outer(p, p), rtol=1e-14, atol=1e-15)


def test_logsumexp_hessian_with_axis():
    a = rnd(2, 3, seed=3)
    f = lambda x: np.sum(ds.logsumexp(x, axis=1) ** 2)
    check_hessian(f, a,
                  cs_cd_hessian(lambda x: np.sum(lse_ref(x, axis=1) ** 2), a), rtol=1e-7,
                  atol=1e-9)


# -- softmax, log_softmax ------------------------------------------------------------------

@pytest.mark.parametrize("axis", [None, 0, 1])
def test_softmax_and_log_softmax(axis):
    x = rnd(2, 3, seed=4)

    def soft(v):
        e = np.exp(v)
        return e / np.sum(e, axis=axis, keepdims=True)

    def logsoft(v):
        return v - np.log(np.sum(np.exp(v), axis=axis, keepdims=True))

    for ours, ref, theirs in ((ds.softmax, soft, sc.softmax),
                              (ds.log_softmax, logsoft, sc.log_softmax)):
        f = lambda v, ours=ours: ours(v, axis=axis)
        np.testing.assert_array_equal(dd.vjp(f, x)[0], theirs(x, axis=axis))
        jac = cs_jacobian(ref, x)
        check(f, x, jac)
        pattern = dd.jacobian_sparsity(f, x).toarray()
        assert np.array_equal(pattern, jac.reshape(pattern.shape) != 0)
        w = rnd(2, 3, seed=5)
        check_hessian(lambda v, f=f: np.sum(w * f(v) ** 2), x,
                      cs_cd_hessian(lambda v, ref=ref: np.sum(w * ref(v) ** 2), x),
                      rtol=1e-7, atol=1e-9)


def test_a_prepared_plan_replays_the_primitives():
    x0 = rnd(6, seed=6)
    f = lambda v: ds.softmax(v) * ds.logsumexp(v, b=np.arange(1.0, 7.0))
    plan = dd.jacobian_plan(f, x0)
    x1 = rnd(6, seed=7)
    np.testing.assert_allclose(plan(x1).toarray(), dd.jacobian(f, x1), rtol=1e-14, atol=1e-15)


# -- pointwise: hand-written partials ---------------------------------------------------

def test_pointwise_partials_and_refusal():
    betainc = ds.betainc
    a, b = 2.5, 1.5
    x = np.array([0.1, 0.4, 0.8])
    dens = x ** (a - 1) * (1 - x) ** (b - 1) / sc.beta(a, b)
    f = lambda v: betainc(a, b, v)
    np.testing.assert_array_equal(dd.vjp(f, x)[0], sc.betainc(a, b, x))
    check(f, x, np.diag(dens))
    # d2/dx2 = dens ((a-1)/x - (b-1)/(1-x))
    h = dens * ((a - 1) / x - (b - 1) / (1 - x))
    check_hessian(lambda v: np.sum(f(v)), x, np.diag(h), rtol=1e-13, atol=1e-14)
    np.testing.assert_array_equal(dd.jacobian_sparsity(f, x).toarray(), np.eye(3, dtype=bool))
    with pytest.raises(TypeError, match="betainc: no derivative with respect to its first"):
        dd.derivative(lambda t: betainc(t, b, 0.3), 2.0)


def test_polygamma_and_multigammaln_differentiate():
    # psi''(x) = -2 zeta(3, x) is the derivative of polygamma(1, x) = zeta(2, x)
    np.testing.assert_allclose(dd.derivative(lambda t: ds.polygamma(1, t), 1.7),
                               -2 * sc.zeta(3, 1.7), rtol=1e-14)
    # d/da multigammaln(a, 2) = psi(a) + psi(a - 1/2)
    np.testing.assert_allclose(dd.derivative(lambda t: ds.multigammaln(t, 2), 3.2),
                               sc.psi(3.2) + sc.psi(2.7), rtol=1e-14)


def test_public_names_have_doctests_and_twins():
    import inspect

    import dualdiff.scipy
    import dualdiff.scipy.integrate
    import dualdiff.scipy.interpolate
    import dualdiff.scipy.signal

    mods = (ds, dualdiff.scipy.integrate, dualdiff.scipy.signal, dualdiff.scipy.interpolate)
    for mod in mods:
        missing = [n for n in mod.__all__ if ">>>" not in (getattr(mod, n).__doc__ or "")]
        assert not missing, (mod.__name__, missing)
        theirs = getattr(__import__("scipy." + mod.__name__.rsplit(".", 1)[1]),
                         mod.__name__.rsplit(".", 1)[1])
        for n in mod.__all__:  # SciPy's signatures
            if n != "pointwise" and inspect.isfunction(getattr(theirs, n, None)):
                assert inspect.signature(getattr(mod, n)).parameters.keys() == \
                    inspect.signature(getattr(theirs, n)).parameters.keys(), n
    assert set(dualdiff.scipy.MIRRORS["scipy.special"]) == set(ds.__all__) - {"pointwise"}

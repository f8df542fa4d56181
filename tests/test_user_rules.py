"""dd.rule and dd.primitive: user derivatives read by every carrier (forward, reverse,
auto, hyper-duals, forward-over-reverse, sparsity), on functions dualdiff cannot look
into (np.frompyfunc ufuncs, numba ufuncs, callables that refuse dualdiff arrays).
References are hand-derived formulas."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

import dualdiff as dd
from dualdiff import core, rules, user_rules

MODES = ["forward", "reverse", "auto"]
X = np.array([0.3, 1.2, 2.0])


def opaque(fn):
    """fn as a compiled kernel sees it: plain float arrays only (np.asarray refuses a
    dualdiff array, as C code would)."""
    def kernel(*args):
        return fn(*[np.asarray(a, dtype=float) for a in args])
    kernel.__name__ = fn.__name__
    return kernel


@pytest.fixture(autouse=True)
def _restore_tables():
    """Registration is process-wide: each test's rules are removed afterwards, so other
    test files that walk the built-in table never see them."""
    saved = (dict(rules.UNARY), dict(rules.BINARY), dict(core.HANDLED),
             dict(user_rules._REGISTERED))
    yield
    for table, old in zip((rules.UNARY, rules.BINARY, core.HANDLED, user_rules._REGISTERED),
                          saved):
        table.clear()
        table.update(old)


# -- element-wise rules ---------------------------------------------------------------------

SINH3 = np.frompyfunc(lambda t: 3.0 * math.sinh(t), 1, 1)


@pytest.fixture
def sinh3():
    dd.rule(SINH3, lambda x: 3 * np.cosh(x), lambda x, y: y)  # f'' = f
    return SINH3


@pytest.mark.parametrize("mode", MODES)
def test_frompyfunc_rule_in_first_order_modes(mode, sinh3):
    f = lambda x: SINH3(x) * x
    want = np.diag(3 * np.cosh(X) * X + 3 * np.sinh(X))
    np.testing.assert_allclose(dd.jacobian(f, X, mode=mode), want, rtol=1e-14)
    assert dd.jacobian(f, X, mode=mode).dtype == np.float64  # not object


def test_frompyfunc_rule_sparsity_and_second_order(sinh3):
    f = lambda x: SINH3(x) * x
    assert np.array_equal(dd.jacobian_sparsity(f, X).toarray(), np.eye(3, dtype=bool))
    np.testing.assert_allclose(dd.jacobian(f, X, sparsity="auto").toarray(),
                               np.diag(3 * np.cosh(X) * X + 3 * np.sinh(X)), rtol=1e-14)
    g = lambda x: np.sum(SINH3(x) * x)
    want = np.diag(3 * np.sinh(X) * X + 6 * np.cosh(X))
    for method in ["hyperdual", "forward-over-reverse"]:
        np.testing.assert_allclose(dd.hessian(g, X, method=method), want, rtol=1e-14)
    # plain arrays fall through to the ufunc itself (an object array, as before)
    assert SINH3(X).dtype == object and np.allclose(SINH3(X).astype(float), 3 * np.sinh(X))


def test_without_d2_second_derivatives_differentiate_d1():
    cube = np.frompyfunc(lambda t: t**3, 1, 1)
    dd.rule(cube, lambda x, y: 3 * x * x)
    for method in ["hyperdual", "forward-over-reverse"]:
        H = dd.hessian(lambda x: np.sum(cube(x)), X, method=method)
        np.testing.assert_allclose(H, np.diag(6 * X), rtol=1e-14)


def test_binary_frompyfunc_rule():
    hyp = np.frompyfunc(math.hypot, 2, 1)
    dd.rule(hyp, (lambda x, y, z: x / z, lambda x, y, z: y / z))
    p = np.array([3.0, 4.0])
    f = lambda v: hyp(v[0], v[1])
    for mode in MODES:
        np.testing.assert_allclose(dd.gradient(f, p, mode=mode), p / 5, rtol=1e-15)
    want = np.array([[16.0, -12.0], [-12.0, 9.0]]) / 125  # [[y^2, -xy], [-xy, x^2]] / r^3
    for method in ["hyperdual", "forward-over-reverse"]:
        np.testing.assert_allclose(dd.hessian(f, p, method=method), want, rtol=1e-14)


def test_vectorised_callable_gets_a_wrapper():
    def damped(x):
        return np.exp(-x) * x

    kernel = opaque(damped)
    f = dd.rule(kernel, lambda x: np.exp(-x) * (1 - x), lambda x: np.exp(-x) * (x - 2))
    assert f is not kernel and np.array_equal(f(X), damped(X))  # plain arrays fall through
    for mode in MODES:
        np.testing.assert_allclose(dd.jacobian(f, X, mode=mode), np.diag(np.exp(-X) * (1 - X)),
                                   rtol=1e-14)
    for method in ["hyperdual", "forward-over-reverse"]:
        H = dd.hessian(lambda x: np.sum(f(x)), X, method=method)
        np.testing.assert_allclose(H, np.diag(np.exp(-X) * (X - 2)), rtol=1e-14)
    with pytest.raises(TypeError, match="cannot convert a dualdiff array"):
        dd.jacobian(kernel, X)  # the unregistered kernel itself still refuses


def test_a_missing_second_derivative_names_the_function_and_d2():
    f = dd.rule(opaque(lambda x: np.exp(-x) * x), opaque(lambda x: np.exp(-x) * (1 - x)))
    np.testing.assert_allclose(dd.gradient(lambda x: np.sum(f(x)), X), np.exp(-X) * (1 - X),
                               rtol=1e-14)
    for method in ["hyperdual", "forward-over-reverse"]:
        with pytest.raises(TypeError, match=r"<lambda>: second derivatives need d2"):
            dd.hessian(lambda x: np.sum(f(x)), X, method=method)


def test_a_built_in_rule_cannot_be_replaced_and_a_user_rule_can():
    with pytest.raises(ValueError, match=r"np\.sin already has a built-in"):
        dd.rule(np.sin, np.cos)
    twice = np.frompyfunc(lambda t: 2.0 * t, 1, 1)
    dd.rule(twice, 1.0)  # wrong on purpose ...
    assert dd.derivative(twice, 1.0) == 1.0
    dd.rule(twice, 2.0)  # ... then corrected: the last registration wins
    assert dd.derivative(twice, 1.0) == 2.0


def test_registration_is_thread_safe():
    made, errors = [], []

    def register(k):
        try:
            u = np.frompyfunc(lambda t, k=k: k * t, 1, 1)
            dd.rule(u, float(k))
            made.append((k, u))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=register, args=(k,)) for k in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(made) == 8
    for k, u in made:
        assert dd.derivative(u, 1.0) == k


def test_numba_vectorize_rule():
    numba = pytest.importorskip("numba")

    @numba.vectorize(["float64(float64)"])
    def logistic(t):
        return 1.0 / (1.0 + math.exp(-t))

    @numba.vectorize(["float64(float64)"])
    def logistic_d1(t):
        e = math.exp(-t)
        return e / ((1.0 + e) * (1.0 + e))

    dd.rule(logistic, logistic_d1, lambda x, y, d: d * (1 - 2 * y))
    s = 1 / (1 + np.exp(-X))
    for mode in MODES:
        np.testing.assert_allclose(dd.jacobian(logistic, X, mode=mode), np.diag(s * (1 - s)),
                                   rtol=1e-14)
    assert dd.jacobian_sparsity(logistic, X).nnz == 3
    for method in ["hyperdual", "forward-over-reverse"]:
        H = dd.hessian(lambda x: np.sum(logistic(x)), X, method=method)
        np.testing.assert_allclose(H, np.diag(s * (1 - s) * (1 - 2 * s)), rtol=1e-13)


# -- primitives --------------------------------------------------------------------------------

rng = np.random.default_rng(3)
W = rng.standard_normal((3, 4))
W[0, 1] = 0.0
V = rng.standard_normal(4)


def model_jvp(out, primals, tangents):
    return (tangents[0] @ W.T) * (1 - out**2)


def model_vjp(out, primals, u):
    return ((u * (1 - out**2)) @ W,)


MODEL = opaque(lambda x: np.tanh(W @ x))
MODEL_REF = (1 - np.tanh(W @ V) ** 2)[:, None] * W


def test_primitive_in_every_mode():
    m = dd.primitive(MODEL, jvp=model_jvp, vjp=model_vjp, pattern=W != 0, name="model")
    assert np.array_equal(m(V), MODEL(V))  # plain arrays fall through
    for mode in MODES:
        np.testing.assert_allclose(dd.jacobian(m, V, mode=mode), MODEL_REF, rtol=1e-14)
    assert np.array_equal(dd.jacobian_sparsity(m, V).toarray(), W != 0)
    np.testing.assert_allclose(dd.jacobian(m, V, sparsity="auto").toarray(), MODEL_REF,
                               rtol=1e-14)
    # Hessians run the jvp on dualdiff values (it is written with NumPy calls)
    y = np.tanh(W @ V)
    want = W.T @ np.diag(-2 * y * (1 - y**2)) @ W
    for method in ["hyperdual", "forward-over-reverse"]:
        np.testing.assert_allclose(dd.hessian(lambda x: np.sum(m(x)), V, method=method), want,
                                   rtol=1e-13, atol=1e-15)


def test_primitive_without_vjp():
    m = dd.primitive(MODEL, jvp=model_jvp, name="model")
    np.testing.assert_allclose(dd.jacobian(m, V), MODEL_REF, rtol=1e-14)  # auto: forward
    with pytest.raises(TypeError, match=r"model has no reverse-mode \(vjp\) rule.*vjp="):
        dd.jacobian(m, V, mode="reverse")


def test_primitive_of_two_arguments_with_keywords():
    def weighted(a, b, power=1.0):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        return np.sum(a * b**power)

    def jvp(out, primals, tangents, power=1.0):
        a, b = primals
        ta, tb = tangents
        out_t = 0.0
        if ta is not None:
            out_t = out_t + ta @ b**power
        if tb is not None:
            out_t = out_t + tb @ (a * power * b ** (power - 1))
        return out_t

    def vjp(out, primals, u, power=1.0):
        a, b = primals
        return u[:, None] * b**power, u[:, None] * a * power * b ** (power - 1)

    w = dd.primitive(weighted, jvp=jvp, vjp=vjp)
    a, b = np.array([1.0, 2.0]), np.array([3.0, 0.5])
    for mode in MODES:
        ga, gb = dd.gradient(lambda a, b: w(a, b, power=2.0), (a, b), argnums=(0, 1),
                             mode=mode)
        np.testing.assert_allclose(ga, b**2, rtol=1e-15)
        np.testing.assert_allclose(gb, 2 * a * b, rtol=1e-15)


def test_primitive_pattern_errors_name_the_function():
    m = dd.primitive(MODEL, jvp=model_jvp, pattern=np.ones((2, 2), bool), name="model")
    with pytest.raises(ValueError, match=r"model: pattern of shape \(2, 2\)"):
        dd.jacobian_sparsity(m, V)


def model_jvp_plain(out, t):
    return (t @ W.T) * (1 - out**2)


def test_primitive_with_an_opaque_jvp_names_the_function_in_second_order():
    opaque_jvp = opaque(model_jvp_plain)
    m = dd.primitive(MODEL, jvp=lambda out, p, t: opaque_jvp(out, t[0]), vjp=model_vjp,
                     name="model")
    np.testing.assert_allclose(dd.jacobian(m, V), MODEL_REF, rtol=1e-14)
    with pytest.raises(TypeError, match="model: second derivatives run its jvp"):
        dd.hessian(lambda x: np.sum(m(x)), V, method="hyperdual")

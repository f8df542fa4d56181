"""float32 in, float32 out (as JAX): values, seeds, tangents, rows with Python-float
constants (NEP 50), reverse sweeps, Hessians and sparse Jacobians all keep float32;
float64 stays float64; np.longdouble is refused rather than rounded.

Promotion rule: a derivative has the dtype NumPy gives the value it belongs to; a Python
number used with a float32 dualdiff array takes float32 (NEP 50), a float64 constant array
or NumPy float64 scalar promotes to float64, as it does in NumPy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import dualdiff as dd
from dualdiff import core, rules, user_rules

X32 = np.array([0.3, 1.2, -0.7], np.float32)


def f(x):  # Python-float and -int constants, kinks, selections, a reduction, a solve
    y = np.sin(x) * 2.0 + x**2 / 3 - 1 + np.abs(x - 1) * np.maximum(x, 0.5)
    a = np.eye(3, dtype=np.float32) * 4 + x[:, None]
    return np.linalg.solve(a, y) + np.exp(-x) * np.tanh(x) + np.ldexp(x, 2)


def g(x):
    return np.sum(f(x) ** 2)


def test_f_itself_is_float32():
    assert f(X32).dtype == np.float32


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_first_order_drivers_keep_float32(mode):
    y, J = dd.value_and_jacobian(f, X32, mode=mode)
    assert y.dtype == np.float32 and J.dtype == np.float32
    J64 = dd.jacobian(f, X32.astype(np.float64), mode=mode)
    # float32 rounding (eps 6e-8) through ~30 operations of condition O(10)
    np.testing.assert_allclose(J, J64, rtol=2e-5, atol=2e-5)
    assert J64.dtype == np.float64
    gr = dd.gradient(g, X32, mode=mode)
    assert gr.dtype == np.float32


def test_other_drivers_keep_float32():
    v = np.ones(3, np.float32)
    assert dd.jvp(f, X32, v)[1].dtype == np.float32
    assert dd.vjp(f, X32)[1](v).dtype == np.float32
    assert dd.derivative(lambda s: np.sin(s) * 2.0, np.float32(0.5)).dtype == np.float32
    assert dd.jacobian(f, X32, sparsity="auto").dtype == np.float32
    assert dd.jacobian(f, X32, sparsity="auto", mode="reverse").dtype == np.float32
    H64 = dd.hessian(g, X32.astype(float))
    for method in ["hyperdual", "forward-over-reverse"]:
        H = dd.hessian(g, X32, method=method)
        assert H.dtype == np.float32
        np.testing.assert_allclose(H, H64, rtol=1e-4, atol=1e-4)  # second order: ~2x worse
        assert dd.hvp(g, X32, v, method=method).dtype == np.float32
    t = dd.gradient(lambda t: np.sum(t["a"] * t["b"]), {"a": X32, "b": np.float32(2.0)})
    assert t["a"].dtype == np.float32 and t["b"].dtype == np.float32


def test_mixed_structure_leaves_keep_their_dtype():
    t = {"a": X32, "b": np.array([2.0])}
    g = dd.gradient(lambda t: np.sum(t["a"]) * t["b"][0], t)
    assert g["a"].dtype == np.float32 and g["b"].dtype == np.float64
    np.testing.assert_allclose(g["a"], [2.0] * 3)


def test_float64_constants_promote_as_in_numpy():
    A = np.arange(9.0).reshape(3, 3)  # float64
    assert (A @ X32).dtype == np.float64
    assert dd.jacobian(lambda x: A @ x, X32).dtype == np.float64
    assert dd.jacobian(lambda x: x * np.float64(2.0), X32).dtype == np.float64


def test_every_row_keeps_float32():
    """Every element-wise row whose float32 value is float32 gives float32 partials (the
    core casts rows that compute in float64, e.g. SciPy functions with double loops)."""
    bad = []
    for table, nin in ((rules.UNARY, 1), (rules.BINARY, 2)):
        for uf in [k for k in table if not isinstance(k, user_rules.Elementwise)]:
            vals = (np.array([0.3, 0.6], np.float32), np.array([0.7, 2.0], np.float32))[:nin]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    z = core.evaluate(uf, vals)
                except TypeError:
                    continue  # no float loop (integer-only argument)
                if np.asarray(z).dtype != np.float32:
                    continue  # NumPy / SciPy compute this one in float64: so do we
                entries = table[uf][0] if nin == 2 else (table[uf][0],)
                live = [e is not rules.NONDIFF for e in entries]
                first = core.first_partials(uf, vals, z, live, vals[0] if nin == 1 else None)
                second = core.second_partials(uf, vals, z, first, live)
            for p in list(first) + list(second.values()):
                if p is not None and not isinstance(p, float) and p.dtype != np.float32:
                    bad.append((core.public_name(uf), p.dtype))
    assert not bad


def test_python_numbers_take_float32():
    d = dd.Dual(np.float32(2.0), np.float32(1.0))
    for y in (d * 2.0, 2 / d, d**2, d - 1, np.ldexp(d, 3), 1j * d):
        assert y.value.dtype in (np.float32, np.complex64)
        assert y.tangent.dtype in (np.float32, np.complex64)


def test_longdouble_is_refused_not_rounded():
    if np.finfo(np.longdouble).eps >= np.finfo(float).eps:
        pytest.skip("np.longdouble is float64 on this platform")
    with pytest.raises(TypeError, match="longdouble"):
        dd.jacobian(np.sin, np.ones(2, np.longdouble))
    with pytest.raises(TypeError, match="longdouble"):
        dd.gradient(lambda t: np.sum(t["a"]), {"a": np.ones(2, np.longdouble)})

"""The fast paths of the Dual hot path agree with references that share no code.

Covered: Python operators (which skip NumPy's dispatch), scalar values (NumPy
scalar arithmetic instead of a ufunc call), the cheap floating-point state
switch (no warnings from derivative code, NumPy's own warnings kept), and the
one-GEMM matmul tangents for every combination of operand ranks.
"""

from __future__ import annotations

import operator
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from refs import cs_jacobian

import dualdiff as dd

OPS = [operator.add, operator.sub, operator.mul, operator.truediv]
UFUNCS = {operator.add: np.add, operator.sub: np.subtract, operator.mul: np.multiply,
          operator.truediv: np.divide}


@settings(max_examples=30, deadline=None)
@given(op=st.sampled_from(OPS), a=st.floats(-5, 5), b=st.floats(0.5, 5),
       const=st.sampled_from([2, 2.5, np.float64(-1.5), np.array(3.0), np.array([1.0, -2.0])]))
@example(op=operator.mul, a=0.0, b=0.5, const=2)  # a zero factor
@example(op=operator.truediv, a=-0.0, b=5.0, const=np.array([1.0, -2.0]))
@example(op=operator.sub, a=5.0, b=5.0, const=2)  # a tie
def test_operators_match_hand_derivatives(op, a, b, const):
    # d/dx of x*y, x+y, x-y, x/y and of the same with a constant on either side
    x = np.array([a, b])
    dx = {operator.add: (1.0, 1.0), operator.sub: (1.0, -1.0), operator.mul: (b, a),
          operator.truediv: (1.0 / b, -a / b**2)}[op]
    np.testing.assert_allclose(dd.gradient(lambda v: op(v[0], v[1]), x), dx, rtol=1e-14)
    c = np.asarray(const, dtype=float)
    left = {operator.add: 1.0, operator.sub: 1.0, operator.mul: c, operator.truediv: 1.0 / c}[op]
    right = {operator.add: 1.0, operator.sub: -1.0, operator.mul: c,
             operator.truediv: -c / b**2}[op]
    np.testing.assert_allclose(dd.jacobian(lambda v: op(v[1], const), x)[..., 1],
                               np.broadcast_to(left, c.shape), rtol=1e-14)
    np.testing.assert_allclose(dd.jacobian(lambda v: op(const, v[1]), x)[..., 1],
                               np.broadcast_to(right, c.shape), rtol=1e-14)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("op", OPS)
def test_operator_and_ufunc_give_identical_duals(op):
    x = dd.Dual(np.array([1.5, -0.0, 3.0]), np.eye(3))
    for a, b in [(x[0], x[1]), (x[0], 2), (2.0, x[2]), (x, x[::-1]), (x, np.float64(0.25))]:
        p, q = op(a, b), UFUNCS[op](a, b)
        assert type(p.value) is type(q.value)
        np.testing.assert_array_equal(p.value, q.value)
        np.testing.assert_array_equal(p.tangent, q.tangent)


def test_nested_operators_keep_tags_apart():
    # d/dx [x * d/dy (x * y)] = d/dx x**2 = 2x
    assert dd.derivative(lambda x: x * dd.derivative(lambda y: x * y, 1.0), 3.0) == 6.0
    assert dd.derivative(lambda x: dd.derivative(lambda y: y * x + y / x, 1.0) * 1.0, 2.0) == 0.75


def test_derivative_code_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jac = dd.jacobian(np.sqrt, np.array([0.0, 4.0]))  # 0.5/sqrt(0) = inf, no warning
        assert jac[0, 0] == np.inf and jac[1, 1] == 0.25
        dd.jacobian(lambda x: x[0] * x[1], np.array([np.inf, 1.0]))  # 0 * inf in a tangent


def test_numpy_warnings_on_the_value_are_kept():
    with pytest.warns(RuntimeWarning, match="divide"):
        dd.jacobian(lambda x: 1.0 / x, np.array([0.0]))
    with pytest.warns(RuntimeWarning, match="divide"):
        dd.derivative(lambda x: x / np.float64(0.0), 1.0)  # scalar value: NumPy scalar math


@pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning")
def test_floating_point_state_is_restored():
    before = np.geterr()
    with pytest.raises(TypeError):
        dd.jacobian(lambda x: np.ldexp(2.0, x), np.array([1.0]))  # raises inside a rule
    dd.jacobian(np.log, np.array([0.0, 1.0]))
    assert np.geterr() == before


rng = np.random.default_rng(0)
A34, B45, C245, v4, w3 = (rng.normal(size=s) for s in [(3, 4), (4, 5), (2, 4, 5), 4, 3])
MATMUL_CASES = {  # name: (f, n) -- every rank combination, the Dual on one or both sides
    "matrix @ vector": (lambda x: A34 @ x, 4),
    "vector @ matrix": (lambda x: x @ B45, 4),
    "vector @ vector": (lambda x: x @ v4, 4),
    "vector @ itself": (lambda x: x @ x, 4),
    "dual matrix @ vector": (lambda x: x.reshape(3, 4) @ v4, 12),
    "vector @ dual matrix": (lambda x: w3 @ x.reshape(3, 4), 12),
    "dual matrix @ matrix": (lambda x: x.reshape(3, 4) @ B45, 12),
    "matrix @ dual matrix": (lambda x: A34 @ x.reshape(4, 5), 20),
    "stack @ dual matrix": (lambda x: C245.transpose(0, 2, 1) @ x.reshape(4, 3), 12),
    "dual stack @ matrix": (lambda x: x.reshape(2, 3, 4) @ B45, 24),
    "dual matrix @ dual vector": (lambda x: x[:12].reshape(3, 4) @ x[12:], 16),
    "dual vector @ dual matrix": (lambda x: x[:3] @ x[3:].reshape(3, 4), 15),
    "dual matrix @ dual matrix": (lambda x: x[:12].reshape(3, 4) @ x[12:].reshape(4, 2), 20),
}


@pytest.mark.parametrize("chunk", [1, 3, None])
@pytest.mark.parametrize("name", list(MATMUL_CASES))
def test_matmul_tangents_match_complex_step(name, chunk):
    f, n = MATMUL_CASES[name]
    x = np.random.default_rng(n).normal(size=n)
    ref = cs_jacobian(f, x)
    np.testing.assert_allclose(dd.jacobian(f, x, chunk=chunk), ref, rtol=1e-13, atol=1e-13)


def test_dual_only_as_out_of_a_plain_ufunc_is_refused():
    # NumPy asks the Dual (it is in out=) but no input carries a derivative
    d = dd.Dual(np.zeros(2), np.ones(2))
    with pytest.raises(TypeError):
        np.sin(np.ones(2), out=d)

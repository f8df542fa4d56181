"""jacobian / gradient in forward, reverse and auto mode."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dualdiff as dd
from dualdiff import modes
from dualdiff.problems import MLP
from dualdiff.reverse import Recording


def _mlp(n, m, seed=0):
    f = MLP(n, m, hidden=8, seed=seed)
    return f, f.jacobian, f.x0  # the reference is derived by hand


@pytest.mark.parametrize("n,m", [(1, 7), (7, 1), (5, 5), (12, 3), (3, 12)])
@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_every_mode_gives_the_hand_derived_jacobian(n, m, mode):
    f, ref, x = _mlp(n, m)
    for _ in range(4):  # auto's later calls take remembered / timed paths
        np.testing.assert_allclose(dd.jacobian(f, x, mode=mode), ref(x), rtol=1e-12, atol=1e-12)


@settings(max_examples=10, deadline=None)
@given(chunk=st.integers(1, 9), n=st.integers(1, 6), m=st.integers(1, 9))
def test_chunk_does_not_change_the_result(chunk, n, m):
    f, ref, x = _mlp(n, m, seed=n * 10 + m)
    for mode in ("forward", "reverse"):
        np.testing.assert_allclose(dd.jacobian(f, x, mode=mode, chunk=chunk), ref(x),
                                   rtol=1e-12, atol=1e-12)
    rec = Recording(f, x)
    np.testing.assert_allclose(modes.forward_rows(rec, chunk), ref(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(modes.reverse_rows(rec, chunk), ref(x), rtol=1e-12, atol=1e-12)


def test_shapes_follow_jax_in_reverse_mode():
    x = np.ones((2, 3))
    jac = dd.jacobian(lambda x: np.stack([x.sum(axis=0), (x**2).sum(axis=0)]), x,
                      mode="reverse")
    assert jac.shape == (2, 3, 2, 3)
    assert jac[1, 2, 1, 2] == 2.0 and jac[1, 2, 0, 2] == 2.0 and jac[1, 2, 1, 1] == 0.0


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_gradient_modes(mode):
    x = np.array([0.5, -1.0, 2.0])
    g = dd.gradient(lambda x: np.sum(np.exp(x) * x), x, mode=mode)
    np.testing.assert_allclose(g, np.exp(x) * (1 + x), rtol=1e-13)
    assert dd.gradient(lambda x: x**3, 2.0, mode=mode) == 12.0


class Counted:
    def __init__(self, f):
        self.f, self.calls = f, 0

    def __call__(self, x):
        self.calls += 1
        return self.f(x)


def test_auto_decides_by_sizes_and_remembers():
    f, ref, x = _mlp(400, 2)
    counted = Counted(f)
    np.testing.assert_allclose(dd.jacobian(counted, x), ref(x), rtol=1e-12)
    assert counted.calls == 1  # one recording, swept in reverse (m = 2 < n = 40)
    dd.jacobian(counted, x)
    assert counted.calls == 2  # remembered: a recording again, no trial of forward mode
    g, ref2, x2 = _mlp(3, 50)
    counted = Counted(g)
    np.testing.assert_allclose(dd.jacobian(counted, x2), ref2(x2), rtol=1e-12, atol=1e-14)
    assert counted.calls == 2  # first call: the recording that told m, then one forward pass
    dd.jacobian(counted, x2)
    assert counted.calls == 3  # later calls: one forward pass
    modes.forget(counted)
    dd.jacobian(counted, x2)
    assert counted.calls == 5
    assert modes.choose(40, 2) == "reverse" and modes.choose(2, 40) == "forward"


@pytest.mark.parametrize("n, m", [(6, 5), (5, 6), (30, 1), (1, 30)])
def test_auto_is_deterministic_and_agrees_with_its_choice(n, m):
    f, ref, x = _mlp(n, m)
    first = dd.jacobian(f, x)
    for _ in range(5):  # the same bits every time, first call or not
        assert np.array_equal(dd.jacobian(f, x), first)
    assert np.array_equal(dd.jacobian(f, x, mode=modes.auto_mode(f, x)), first)


def test_auto_is_bit_identical_across_threads_and_load():
    import concurrent.futures as cf

    f, ref, x = _mlp(20, 20)
    expected = dd.jacobian(f, x)
    with cf.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: dd.jacobian(f, x), range(64)))
    assert all(np.array_equal(r, expected) for r in results)


def test_auto_recovers_after_f_raised():
    state = {"fail": True}

    def f(x):
        if state["fail"]:
            raise RuntimeError("boom")
        return x * 2

    with pytest.raises(RuntimeError, match="boom"):
        dd.jacobian(f, np.ones(3))
    state["fail"] = False
    np.testing.assert_array_equal(dd.jacobian(f, np.ones(3)), 2 * np.eye(3))


def test_auto_with_functions_that_cannot_be_remembered():
    np.testing.assert_allclose(dd.jacobian(np.sin, np.array([0.0, 1.0])),
                               np.diag(np.cos([0.0, 1.0])), rtol=1e-15)


def test_mode_and_chunk_validation():
    f = lambda x: x * 2
    with pytest.raises(ValueError, match="mode must be one of"):
        dd.jacobian(f, np.ones(2), mode="sideways")
    with pytest.raises(ValueError, match="mode must be one of"):
        dd.gradient(lambda x: np.sum(x), np.ones(2), mode="backward")
    with pytest.raises(ValueError, match="chunk must be a positive integer"):
        dd.jacobian(f, np.ones(2), mode="reverse", chunk=0)
    with pytest.raises(ValueError, match="scalar-valued"):
        dd.gradient(f, np.ones(2), mode="reverse")


def test_auto_falls_back_to_forward_for_rules_without_vjp(monkeypatch):
    from dualdiff import primitives

    monkeypatch.setattr(primitives.MATMUL, "vjp", None)
    w = np.arange(6.0).reshape(2, 3)
    f = lambda x: w @ np.sin(x)
    x = np.array([0.1, 0.2, 0.3])
    ref = w * np.cos(x)
    for _ in range(3):
        np.testing.assert_allclose(dd.jacobian(f, x), ref, rtol=1e-14)
    with pytest.raises(TypeError, match="no reverse-mode"):
        dd.jacobian(f, x, mode="reverse")


def test_auto_nests_inside_forward_mode():
    # Hessian of sum(x**3 * x[0]) by forward over auto (reverse) gradients
    x = np.array([0.5, -1.0, 2.0])
    f = lambda x: np.sum(x**3) * x[0]
    hand = np.diag(6 * x * x[0])
    hand[0, :] += 3 * x**2
    hand[:, 0] += 3 * x**2
    np.testing.assert_allclose(dd.jacobian(lambda x: dd.gradient(f, x), x, mode="forward"),
                               hand, rtol=1e-13)
    np.testing.assert_allclose(dd.jacobian(lambda x: dd.gradient(f, x, mode="forward"), x),
                               hand, rtol=1e-13)


def test_auto_prefers_forward_for_scalar_loop_code():
    # n = 30 >> m = 1 would favour reverse by sizes, but a Python loop over scalars is
    # bound by per-operation overhead, where one forward pass of 30 directions is cheaper
    def loop(x):
        s = 0.0
        for i in range(len(x) - 1):
            s = s + (x[i + 1] - x[i] ** 2) ** 2
        return s

    x = np.linspace(-1.0, 1.0, 30)
    ref = np.zeros(30)  # hand-derived gradient
    r = x[1:] - x[:-1] ** 2
    ref[1:] += 2 * r
    ref[:-1] += -4 * x[:-1] * r
    for _ in range(3):
        np.testing.assert_allclose(dd.gradient(loop, x), ref, rtol=1e-13, atol=1e-13)
    assert modes.choose(30, 1, scalar=True) == "forward"
    assert np.array_equal(dd.gradient(loop, x), dd.gradient(loop, x, mode="forward"))

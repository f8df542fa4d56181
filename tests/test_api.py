"""The drivers' arguments: args / kwargs (SciPy's convention), structured inputs and outputs
with JAX's layout (output structure outside, input structure inside), argnums, has_aux and
value_and_gradient.  References are hand-derived."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import dualdiff as dd

MODES = ["forward", "reverse", "auto"]

rng = np.random.default_rng(12)
A0 = np.array([0.5, -1.5])
B0 = np.array(2.0)
C0 = rng.standard_normal((2, 2))
D0 = np.array([0.3, -0.7, 1.1])
X0 = {"a": A0, "b": B0, "c": (C0, [D0])}


def F(t):
    a, b, (c, (d,)) = t["a"], t["b"], t["c"]
    return {"y": a * b, "z": (np.sum(c @ a), d**2)}


def F_jacobian():
    """d F / d X0 by hand, as F's structure of X0's structures."""
    a, b, c, d = A0, B0, C0, D0
    zero = np.zeros
    return {
        "y": {"a": b * np.eye(2), "b": a, "c": (zero((2, 2, 2)), [zero((2, 3))])},
        "z": ({"a": c.sum(0), "b": zero(()), "c": (np.outer(np.ones(2), a), [zero(3)])},
              {"a": zero((3, 2)), "b": zero(3), "c": (zero((3, 2, 2)), [np.diag(2 * d)])}),
    }


def assert_tree_close(got, want, rtol=1e-14, atol=1e-15):
    """Same structure (containers of the same types; every leaf an ndarray) and values."""
    if isinstance(want, (dict, list, tuple)):
        assert type(got) is type(want), (type(got), type(want))
    else:
        assert isinstance(got, np.ndarray), type(got)
    if isinstance(want, dict):
        assert list(got) == sorted(want)
        for k in want:
            assert_tree_close(got[k], want[k], rtol, atol)
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert_tree_close(g, w, rtol, atol)
    else:
        assert np.shape(got) == np.shape(want), (np.shape(got), np.shape(want))
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def flat_reference():
    """F_jacobian laid out (m, n): outputs y, z[0], z[1]; inputs a, b, c[0], c[1][0]."""
    J = F_jacobian()
    out_blocks = [J["y"], J["z"][0], J["z"][1]]
    out_sizes = [2, 1, 3]
    rows = []
    for blk, m in zip(out_blocks, out_sizes):
        leaves = [blk["a"], blk["b"], blk["c"][0], blk["c"][1][0]]
        rows.append(np.concatenate([np.reshape(v, (m, -1)) for v in leaves], axis=1))
    return np.concatenate(rows)


# -- structures ---------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_jacobian_of_structures_has_jax_layout(mode):
    J = dd.jacobian(F, X0, mode=mode)
    assert_tree_close(J, F_jacobian())
    y, J2 = dd.value_and_jacobian(F, X0, mode=mode)
    assert_tree_close(y, {"y": A0 * B0, "z": (np.array(np.sum(C0 @ A0)), D0**2)})
    assert_tree_close(J2, F_jacobian())


def test_value_output_keeps_structure_and_scalars_inside_a_structure_are_one_array():
    # ("z": (scalar, vector)) holds an array, so it is a tuple; a tuple of scalars only is
    # one array, as np.array reads it
    y = dd.value_and_jacobian(lambda t: {"s": (t[0] * t[1], t[0])}, [2.0, 3.0])[0]
    assert isinstance(y["s"], np.ndarray) and y["s"].tolist() == [6.0, 2.0]


def test_sparse_jacobian_and_pattern_of_structures_are_flat_in_leaf_order():
    want = flat_reference()
    J = dd.jacobian(F, X0, sparsity="auto")
    np.testing.assert_allclose(J.toarray(), want, rtol=1e-14, atol=1e-15)
    P = dd.jacobian_sparsity(F, X0).toarray()
    assert np.array_equal(P, want != 0)
    plan = dd.jacobian_plan(F, X0)
    X1 = {"a": 2 * A0, "b": B0 + 1, "c": (C0, [D0 - 1])}
    got = plan(X1).toarray()
    a, b, c, d = X1["a"], X1["b"], X1["c"][0], X1["c"][1][0]
    assert np.allclose(got[:2, :2], b * np.eye(2)) and np.allclose(got[:2, 2], a)
    assert np.allclose(got[2, :2], c.sum(0))
    assert np.allclose(got[2, 3:7], np.outer(np.ones(2), a).ravel())
    assert np.allclose(got[3:, 7:], np.diag(2 * d))
    with pytest.raises(ValueError, match="structure"):
        plan({"a": A0, "b": B0})


def test_gradient_hessian_hvp_of_a_dict():
    def f(t):
        return t["w"][0] ** 2 * t["s"] ** 3 + np.sum(t["w"])

    w, s = np.array([1.5, -2.0]), np.array(0.5)
    x = {"w": w, "s": s}
    g = dd.gradient(f, x)
    assert_tree_close(g, {"w": np.array([2 * w[0] * s**3 + 1, 1.0]), "s": 3 * w[0]**2 * s**2})
    H_ww = np.array([[2 * s**3, 0], [0, 0]])
    H_ws = np.array([6 * w[0] * s**2, 0])
    H_ss = 6 * w[0] ** 2 * s
    H_want = {"s": {"s": np.array(H_ss), "w": H_ws}, "w": {"s": H_ws, "w": H_ww}}
    for method in ["hyperdual", "forward-over-reverse"]:
        assert_tree_close(dd.hessian(f, x, method=method), H_want, rtol=1e-13)
        v, g2, H = dd.value_gradient_and_hessian(f, x, method=method)
        assert np.isclose(v, f(x)) and isinstance(g2, dict) and isinstance(H["w"], dict)
        hv = dd.hvp(f, x, {"w": np.array([1.0, 0.0]), "s": 2.0}, method=method)
        assert_tree_close(hv, {"w": H_ww[:, 0] + 2 * H_ws, "s": H_ws[0] + 2 * H_ss},
                          rtol=1e-13)
    with pytest.raises(ValueError, match="structure"):
        dd.hvp(f, x, {"w": np.ones(2)})


def test_jvp_vjp_and_derivative_with_structures():
    y, t = dd.jvp(F, X0, {"a": np.array([1.0, 0.0]), "b": 1.0, "c": (np.zeros((2, 2)),
                                                                      [np.ones(3)])})
    assert_tree_close(t, {"y": np.array([B0, 0.0]) + A0, "z": (C0.sum(0)[0], 2 * D0)})
    y, pullback = dd.vjp(F, X0)
    u = {"y": np.array([1.0, 2.0]), "z": (1.0, np.array([0.0, 0.0, 1.0]))}
    g = pullback(u)
    assert_tree_close(g, {"a": B0 * np.array([1.0, 2.0]) + C0.sum(0),
                          "b": np.array(A0 @ [1.0, 2.0]),
                          "c": (np.outer(np.ones(2), A0), [np.array([0, 0, 2 * D0[2]])])})
    batched = pullback({"y": np.stack([u["y"], 0 * u["y"]]),
                        "z": (np.ones(2), np.stack([u["z"][1]] * 2))})
    np.testing.assert_allclose(batched["a"][0], g["a"])
    np.testing.assert_allclose(batched["a"][1], C0.sum(0))
    d = dd.derivative(lambda s: {"p": s**2, "q": [s, np.ones(2) * s]}, 3.0)
    assert_tree_close(d, {"p": np.array(6.0), "q": [np.array(1.0), np.ones(2)]})


def test_namedtuple_and_lists_keep_their_type():
    P = namedtuple("P", "w b")
    x = P(np.array([1.0, 2.0]), np.array(0.5))
    g = dd.gradient(lambda p: np.sum(p.w * p.b), x)
    assert type(g) is P and g.w.tolist() == [0.5, 0.5] and float(g.b) == 3.0
    J = dd.jacobian(lambda v: [v, 2 * v], np.ones(2))  # a list of arrays: two outputs
    assert isinstance(J, list) and np.array_equal(J[1], 2 * np.eye(2))


def test_lists_of_numbers_are_arrays_as_before():
    J = dd.jacobian(lambda x: [x[0] * x[1], x[0]], [1.0, 2.0])
    assert isinstance(J, np.ndarray) and J.tolist() == [[2.0, 1.0], [1.0, 0.0]]


# -- args, kwargs, argnums -----------------------------------------------------------------

def scaled(x, a, b=1.0):
    return a * np.sin(x) ** 2 + b * x


@pytest.mark.parametrize("mode", MODES)
def test_args_and_kwargs_in_every_first_order_driver(mode):
    x = np.array([0.3, 1.1])
    a, b = 1.5, -0.5
    jac = np.diag(a * np.sin(2 * x) + b)
    kw = {"args": (a,), "kwargs": {"b": b}}
    np.testing.assert_allclose(dd.jacobian(scaled, x, mode=mode, **kw), jac, rtol=1e-14)
    np.testing.assert_allclose(dd.value_and_jacobian(scaled, x, mode, **kw)[1], jac, rtol=1e-14)
    s = lambda x, a, b=1.0: np.sum(scaled(x, a, b))
    np.testing.assert_allclose(dd.gradient(s, x, mode=mode, **kw), np.diag(jac), rtol=1e-14)
    v, g = dd.value_and_gradient(s, x, mode=mode, **kw)
    assert v == s(x, a, b) and np.allclose(g, np.diag(jac), rtol=1e-14)


def test_args_and_kwargs_in_the_other_drivers():
    x = np.array([0.3, 1.1])
    a, b = 1.5, -0.5
    kw = {"args": (a,), "kwargs": {"b": b}}
    d1 = a * np.sin(2 * x) + b
    d2 = 2 * a * np.cos(2 * x)
    np.testing.assert_allclose(dd.jvp(scaled, x, np.ones(2), **kw)[1], d1, rtol=1e-14)
    np.testing.assert_allclose(dd.vjp(scaled, x, **kw)[1](np.ones(2)), d1, rtol=1e-14)
    np.testing.assert_allclose(dd.derivative(scaled, 0.3, **kw), d1[0], rtol=1e-14)
    s = lambda x, a, b=1.0: np.sum(scaled(x, a, b))
    np.testing.assert_allclose(dd.hessian(s, x, **kw), np.diag(d2), rtol=1e-14)
    np.testing.assert_allclose(dd.hvp(s, x, np.ones(2), **kw), d2, rtol=1e-14)
    np.testing.assert_allclose(dd.value_gradient_and_hessian(s, x, **kw)[2], np.diag(d2),
                               rtol=1e-14)
    np.testing.assert_allclose(dd.jacobian(scaled, x, sparsity="auto", **kw).toarray(),
                               np.diag(d1), rtol=1e-14)
    assert dd.jacobian_sparsity(scaled, x, **kw).nnz == 2
    plan = dd.jacobian_plan(scaled, x, **kw)
    np.testing.assert_allclose(plan(x).diagonal(), d1, rtol=1e-14)
    np.testing.assert_allclose(plan(x, 2.0).diagonal(), 2.0 * np.sin(2 * x) + b, rtol=1e-14)


def test_argnums_selects_positional_arguments():
    def f(a, b, scale, label):
        assert label == "plain string passes through"
        return scale * np.sum(a * b**2)

    a, b = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    args = (a, b, 2.0, "plain string passes through")
    ga, gs = dd.gradient(f, args, argnums=(0, 2))
    assert ga.tolist() == (2.0 * b**2).tolist() and float(gs) == np.sum(a * b**2)
    gb = dd.gradient(f, args, argnums=1)
    assert gb.tolist() == (2.0 * 2 * a * b).tolist()
    gb2 = dd.gradient(f, args[:2], argnums=-1, args=args[2:])
    assert gb2.tolist() == gb.tolist()
    J = dd.jacobian(lambda a, b: a * b, (a, b), argnums=(0, 1))
    assert isinstance(J, tuple) and np.array_equal(J[0], np.diag(b)) and \
        np.array_equal(J[1], np.diag(a))
    H = dd.hessian(lambda s, t: s**2 * t, (3.0, 2.0), argnums=(0, 1))  # scalars: a tuple
    assert [[float(h) for h in row] for row in H] == [[4.0, 6.0], [6.0, 0.0]]


def test_argnums_errors():
    with pytest.raises(TypeError, match="tuple of f's positional arguments"):
        dd.gradient(np.sum, np.ones(2), argnums=0)
    with pytest.raises(ValueError, match="out of range"):
        dd.gradient(lambda a: np.sum(a), (np.ones(2),), argnums=1)
    with pytest.raises(TypeError, match="argnums must be an int"):
        dd.gradient(lambda a: np.sum(a), (np.ones(2),), argnums="0")


def test_extra_arguments_in_place_of_mode_or_chunk_say_args():
    with pytest.raises(ValueError, match=r"args=\(0\.5,\)"):
        dd.jacobian(scaled, np.ones(2), 0.5)
    with pytest.raises(ValueError, match=r"args=\(0\.5,\)"):
        dd.hessian(lambda x, a: np.sum(x) * a, np.ones(2), 0.5)
    with pytest.raises(TypeError, match=r"args must be a tuple.*args=\(0\.5,\)"):
        dd.gradient(lambda x, a: np.sum(x) * a, np.ones(2), args=0.5)


# -- has_aux -----------------------------------------------------------------------------------

def with_aux(x):
    y = x**2
    return np.sum(y), {"y": y, "n": len(x)}


def _plain(tree):
    if isinstance(tree, dict):
        return all(_plain(v) for v in tree.values())
    return not isinstance(tree, (dd.Dual, dd.HyperDual)) and type(tree).__module__ != \
        "dualdiff.tape"


@pytest.mark.parametrize("mode", MODES)
def test_has_aux_first_order(mode):
    x = np.array([1.0, -2.0, 0.5])
    g, aux = dd.gradient(with_aux, x, mode=mode, has_aux=True)
    assert g.tolist() == (2 * x).tolist() and _plain(aux)
    assert aux["y"].tolist() == (x**2).tolist() and aux["n"] == 3
    (v, aux), g = dd.value_and_gradient(with_aux, x, mode=mode, has_aux=True)
    assert v == np.sum(x**2) and _plain(aux) and g.tolist() == (2 * x).tolist()
    J, aux = dd.jacobian(lambda x: (x**2, x[0]), x, mode=mode, has_aux=True)
    assert np.array_equal(J, np.diag(2 * x)) and float(aux) == 1.0 and _plain(aux)
    (y, aux), J = dd.value_and_jacobian(lambda x: (x**2, x[0]), x, mode, has_aux=True)
    assert np.array_equal(y, x**2) and float(aux) == 1.0


def test_has_aux_other_drivers():
    x = np.array([1.0, -2.0, 0.5])
    H, aux = dd.hessian(with_aux, x, has_aux=True)
    assert np.array_equal(H, 2 * np.eye(3)) and _plain(aux) and aux["n"] == 3
    H, aux = dd.hessian(with_aux, x, has_aux=True, method="forward-over-reverse")
    assert np.array_equal(H, 2 * np.eye(3)) and _plain(aux) and aux["y"].tolist() == \
        (x**2).tolist()
    (v, aux), g, H = dd.value_gradient_and_hessian(with_aux, x, has_aux=True)
    assert v == np.sum(x**2) and _plain(aux)
    hv, aux = dd.hvp(with_aux, x, np.ones(3), has_aux=True)
    assert hv.tolist() == [2.0] * 3 and _plain(aux)
    y, t, aux = dd.jvp(with_aux, x, np.ones(3), has_aux=True)
    assert float(t) == np.sum(2 * x) and _plain(aux)
    y, pullback, aux = dd.vjp(with_aux, x, has_aux=True)
    assert pullback(1.0).tolist() == (2 * x).tolist() and _plain(aux)
    d, aux = dd.derivative(lambda s: (s**3, s), 2.0, has_aux=True)
    assert float(d) == 12.0 and float(aux) == 2.0 and _plain(aux)
    J, aux = dd.jacobian(lambda x: (x**2, x), x, sparsity="auto", has_aux=True)
    assert np.array_equal(J.toarray(), np.diag(2 * x)) and _plain(aux)


def test_aux_keeps_an_outer_derivative():
    # aux computed from an outer pass's value keeps that pass's derivative: d(2x)/dx = 2 I
    x = np.array([1.0, 2.0])
    outer = dd.jacobian(
        lambda x: dd.gradient(lambda y: (np.sum(y**2 * x), 2 * x), x, has_aux=True)[1], x)
    assert np.array_equal(outer, 2 * np.eye(2))


def test_has_aux_errors():
    with pytest.raises(TypeError, match=r"has_aux=True: f must return a pair"):
        dd.gradient(lambda x: np.sum(x), np.ones(2), has_aux=True)
    with pytest.raises(ValueError, match="has_aux=True"):  # forgotten has_aux
        dd.gradient(with_aux, np.ones(2))


def test_complex_leaves():
    x = np.array([1.0, 2.0])
    J = dd.jacobian(lambda x: {"r": x**2, "c": x * 1j}, x)
    assert J["r"].dtype == np.float64 and np.array_equal(J["r"], np.diag(2 * x))
    assert np.array_equal(J["c"], 1j * np.eye(2))
    for mode in MODES:
        J = dd.jacobian(lambda t: t["a"] * 1j + t["b"], {"a": x, "b": 1.0}, mode=mode)
        assert np.array_equal(J["a"], 1j * np.eye(2)) and np.array_equal(J["b"], np.ones(2))


def test_structures_inside_nested_derivatives():
    x = np.array([1.0, 2.0])
    # outer forward / reverse over an inner gradient of a dict holding the outer value
    for mode in ["forward", "reverse"]:
        H = dd.jacobian(lambda z: dd.gradient(lambda t: np.sum(t["a"]**2 * t["b"]),
                                              {"a": z, "b": 3.0})["a"], x, mode=mode)
        assert np.array_equal(H, 6 * np.eye(2))
    H = dd.hessian(lambda z: dd.gradient(lambda t, s: np.sum(t**3) * s, (z, 2.0),
                                         argnums=(0, 1))[0].sum(), x)
    assert np.array_equal(H, 12 * np.eye(2))

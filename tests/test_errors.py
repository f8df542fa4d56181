"""Bad input gets a clear error, never a wrong derivative; NaN/inf propagate like NumPy."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
import scipy.linalg as sl
import scipy.special as sc

import dualdiff as dd
from dualdiff import Dual


def scalar():
    return Dual(1.5, 1.0)


def vector():
    return Dual(np.array([1.0, 2.0, 3.0]), np.eye(3))


@pytest.mark.parametrize("conv", [float, int, complex, math.sin, math.exp, math.sqrt],
                         ids=lambda f: f.__name__)
def test_python_scalar_conversions_are_refused(conv):
    with pytest.raises(TypeError, match=r"would drop the derivative.*np\.sin"):
        conv(scalar())


def test_item_and_integer_casts_are_refused():
    with pytest.raises(TypeError, match="item"):
        scalar().item()
    with pytest.raises(TypeError, match="astype"):
        vector().astype(int)
    with pytest.raises(TypeError, match="index"):
        [1, 2][Dual(0.0, 1.0)]
    with pytest.raises(TypeError, match="index with an integer"):
        vector()[Dual(np.array([0.0]), np.ones((1, 1)))]


def test_numeric_array_conversion_is_refused():
    msg = r"np\.zeros_like\(x\).*np\.zeros\(n, like=x\)"
    with pytest.raises(TypeError, match=msg):
        np.asarray(vector(), dtype=np.float64)
    with pytest.raises(TypeError, match=msg):
        np.array(vector(), dtype=float)
    with pytest.raises(TypeError, match=msg):
        np.asarray(scalar(), dtype=float)


def test_writing_a_dual_into_a_float_array_is_refused():
    def slice_write(x):
        out = np.zeros(3)
        out[:] = x
        return out

    with pytest.raises(TypeError, match=r"np\.zeros_like\(x\)"):
        dd.jacobian(slice_write, np.ones(3))



def item_write(x):
    out = np.zeros(3)
    out[0] = x[0] * 2
    return out


@pytest.mark.parametrize("run", [
    lambda: dd.jacobian(item_write, np.ones(3), mode="forward"),
    lambda: dd.jacobian(item_write, np.ones(3), mode="reverse"),
    lambda: dd.jacobian_sparsity(item_write, np.ones(3)),
    lambda: dd.hessian(lambda x: np.sum(item_write(x)), np.ones(3)),
    lambda: dd.jacobian(lambda y: dd.gradient(lambda x: np.sum(item_write(x) * y), y),
                        np.ones(3)),
], ids=["forward", "reverse", "sparsity", "hessian", "nested"])
def test_item_write_into_a_plain_array_names_the_fix(run):
    # NumPy checks for a sequence before anything a dualdiff array can answer; the drivers
    # re-raise its ValueError with the fix, chained to NumPy's
    with pytest.raises(ValueError, match=r"setting an array element with a sequence.*"
                                         r"np\.zeros_like\(x\) or np\.zeros\(n, like=x\)") as e:
        run()
    assert type(e.value.__cause__) is ValueError
    assert "np.zeros_like" not in str(e.value.__cause__)  # wrapped once, not per level


def test_out_to_a_plain_array_is_refused():
    with pytest.raises(TypeError, match="out="):
        np.sin(vector(), out=np.empty(3))
    with pytest.raises(TypeError, match="out="):
        np.sum(vector(), out=np.empty(()))
    d = vector()
    out = np.zeros_like(d)
    assert np.sin(d, out=out) is out and out.tangent[0, 0] == np.cos(1.0)


def test_unsupported_ufunc_keywords():
    with pytest.raises(TypeError, match="dtype"):
        np.add.reduce(vector(), dtype=int)
    with pytest.raises(TypeError, match="reduceat"):
        np.add.reduceat(vector(), [0, 2])
    with pytest.raises(TypeError, match=r"np.add.at into a plain array"):
        np.add.at(np.zeros(3), [0], vector()[:1])  # (into a carrier it is supported)
    with pytest.raises(TypeError, match="where"):
        np.add(vector(), 1.0, where=np.array([True, False, True]))
    with pytest.raises(TypeError, match="dtype"):
        np.add(vector(), 1.0, dtype=int)


def test_driver_arguments():
    f = np.sin
    with pytest.raises(ValueError, match="mode.*'backward'"):
        dd.jacobian(f, [1.0], mode="backward")
    with pytest.raises(ValueError, match="mode"):
        dd.gradient(lambda x: np.sum(x), [1.0], mode="Forward")
    for chunk in (0, -1, 1.5, "2"):
        with pytest.raises(ValueError, match="chunk"):
            dd.jacobian(f, [1.0], chunk=chunk)
    with pytest.raises(ValueError, match="scalar x"):
        dd.derivative(f, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"scalar-valued f.*\(2,\).*jacobian"):
        dd.gradient(lambda x: x, [1.0, 2.0])


@pytest.mark.parametrize("x", ["abc", None, {"a": "text"}, [1.0, "b"], object()],
                         ids=["str", "None", "dict", "mixed", "object"])
def test_non_numeric_input(x):
    with pytest.raises(TypeError, match="input x must be real numbers"):
        dd.jacobian(np.sin, x)


def test_complex_input():
    with pytest.raises(ValueError, match="real inputs"):
        dd.jacobian(np.sin, [1j, 2.0])
    with pytest.raises(ValueError, match="real inputs"):
        dd.derivative(np.sin, 1 + 0j)


@pytest.mark.parametrize("out", ["abc", None, {"a": "text"}, [1.0, None]],
                         ids=["str", "None", "dict", "list-None"])
def test_non_numeric_output(out):
    with pytest.raises(TypeError, match="f must return numbers"):
        dd.jacobian(lambda x: out, [1.0, 2.0])


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_gradient_and_hessian_of_a_complex_output_say_so(mode):
    with pytest.raises(TypeError, match="real-valued f"):
        dd.gradient(lambda x: np.sum(x) * 1j, [1.0, 2.0], mode=mode)
    with pytest.raises(TypeError, match="real-valued f"):
        dd.hessian(lambda x: np.sum(x * x) * 1j, [1.0, 2.0])


def _record(fn):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        result = fn()
    # NumPy says "scalar multiply" for np.float64 and "multiply" for 0-d arrays: same warning
    return result, [str(w.message).replace("scalar ", "") for w in rec]


NAN_CASES = {
    # f, x: NumPy on the primal warns (or not); the derivative passes add nothing
    "sqrt at 0": (np.sqrt, [0.0, 4.0]),
    "x**0.5 at 0": (lambda x: x**0.5, [0.0, 4.0]),
    "x**0 at 0": (lambda x: x**0.0, [0.0, 4.0]),
    "arcsin at 1": (np.arcsin, [1.0, -1.0, 0.5]),
    "cbrt at 0": (np.cbrt, [0.0, 8.0]),
    "log at 0": (np.log, [0.0, 1.0]),
    "log of negative": (np.log, [-1.0, 1.0]),
    "divide by 0": (lambda x: 1.0 / x, [0.0, 2.0]),
    "nan input": (lambda x: np.sin(x) * x, [np.nan, 1.0]),
    "inf input": (lambda x: np.exp(-x) * x, [np.inf, 1.0]),
    "inf - inf": (lambda x: x - x, [np.inf, 1.0]),
    "0 * inf": (lambda x: x[0] * np.exp(x[1]), [0.0, 800.0]),
    "hypot at 0": (lambda x: np.hypot(x[0], x[1]), [0.0, 0.0]),
    "arctan2 at 0": (lambda x: np.arctan2(x[0], x[1]), [0.0, 0.0]),
    "norm at 0": (np.linalg.norm, [0.0, 0.0]),
    "std of constant": (np.std, [2.0, 2.0]),
    "logit at 0": (lambda x: dd.rules.sc.logit(x), [0.0, 0.5]),
    "power neg base": (lambda x: x**2.5, [-1.0, 1.0]),
    "max with nan": (np.max, [np.nan, 1.0]),
    "sort with nan": (np.sort, [np.nan, 1.0, 0.0]),
}


@pytest.mark.parametrize("name", list(NAN_CASES))
def test_nan_and_inf_propagate_without_extra_warnings(name):
    f, x = NAN_CASES[name]
    x = np.array(x)
    y, plain = _record(lambda: f(x.copy()))
    (value, jac), ours = _record(lambda: dd.value_and_jacobian(f, x))
    np.testing.assert_array_equal(value, y)  # same primal, nan and inf included
    assert set(ours) <= set(plain), f"derivative code warned: {set(ours) - set(plain)}"
    assert jac.shape == np.shape(y) + x.shape


def test_infinite_and_undefined_derivatives_are_inf_and_nan():
    _, jac = dd.value_and_jacobian(np.sqrt, np.array([0.0]))
    assert jac[0, 0] == np.inf
    jac = dd.jacobian(lambda x: np.sin(x), np.array([np.nan]))
    assert np.isnan(jac[0, 0])
    with np.errstate(invalid="ignore"):  # NumPy's own warning for sqrt(-1)
        jac = dd.jacobian(lambda x: np.sqrt(x) * x, np.array([-1.0]))
    assert np.isnan(jac[0, 0])


def test_zero_tangent_stays_zero_where_another_entry_is_infinite():
    # the columns of other inputs must not pick up 0 * inf = nan
    jac = dd.jacobian(np.sqrt, np.array([0.0, 4.0]))
    assert jac[1, 1] == 0.25 and jac[1, 0] == 0.0 and jac[0, 1] == 0.0 and jac[0, 0] == np.inf
    g = dd.gradient(lambda x: np.sum(np.sqrt(x)), np.array([0.0, 4.0]))
    assert g.tolist() == [np.inf, 0.25]
    jac = dd.jacobian(lambda x: np.arctan2(x[0], x[1]) + x[2], np.array([0.0, 0.0, 1.0]))
    assert np.isnan(jac[0]) and np.isnan(jac[1]) and jac[2] == 1.0  # atan2 jumps at 0
    jac = dd.jacobian(lambda x: np.log(x[0]) * x[1] ** 0.5, np.array([1.0, 0.0]))
    assert jac[0] == 0.0  # (jac[1] is 0 * inf = nan by the product rule: undefined there)


# -- messages in the user's words (issue 9.7) ---------------------------------------------------

INTERNAL = re.compile(r"\b(Dual|HyperDual|Tape|Tracer|carriers?|primal|tags?|Node|Leaf)\b")


def _slice_write(x):
    out = np.zeros(3)
    out[:] = x
    return out


FAILING = {
    # what the user wrote: (f, a phrase the message must contain)
    "float(x)": (lambda x: float(x[0]), r"float\(\) of a dualdiff array"),
    "math.sin": (lambda x: math.sin(x[0]), r"np\.sin, not math\.sin"),
    "np.asarray(dtype=)": (lambda x: np.asarray(x, dtype=float), r"np\.zeros_like\(x\)"),
    "slice write": (_slice_write, r"np\.zeros_like\(x\)"),
    "out=": (lambda x: np.sin(x, out=np.empty(3)), r"np\.sin\(\.\.\., out=<plain array>\)"),
    "astype(int)": (lambda x: x.astype(int), r"astype\(int64\)"),
    "view": (lambda x: x.view(np.int64), r"x\.view\(dtype\)"),
    "list index": (lambda x: [1, 2][x[0]], r"operator\.index\(\)"),
    "index by x": (lambda x: x[x], "cannot index with a dualdiff array"),
    "refused": (lambda x: np.histogram(x)[0] * x[0], r"np\.histogram"),
    "no rule": (lambda x: sc.airy(x)[0], r"scipy\.special\.airy"),
    "scipy": (lambda x: sl.expm(np.reshape(x[:1], (1, 1))),
              r"scipy\.linalg\.expm cannot take.*dualdiff\.scipy\.linalg\.expm"),
    "len": (lambda x: len(x[0]), r"len\(\)"),
    "where= of a ufunc": (lambda x: np.sin(x, where=x > 0, out=np.zeros_like(x)),
                          r"np\.sin\(\.\.\., where=\)"),
}

RUNS = {
    "forward": lambda f, x: dd.jacobian(f, x, mode="forward"),
    "reverse": lambda f, x: dd.jacobian(f, x, mode="reverse"),
    "sparsity": lambda f, x: dd.jacobian_sparsity(f, x),
    "hyperdual": lambda f, x: dd.hessian(lambda z: np.sum(f(z)), x, method="hyperdual"),
    "forward-over-reverse": lambda f, x: dd.hessian(lambda z: np.sum(f(z)), x,
                                                    method="forward-over-reverse"),
    "nested": lambda f, x: dd.jacobian(
        lambda y: dd.gradient(lambda z: np.sum(f(z)) * y[0], y, mode="reverse"), x),
}


@pytest.mark.parametrize("run", list(RUNS))
@pytest.mark.parametrize("case", list(FAILING))
def test_messages_name_what_the_user_wrote(case, run):
    f, phrase = FAILING[case]
    with pytest.raises((TypeError, ValueError)) as e:
        RUNS[run](f, np.array([0.5, 1.5, 2.0]))
    msg = str(e.value)
    assert re.search(phrase, msg), msg
    assert not INTERNAL.search(msg), msg


def test_scipy_special_functions_are_named_by_their_scipy_name():
    for uf in (sc.airy, sc.dawsn, sc.struve):
        with pytest.raises(TypeError, match=rf"scipy\.special\.{uf.__name__}\b"):
            dd.jacobian(lambda x: uf(x, x) if uf.nin == 2 else uf(x), np.ones(2))


def test_mixing_number_types_of_one_tag_names_the_public_types():
    with pytest.raises(TypeError, match=r"dd\.HyperDual and a dd\.Dual made with the same tag=0"):
        Dual(1.0, 1.0) * dd.HyperDual(1.0, 1.0, 1.0, 0.0)


def test_an_inner_value_stored_outside_explains_nesting_without_tags():
    def f(x):
        out = np.zeros_like(x)

        def inner(y):
            out[0] = y[0]  # leaks the inner derivative into the outer array
            return np.sum(y)

        dd.gradient(inner, x, mode="forward")
        return out

    with pytest.raises(TypeError, match="inner derivative") as e:
        dd.jacobian(f, np.ones(2), mode="forward")
    assert not INTERNAL.search(str(e.value))

"""Every NumPy function that dispatches to a Dual is handled, primal-only, or refused by name.

Walks ``numpy``, ``numpy.linalg`` and ``numpy.fft`` for every function that dispatches through
``__array_function__`` (it has ``_implementation``) and every ufunc, and every ufunc of
``scipy.special``, so a NumPy or SciPy upgrade that adds a function makes this test fail until
the function is classified (a scipy.special ufunc without a row is refused by name).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sc
import scipy.special._ufuncs as U

from dualdiff import Dual, core, rules

MODULES = {"np": np, "np.linalg": np.linalg, "np.fft": np.fft}


def _walk():
    funcs, ufuncs = {}, {}
    for prefix, mod in MODULES.items():
        for name in dir(mod):
            obj = getattr(mod, name)
            if isinstance(obj, np.ufunc):
                ufuncs.setdefault(obj, f"{prefix}.{name}")
            elif callable(obj) and hasattr(obj, "_implementation"):
                funcs.setdefault(obj, f"{prefix}.{name}")
    return funcs, ufuncs


FUNCS, UFUNCS = _walk()
#: scipy.special's ufuncs (the private ones behind public names too, e.g. _zeta)
SPECIAL = {getattr(U, n): f"scipy.special.{n.lstrip('_')}" for n in dir(U)
           if isinstance(getattr(U, n), np.ufunc) and not n.startswith("__")}
RULE_UFUNCS = (set(rules.UNARY) | set(rules.BINARY) | rules.PIECEWISE_CONSTANT
               | rules.DISCRETE_UFUNCS)


def test_walk_finds_the_api():
    assert len(FUNCS) > 250 and len(UFUNCS) > 80
    assert np.linalg.solve in FUNCS and np.fft.fft in FUNCS and np.sin in UFUNCS


@pytest.mark.parametrize("func", list(FUNCS), ids=lambda f: FUNCS[f])
def test_every_function_is_classified(func):
    places = [func in core.HANDLED, func in core.DISCRETE, func in core.REFUSED]
    assert sum(places) == 1, f"{FUNCS[func]} is in {places} of HANDLED/DISCRETE/REFUSED"


@pytest.mark.parametrize("ufunc", list(UFUNCS), ids=lambda f: UFUNCS[f])
def test_every_ufunc_is_classified(ufunc):
    places = [ufunc in RULE_UFUNCS, ufunc in core.HANDLED, ufunc in core.REFUSED]
    assert sum(places) == 1, f"{UFUNCS[ufunc]} is in {places} of rules/HANDLED/REFUSED"


def _dual():
    return Dual(np.array([0.5, 1.5, 2.5]), np.eye(3))


@pytest.mark.parametrize("func", [f for f in FUNCS if f in core.REFUSED],
                         ids=lambda f: FUNCS[f])
def test_unsupported_functions_raise_naming_themselves(func):
    d = _dual()
    for nargs in (1, 2, 3, 4):  # the dispatcher needs the right number of array arguments
        try:
            func(*[d] * nargs)
        except TypeError as e:
            if "dualdiff" in str(e):
                assert func.__name__ in str(e) and core.REFUSED[func] in str(e)
                return
        except Exception:  # noqa: BLE001  (wrong arguments before dispatch: try more)
            pass
    pytest.fail(f"{FUNCS[func]} on a Dual did not raise dualdiff's TypeError")


@pytest.mark.parametrize("ufunc", [u for u in UFUNCS if u in core.REFUSED],
                         ids=lambda f: UFUNCS[f])
def test_unsupported_ufuncs_raise_naming_themselves(ufunc):
    with pytest.raises(TypeError, match=ufunc.__name__):
        ufunc(*[_dual()] * ufunc.nin)


# how to call a discrete function on Dual arguments where one or two of them is not enough
CALLS = {
    np.argpartition: lambda d: np.argpartition(d, 1),
    np.ravel_multi_index: lambda d: np.ravel_multi_index((d > 1,), (2,)),
    np.unravel_index: lambda d: np.unravel_index(np.argmax(d), (3,)),
    np.packbits: lambda d: np.packbits(d > 1),
    np.histogram_bin_edges: lambda d: np.histogram_bin_edges(d, bins=2),
    np.lexsort: lambda d: np.lexsort((d, d)),
    np.digitize: lambda d: np.digitize(d, np.array([1.0, 2.0])),
    np.diag_indices_from: lambda d: np.diag_indices_from(d[None] * d[:, None]),
    np.tril_indices_from: lambda d: np.tril_indices_from(d[None] * d[:, None]),
    np.triu_indices_from: lambda d: np.triu_indices_from(d[None] * d[:, None]),
}
#: discrete functions that take no float array (dates, bits, index grids): a carrier there
#: gets NumPy's own error, never a result
NOT_FOR_FLOATS = {np.busday_count, np.busday_offset, np.is_busday, np.datetime_as_string,
                  np.unpackbits}


@pytest.mark.parametrize("func", sorted(core.DISCRETE & set(FUNCS), key=lambda f: FUNCS[f]),
                         ids=lambda f: FUNCS[f])
def test_discrete_functions_return_plain_results(func):
    d = _dual()
    if func in NOT_FOR_FLOATS:
        with pytest.raises((TypeError, ValueError)) as info:
            func(d)
        assert "dualdiff" not in str(info.value)  # NumPy's own refusal of a float array
        return
    call = CALLS.get(func)
    if call is None:
        for nargs in (1, 2):
            try:
                out = func(*[d] * nargs)
                break
            except TypeError as e:  # wrong number of arguments for this function
                if "dualdiff" in str(e):
                    raise
        else:
            pytest.fail(f"{FUNCS[func]} could not be called on a Dual; add it to CALLS")
    else:
        out = call(d)
    outs = out if isinstance(out, tuple) else (out,)
    assert outs and all(o is not None for o in outs)
    for o in outs:
        assert not isinstance(o, core.Carrier)
        assert np.asarray(o).dtype != object


def test_walk_finds_scipy_special():
    assert len(SPECIAL) > 200 and sc.erf in SPECIAL and sc.jv in SPECIAL


@pytest.mark.filterwarnings("ignore")
def test_every_scipy_special_ufunc_has_a_row_or_is_refused_by_name():
    """A scipy.special ufunc with no row raises a TypeError naming it (never a result
    without a derivative); one with a row gives a carrier."""
    rowed, refused = [], []
    for uf, name in SPECIAL.items():
        args = [_dual()[0] for _ in range(uf.nin)]
        if uf in rules.UNARY or uf in rules.BINARY or uf in rules.PIECEWISE_CONSTANT:
            rowed.append(name)
            continue
        with pytest.raises(TypeError, match=rf"scipy\.special\.{name.split('.')[-1]}\b"):
            uf(*args)
        refused.append(name)
    assert rowed and refused and len(rowed) + len(refused) == len(SPECIAL)


@pytest.mark.parametrize("name", ["erf", "expit", "gammaln", "log_ndtr", "erfinv", "i0e"])
def test_scipy_special_rows_give_carriers(name):
    out = getattr(sc, name)(_dual())
    assert isinstance(out, Dual) and out.tangent.shape == (3, 3)


def test_bincount_is_linear_in_its_weights():
    d = _dual()
    out = np.bincount(np.array([2, 0, 2]), weights=d, minlength=4)
    assert isinstance(out, Dual)
    np.testing.assert_array_equal(out.value, [1.5, 0.0, 3.0, 0.0])
    np.testing.assert_array_equal(out.tangent, [[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 1, 0]])
    counts = np.bincount(np.array([2, 0, 2]))  # no carrier: NumPy's own
    assert counts.tolist() == [1, 0, 2]


def test_scipy_special_ufuncs_have_rules():
    import scipy.special as sc

    for f in (sc.expit, sc.logit, sc.erf, sc.erfc, sc.gammaln, sc.digamma, sc.gamma, sc.ndtr,
              sc.log_ndtr, sc.xlogy, sc.xlog1py):
        assert f in rules.UNARY or f in rules.BINARY, f.__name__
    out = sc.zeta(2.0, Dual(1.5, 1.0))  # scipy's zeta(x, q) calls the _zeta ufunc
    assert isinstance(out, Dual)


def test_an_unknown_ufunc_is_refused():
    import scipy.special as sc

    with pytest.raises(TypeError, match="scipy.special.ellipk"):  # (j0 has a row)
        sc.ellipk(_dual())


# the modules a user reads (the public API and what it returns)
OWN_MODULES = ["dualdiff", "dualdiff.api", "dualdiff.dual", "dualdiff.hyperdual",
               "dualdiff.seeding", "dualdiff.coloring"]


@pytest.mark.parametrize("modname", OWN_MODULES)
def test_public_functions_have_a_doctest(modname):
    import importlib
    import inspect

    mod = importlib.import_module(modname)
    names = getattr(mod, "__all__", None) or [n for n in vars(mod) if not n.startswith("_")]
    missing = []
    for name in names:
        obj = getattr(mod, name)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and \
                (modname == "dualdiff" or obj.__module__ == modname):
            if ">>>" not in (obj.__doc__ or ""):
                missing.append(name)
    assert not missing, f"{modname}: no doctest example in {missing}"

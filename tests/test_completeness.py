"""Every NumPy function that dispatches to a Dual is handled, primal-only, or refused by name.

Walks ``numpy``, ``numpy.linalg`` and ``numpy.fft`` for every function that dispatches through
``__array_function__`` (it has ``_implementation``) and every ufunc, so a NumPy upgrade that adds
a function makes this test fail until the function is classified.
"""

from __future__ import annotations

import numpy as np
import pytest

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
    np.busday_count: None, np.busday_offset: None, np.is_busday: None,
    np.datetime_as_string: None,  # dates: no float arrays to hold a derivative
    np.ravel_multi_index: lambda d: np.ravel_multi_index((d > 1,), (2,)),
    np.unravel_index: lambda d: np.unravel_index(np.argmax(d), (3,)),
    np.packbits: lambda d: np.packbits(d > 1), np.unpackbits: None,
    np.bincount: lambda d: np.bincount(np.array([0, 1]), weights=None) if False else None,
    np.histogram_bin_edges: lambda d: np.histogram_bin_edges(d, bins=2),
    np.lexsort: lambda d: np.lexsort((d, d)), np.ix_: None,
    np.digitize: lambda d: np.digitize(d, np.array([1.0, 2.0])),
    np.diag_indices_from: lambda d: np.diag_indices_from(d[None] * d[:, None]),
    np.tril_indices_from: lambda d: np.tril_indices_from(d[None] * d[:, None]),
    np.triu_indices_from: lambda d: np.triu_indices_from(d[None] * d[:, None]),
}


@pytest.mark.parametrize("func", sorted(core.DISCRETE & set(FUNCS), key=lambda f: FUNCS[f]),
                         ids=lambda f: FUNCS[f])
def test_discrete_functions_return_plain_results(func):
    d = _dual()
    call = CALLS.get(func, "default")
    if call is None:
        pytest.skip(f"{FUNCS[func]} takes no float arrays (dates, bits, integer counts)")
    if call == "default":
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
    for o in out if isinstance(out, tuple) else (out,):
        assert not isinstance(o, Dual) and not isinstance(o, core.Carrier)


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

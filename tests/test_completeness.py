"""Every NumPy function that dispatches to a Dual is handled, primal-only, or refused by name.

Walks ``numpy``, ``numpy.linalg`` and ``numpy.fft`` for every function that dispatches through
``__array_function__`` (it has ``_implementation``) and every ufunc, so a NumPy upgrade that adds
a function makes this test fail until the function is classified.
"""

from __future__ import annotations

import numpy as np
import pytest

from dualdiff import Dual, dispatch, rules

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
               | rules.PRIMAL_ONLY_UFUNCS)


def test_walk_finds_the_api():
    assert len(FUNCS) > 250 and len(UFUNCS) > 80
    assert np.linalg.solve in FUNCS and np.fft.fft in FUNCS and np.sin in UFUNCS


@pytest.mark.parametrize("func", list(FUNCS), ids=lambda f: FUNCS[f])
def test_every_function_is_classified(func):
    places = [func in dispatch.HANDLED, func in dispatch.PRIMAL_ONLY, func in dispatch.UNSUPPORTED]
    assert sum(places) == 1, f"{FUNCS[func]} is in {places} of HANDLED/PRIMAL_ONLY/UNSUPPORTED"


@pytest.mark.parametrize("ufunc", list(UFUNCS), ids=lambda f: UFUNCS[f])
def test_every_ufunc_is_classified(ufunc):
    places = [ufunc in RULE_UFUNCS, ufunc in dispatch.HANDLED, ufunc in dispatch.UNSUPPORTED]
    assert sum(places) == 1, f"{UFUNCS[ufunc]} is in {places} of rules/HANDLED/UNSUPPORTED"


def _dual():
    return Dual(np.array([0.5, 1.5, 2.5]), np.eye(3))


@pytest.mark.parametrize("func", [f for f in FUNCS if f in dispatch.UNSUPPORTED],
                         ids=lambda f: FUNCS[f])
def test_unsupported_functions_raise_naming_themselves(func):
    d = _dual()
    for nargs in (1, 2, 3, 4):  # the dispatcher needs the right number of array arguments
        try:
            func(*[d] * nargs)
        except TypeError as e:
            if "dualdiff" in str(e):
                assert func.__name__ in str(e) and dispatch.UNSUPPORTED[func] in str(e)
                return
        except Exception:  # noqa: BLE001  (wrong arguments before dispatch: try more)
            pass
    pytest.fail(f"{FUNCS[func]} on a Dual did not raise dualdiff's TypeError")


@pytest.mark.parametrize("ufunc", [u for u in UFUNCS if u in dispatch.UNSUPPORTED],
                         ids=lambda f: UFUNCS[f])
def test_unsupported_ufuncs_raise_naming_themselves(ufunc):
    with pytest.raises(TypeError, match=ufunc.__name__):
        ufunc(*[_dual()] * ufunc.nin)


@pytest.mark.parametrize("func", sorted(dispatch.PRIMAL_ONLY & set(FUNCS), key=lambda f: FUNCS[f]),
                         ids=lambda f: FUNCS[f])
def test_primal_only_functions_return_no_carrier(func):
    d = _dual()
    for nargs in (1, 2):
        try:
            out = func(*[d] * nargs)
        except Exception:  # noqa: BLE001  (needs other arguments)
            continue
        for o in out if isinstance(out, tuple) else (out,):
            assert not isinstance(o, Dual)
        return


def test_scipy_special_ufuncs_have_rules():
    import scipy.special as sc

    for f in (sc.expit, sc.logit, sc.erf, sc.erfc, sc.gammaln, sc.digamma, sc.gamma, sc.ndtr,
              sc.log_ndtr, sc.xlogy, sc.xlog1py):
        assert f in rules.UNARY or f in rules.BINARY, f.__name__
    out = sc.zeta(2.0, Dual(1.5, 1.0))  # scipy's zeta(x, q) calls the _zeta ufunc
    assert isinstance(out, Dual)


def test_an_unknown_ufunc_is_refused():
    import scipy.special as sc

    with pytest.raises(TypeError, match="j0"):
        sc.j0(_dual())


OWN_MODULES = ["dualdiff", "dualdiff.carrier", "dualdiff.dual", "dualdiff.dispatch",
               "dualdiff.drivers", "dualdiff.functions", "dualdiff.linalg", "dualdiff.rules"]


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

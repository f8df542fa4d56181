"""SciPy's names, differentiable: ``dualdiff.scipy.stats.norm.logpdf``,
``dualdiff.scipy.special.logsumexp``, ``dualdiff.scipy.linalg.expm`` ... have SciPy's
signatures and fall straight through to SciPy when no argument is a dualdiff carrier, so
swapping ``import scipy.stats`` for ``import dualdiff.scipy.stats`` costs nothing.

========================  ==================================================================
``special``               logsumexp, softmax, log_softmax, betainc (in x); SciPy's own
``stats``                 norm, t, gamma, beta, expon, laplace, cauchy, lognorm, chi2,
                          poisson, binom, multivariate_normal, dirichlet
``linalg``                solve_triangular, cho_factor/cho_solve, lu_factor/lu_solve, expm,
                          sqrtm, solve_sylvester, solve_banded, det, inv, solve
``integrate``             trapezoid, simpson, cumulative_trapezoid
``signal``                convolve, fftconvolve, correlate
``interpolate``           CubicSpline, make_interp_spline, PPoly, BSpline
========================  ==================================================================

SciPy itself converts its inputs with ``np.asarray``, which a carrier refuses (the
derivative would be lost).  :func:`twin_hint` names the SciPy function that did so and its
twin here; it is registered with the core when dualdiff is imported, so that error says
what to call instead.  The submodules are imported on first use (as SciPy's own are):
``import dualdiff`` does not pay for importing ``scipy.stats``.
"""

from __future__ import annotations

import importlib
import sys
import types

from .. import core

__all__ = ["special", "stats", "linalg", "integrate", "signal", "interpolate", "twin_hint"]

#: SciPy's public module -> the names mirrored in ``dualdiff.<module>`` (checked against the
#: mirrors' ``__all__`` by the tests; kept here so that the hint imports no mirror).
MIRRORS = {
    "scipy.special": ("logsumexp", "softmax", "log_softmax", "polygamma", "multigammaln",
                      "betainc", "betaincc"),
    "scipy.stats": ("norm", "t", "gamma", "beta", "expon", "laplace", "cauchy", "lognorm",
                    "chi2", "poisson", "binom", "multivariate_normal", "dirichlet"),
    "scipy.linalg": ("solve_triangular", "cho_factor", "cho_solve", "lu_factor", "lu_solve",
                     "expm", "sqrtm", "solve_sylvester", "solve_banded", "det", "inv",
                     "solve"),
    "scipy.integrate": ("trapezoid", "simpson", "cumulative_trapezoid"),
    "scipy.signal": ("convolve", "fftconvolve", "correlate"),
    "scipy.interpolate": ("CubicSpline", "make_interp_spline", "PPoly", "BSpline"),
}
_SUBMODULES = tuple(m.split(".")[1] for m in MIRRORS)
#: the methods of the scipy.stats distributions mirrored with derivatives
STATS_METHODS = ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "logpmf", "pmf")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))


def _scipy_name(frame: types.FrameType) -> tuple | None:
    """(public SciPy module, what the user called) of a frame running SciPy code, else
    None.  What was called is a function name, ``dist.method`` for a distribution of
    scipy.stats (``dist(...).method`` frozen), or a class name for its methods."""
    module = frame.f_globals.get("__name__", "")
    if not module.startswith("scipy."):
        return None
    name = frame.f_code.co_name
    local = frame.f_locals
    wrapped = local.get("f") if name == "wrapper" else None  # SciPy's batch decorator
    if callable(wrapped) and getattr(wrapped, "__module__", "").startswith("scipy."):
        module, name = wrapped.__module__, wrapped.__name__
    elif "self" in local and frame.f_code.co_varnames[:1] == ("self",):
        obj = local["self"]
        dist = getattr(obj, "dist", obj)
        kind = type(obj).__name__
        if module.startswith("scipy.special") and isinstance(getattr(obj, "name", None), str):
            name = obj.name  # SciPy's array-API wrapper of a special function
        elif module.startswith("scipy.stats") and isinstance(getattr(dist, "name", None), str):
            name = f"{dist.name}{'(...)' if dist is not obj else ''}.{name}"
        elif module.startswith("scipy.stats") and kind.endswith(("_gen", "_frozen")):
            frozen = kind.endswith("_frozen")  # multivariate_normal_gen / _frozen
            name = f"{kind.rsplit('_', 1)[0]}{'(...)' if frozen else ''}.{name}"
        else:
            name = kind
    return ".".join(module.split(".")[:2]), name


def twin_hint(frame: types.FrameType | None = None) -> str:
    r"""A sentence naming the SciPy function that was called on a carrier and its
    dualdiff twin; "" when the conversion did not come from a mirrored SciPy function.

    ``frame`` is where to start looking (default: the frame that called the caller, as
    for an ``__array__`` method calling twin_hint()); the SciPy function is the
    outermost SciPy frame before user code (NumPy's frames are passed over; any other
    frame ends the search, so a conversion in user code gets no hint, at the cost of one
    frame).

    >>> import numpy as np, scipy.linalg
    >>> class Probe:
    ...     def __array__(self, dtype=None, copy=None):
    ...         raise TypeError(twin_hint())
    >>> try:
    ...     scipy.linalg.expm(Probe())
    ... except TypeError as e:
    ...     print(e.args[0].replace(": ", ":\n"))
    scipy.linalg.expm cannot take a dualdiff array:
    call dualdiff.scipy.linalg.expm (same signature).
    """
    frame = frame or sys._getframe(2)
    entry = None
    while frame is not None:
        found = _scipy_name(frame)
        if found is not None:
            entry = found
        elif not frame.f_globals.get("__name__", "").startswith("numpy"):
            break  # user code (NumPy's own frames between SciPy's are passed over)
        frame = frame.f_back
    if entry is None:
        return ""
    module, name = entry
    head = name.split("(")[0].split(".")[0]
    if module == "scipy.special" and head not in MIRRORS[module]:
        return (f"scipy.special.{name} has no derivative rule in dualdiff (the rows are in "
                f"dualdiff.rules and dualdiff.rules_special).")
    if head not in MIRRORS.get(module, ()):
        return ""
    if module == "scipy.stats" and name.rsplit(".", 1)[-1] not in STATS_METHODS:
        return ""
    if module == "scipy.interpolate":
        return (f"a scipy.interpolate.{name} cannot take a dualdiff array (as data or as "
                f"points): build it with dualdiff.scipy.interpolate.{name} (same signature; "
                f"make_interp_spline builds a BSpline).")
    return (f"{module}.{name} cannot take a dualdiff array: call "
            f"dualdiff.{module}.{name} (same signature).")


# registered once per import of this module (a reload replaces its earlier hint)
core.HOOKS["hints"][:] = [h for h in core.HOOKS["hints"]
                          if getattr(h, "__module__", None) != __name__] + [twin_hint]

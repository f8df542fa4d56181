"""SciPy's names, differentiable: ``dualdiff.scipy.linalg.expm`` has SciPy's signature and
falls straight through to ``scipy.linalg.expm`` when no argument is a dualdiff carrier.

SciPy itself converts its inputs with ``np.asarray``, which a carrier refuses (the derivative
would be lost).  :func:`twin_hint` names the SciPy function that did so and its twin here,
for that error message.
"""

from __future__ import annotations

import sys
import types

from . import linalg

__all__ = ["linalg", "twin_hint"]

#: SciPy submodules mirrored here, by SciPy's public name.
MIRRORS = {"scipy.linalg": linalg}


def _scipy_name(frame: types.FrameType) -> tuple | None:
    """(public SciPy module, function name) of a frame running SciPy code, else None."""
    module = frame.f_globals.get("__name__", "")
    if not module.startswith("scipy."):
        return None
    name = frame.f_code.co_name
    wrapped = frame.f_locals.get("f") if name == "wrapper" else None  # SciPy's batch decorator
    if callable(wrapped) and getattr(wrapped, "__module__", "").startswith("scipy."):
        module, name = wrapped.__module__, wrapped.__name__
    return ".".join(module.split(".")[:2]), name


def twin_hint(frame: types.FrameType | None = None) -> str:
    r"""A sentence naming the SciPy function that was called on a carrier and its
    dualdiff twin; "" when the conversion did not come from a mirrored SciPy function.

    ``frame`` is where to start looking (default: the caller); the SciPy function is the
    outermost SciPy frame before user code.

    >>> import numpy as np, scipy.linalg
    >>> class Probe:
    ...     def __array__(self, dtype=None, copy=None):
    ...         raise TypeError(twin_hint())
    >>> try:
    ...     scipy.linalg.expm(Probe())
    ... except TypeError as e:
    ...     print(e.args[0].replace(": ", ":\n"))
    scipy.linalg.expm cannot take a dualdiff carrier:
    call dualdiff.scipy.linalg.expm (same signature).
    """
    frame = frame or sys._getframe(1)
    entry = None
    while frame is not None:
        found = _scipy_name(frame)
        if found is None and entry is not None:
            break  # the first frame outside SciPy after SciPy's: user code
        if found is not None:
            entry = found
        frame = frame.f_back
    if entry is None:
        return ""
    module, name = entry
    twin = MIRRORS.get(module)
    if twin is None or not callable(getattr(twin, name, None)) or name.startswith("_"):
        return ""
    return (f"{module}.{name} cannot take a dualdiff carrier: call "
            f"{twin.__name__}.{name} (same signature).")

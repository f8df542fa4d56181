"""Drivers: seed carriers, run f, read the derivatives back.

Shapes follow JAX: ``jacobian(f, x).shape == f(x).shape + x.shape``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .carrier import Carrier, new_tag
from .dispatch import lift
from .dual import Dual

ArrayLike = Any
Function = Callable[..., Any]

MODES = ("auto", "forward", "reverse")
#: Bytes one seeded tangent of the input may take; bounds the default chunk.
MEMORY_BUDGET = 2**21  # 2 MiB: tangents that stay in cache (measured: 1.2-3x faster than 32 MiB)
#: ...but at least this many directions per pass (per-pass overhead; best k was 4-16 at n = 1e5)
MIN_CHUNK = 8


def as_input(x) -> np.ndarray | Carrier:
    """x as a fresh float64 array (never the caller's), or a carrier as is.

    >>> as_input([1, 2]).dtype
    dtype('float64')
    """
    if isinstance(x, Carrier):
        return x
    try:
        complex_input = np.iscomplexobj(x)
    except (TypeError, ValueError):
        complex_input = False
    if complex_input:
        raise ValueError("dualdiff differentiates real functions; got a complex input x")
    try:
        if np.asarray(x).dtype.kind not in "biuf":
            raise TypeError(f"dtype {np.asarray(x).dtype}")
        arr = np.array(x, dtype=float, copy=True)
    except (TypeError, ValueError) as e:
        raise TypeError(f"dualdiff: input x must be real numbers, got {type(x).__name__}: "
                        f"{e}") from e
    return arr


def check_mode(mode: str) -> str:
    """mode itself if it is one of MODES, else a ValueError.

    >>> check_mode("forward")
    'forward'
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


def default_chunk(n: int, m: int = 0) -> int:
    """Directions per pass: as many as fit MEMORY_BUDGET for an input- or output-sized
    tangent, and at least MIN_CHUNK.

    >>> default_chunk(10), default_chunk(10**4)
    (10, 26)
    """
    return int(max(min(n, MIN_CHUNK), min(n, MEMORY_BUDGET // (8 * max(n, m, 1)))))


def check_chunk(chunk) -> int | None:
    """chunk as an int (or None for automatic), else a ValueError.

    >>> check_chunk(3), check_chunk(None)
    (3, None)
    """
    if chunk is None:
        return None
    if not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer or None, got {chunk!r}")
    return int(chunk)


def unpack(y, cls, tag: int, k: int):
    """(value, derivative parts) of f's output as seen by a pass of ``tag``.

    Accepts a carrier, a constant, or (nested) lists/tuples/object arrays of them.

    >>> value, (t,) = unpack([Dual(1.0, 2.0, tag=7), 3.0], Dual, 7, 1)
    >>> value.tolist(), t.tolist()
    ([1.0, 3.0], [[2.0, 0.0]])
    """
    y = lift(y)
    if isinstance(y, cls) and y.tag == tag:
        return y.value, y.parts[1:]
    if isinstance(y, Carrier):
        return y, cls.zero_parts(k, y.shape)
    value = output_constant(y)
    return value, cls.zero_parts(k, value.shape)


def output_constant(y) -> np.ndarray:
    """A constant part of f's output as a float array; anything non-numeric is refused.

    >>> output_constant([1, 2]).tolist()
    [1.0, 2.0]
    """
    try:
        value = np.asarray(y)
    except (TypeError, ValueError):
        value = np.asarray(None)
    if value.dtype.kind not in "biuf":
        raise TypeError(
            f"f must return real numbers, arrays or Duals (or lists of them); got "
            f"{type(y).__name__}" + (f" of dtype {value.dtype}" if value.dtype.kind != "O" else "")
        )
    return value.astype(float)


def basis_seeds(n: int, start: int, k: int, shape: tuple) -> np.ndarray:
    """Unit vectors ``start .. start + k - 1`` of R^n, each shaped like ``shape``.

    >>> basis_seeds(3, 1, 2, (3,)).tolist()
    [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    seed = np.zeros((k, n))
    seed[np.arange(k), start + np.arange(k)] = 1.0
    return seed.reshape((k,) + shape)


def forward_columns(f: Function, x, chunk: int | None):
    """Value of f and its Jacobian, ``chunk`` basis columns per forward pass.

    >>> import numpy as np
    >>> y, J = forward_columns(lambda x: x * x[0], np.array([1.0, 2.0]), chunk=1)
    >>> J.tolist()
    [[2.0, 0.0], [2.0, 1.0]]
    """
    shape, n = np.shape(x), int(np.prod(np.shape(x)))
    k = chunk or default_chunk(n)
    cols, start, value = [], 0, None
    while start < n or value is None:
        kk = min(k, n - start)
        tag = new_tag()
        value, (t,) = unpack(f(Dual._new(x, basis_seeds(n, start, kk, shape), tag)), Dual, tag, kk)
        cols.append(np.moveaxis(t, 0, -1))
        if chunk is None and start == 0:
            k = default_chunk(n, int(np.prod(np.shape(value))))
        start += kk
    jac = cols[0] if len(cols) == 1 else np.concatenate(cols, axis=-1)
    return value, np.reshape(jac, np.shape(value) + shape)


def jvp(f: Function, x: ArrayLike, v: ArrayLike):
    """Jacobian-vector product in one forward pass: ``(f(x), J(x) v)``.

    >>> import numpy as np
    >>> y, t = jvp(np.sin, 0.0, 2.0)
    >>> float(y), float(t)
    (0.0, 2.0)
    """
    x = as_input(x)
    v = np.array(np.broadcast_to(np.asarray(v, dtype=float), np.shape(x)))  # f may write
    tag = new_tag()
    value, (t,) = unpack(f(Dual._new(x, v[None], tag)), Dual, tag, 1)
    return value, t[0]


def vjp(f: Function, x: ArrayLike):
    """Vector-Jacobian product by reverse mode: ``(f(x), pullback)``.

    f runs once on a recording carrier; ``pullback(u)`` returns ``u @ J(x)``
    shaped like x, any number of times, and a leading axis on u batches k
    cotangents into one backward sweep.

    >>> import numpy as np
    >>> y, pullback = vjp(lambda x: x[0] * x[1], [2.0, 3.0])
    >>> float(y), pullback(1.0).tolist()
    (6.0, [3.0, 2.0])
    """
    from .tape import Recording

    rec = Recording(f, as_input(x))
    return rec.value, rec.pullback


def derivative(f: Function, x: ArrayLike):
    """f'(x) for a real scalar x, shaped like f's output.

    >>> float(derivative(lambda x: x**3, 2.0))
    12.0
    """
    x = as_input(x)
    if np.ndim(x) != 0:
        raise ValueError(f"derivative needs a scalar x, got shape {np.shape(x)}; use jacobian")
    return jvp(f, x, 1.0)[1]


def value_and_jacobian(f: Function, x: ArrayLike, mode: str = "auto", chunk: int | None = None):
    """``(f(x), J)`` from the same passes, ``J[i..., j...] = d f_i / d x_j``.

    >>> import numpy as np
    >>> y, J = value_and_jacobian(lambda x: x**2, np.array([1.0, 3.0]))
    >>> J.tolist()
    [[2.0, 0.0], [0.0, 6.0]]
    """
    from .modes import run_jacobian

    return run_jacobian(f, as_input(x), check_mode(mode), check_chunk(chunk))


def jacobian(f: Function, x: ArrayLike, mode: str = "auto", chunk: int | None = None,
             sparsity=None):
    """Jacobian ``J[i..., j...] = d f(x)_i / d x_j`` of shape ``f(x).shape + x.shape``.

    ``mode`` is "forward", "reverse" or "auto" (the cheaper one); ``chunk`` is
    the number of directions per pass (default: bounded by a memory budget).
    ``sparsity`` ("auto" or a pattern) returns a scipy.sparse array instead.

    >>> import numpy as np
    >>> jacobian(lambda x: np.array([x[0] * x[1], np.sin(x[0])]), [0.0, 2.0]).tolist()
    [[2.0, 0.0], [1.0, 0.0]]
    """
    if sparsity is not None:
        from .sparse import sparse_jacobian

        return sparse_jacobian(f, x, sparsity=sparsity, mode=mode)
    return value_and_jacobian(f, x, mode, chunk)[1]


def gradient(f: Function, x: ArrayLike, mode: str = "auto"):
    """Gradient of a scalar f, shaped like x: ``g_j = d f / d x_j``.

    >>> import numpy as np
    >>> gradient(lambda x: np.sum(x**2), [1.0, 2.0]).tolist()
    [2.0, 4.0]
    """
    from .modes import run_gradient

    return run_gradient(f, as_input(x), check_mode(mode))


def check_scalar(value, what: str = "gradient"):
    """A ValueError unless f's value is a scalar (for gradient and friends).

    >>> check_scalar(1.0)
    """
    if np.shape(value) != ():
        raise ValueError(
            f"{what} needs a scalar-valued f, but f returned shape {np.shape(value)}; "
            f"use jacobian for vector outputs (or return f(x)[0] / np.sum(...))."
        )

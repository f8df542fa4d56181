"""Inputs in, seeds, outputs unpacked: what every driver does around a pass.

``x`` becomes a fresh array (the caller's is never written, and f may write into
its argument), seeds are unit vectors laid out like x, and f's output (a
carrier, a constant, or lists / tuples / object arrays of them) is read back as
a value and derivative parts of one pass.
"""

from __future__ import annotations

import math

import numpy as np

from .core import Carrier, constant_like, lift, refresh

MODES = ("auto", "forward", "reverse")
#: Bytes one seeded tangent of the input may take; bounds the default chunk.
MEMORY_BUDGET = 2**21  # 2 MiB: tangents that stay in cache (measured: 1.2-3x faster than 32 MiB)
#: ...but at least this many directions per pass (per-pass overhead; best k was 4-16 at n = 1e5)
MIN_CHUNK = 8


def as_input(x) -> np.ndarray | Carrier:
    """x as a fresh float array (never the caller's), or a carrier as is.  Integers
    become float64; float32 and float64 keep their precision.

    >>> as_input([1, 2]).dtype
    dtype('float64')
    """
    if isinstance(x, Carrier):
        return x
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as e:
        raise TypeError(f"dualdiff: input x must be real numbers, got {type(x).__name__}: "
                        f"{e}") from e
    if arr.dtype.kind == "c":
        raise ValueError("dualdiff differentiates functions of real inputs; got a complex "
                         "input x (split it into real and imaginary parts)")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"dualdiff: input x must be real numbers, got {type(x).__name__} "
                        f"of dtype {arr.dtype}")
    if arr.dtype == np.longdouble and np.finfo(np.longdouble).eps < np.finfo(float).eps:
        raise TypeError("dualdiff: np.longdouble input would be rounded to float64 by the "
                        "derivative rules; pass float64 (or float32)")
    dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.dtype(float)
    return np.array(arr, dtype=dtype, copy=True, order="C")


def fresh(x):
    """A private copy of an input (array or carrier) for one pass: f may write into it.

    >>> a = np.ones(2); fresh(a) is a
    False
    """
    return x.copy() if isinstance(x, Carrier) else np.array(x, copy=True)


def check_mode(mode: str) -> str:
    """mode itself if it is one of MODES, else a ValueError.

    >>> check_mode("forward")
    'forward'
    """
    if not isinstance(mode, str) or mode not in MODES:
        hint = "" if isinstance(mode, str) else (
            f"; extra arguments of f go in args=({mode!r},) (SciPy's convention)")
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}{hint}")
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
    if not isinstance(chunk, (int, np.integer)) or isinstance(chunk, bool) or chunk < 1:
        hint = "" if isinstance(chunk, (int, np.integer, str)) else (
            f"; extra arguments of f go in args=({chunk!r},) (SciPy's convention)")
        raise ValueError(f"chunk must be a positive integer or None, got {chunk!r}{hint}")
    return int(chunk)


def basis_seeds(n: int, start: int, k: int, shape: tuple, dtype=float) -> np.ndarray:
    """Unit vectors ``start .. start + k - 1`` of R^n, each shaped like ``shape``.

    >>> basis_seeds(3, 1, 2, (3,)).tolist()
    [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    seed = np.zeros((k, n), dtype)
    seed[np.arange(k), start + np.arange(k)] = 1
    return seed.reshape((k,) + tuple(shape))


def output_constant(y) -> np.ndarray:
    """A constant part of f's output as an array; anything non-numeric is refused.

    >>> output_constant([1, 2]).tolist()
    [1.0, 2.0]
    """
    try:
        value = np.asarray(y)
    except (TypeError, ValueError):
        value = np.asarray(None)
    if value.dtype.kind not in "biufc":
        raise TypeError(
            f"f must return numbers, arrays or dualdiff arrays (or lists of them); got "
            f"{type(y).__name__}" + (f" of dtype {value.dtype}" if value.dtype.kind != "O" else ""))
    return value.astype(np.result_type(value.dtype, float)) if value.dtype.kind != "c" else value


def unpack(y, like):
    """``(value, parts)`` of f's output as seen by the pass of carrier ``like`` (the
    seeded input): a carrier, a constant, or (nested) lists/tuples/object arrays.

    >>> from dualdiff import Dual
    >>> value, (t,) = unpack([Dual(1.0, 2.0, tag=7), 3.0], Dual(0.0, 1.0, tag=7))
    >>> value.tolist(), t.tolist()
    ([1.0, 3.0], [[2.0, 0.0]])
    """
    y = lift(y)
    if type(y) is type(like) and y.tag == like.tag:
        if y._view is not None:
            refresh(y)
        return y.value, y.parts
    c = constant_like(y if isinstance(y, Carrier) else output_constant(y), like)
    return c.value, c.parts


def size(shape) -> int:
    """Number of elements of an array of ``shape``.

    >>> size((2, 3)), size(())
    (6, 1)
    """
    return math.prod(shape)

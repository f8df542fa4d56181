"""The benchmark's one timer: min and median seconds per call over repeats, GC paused.

``measure(fn)`` calibrates how many calls make one repeat (at least ``MIN_REPEAT_S``
so a microsecond function is not timed at the clock's resolution), then repeats
until ``budget`` seconds are spent (between ``min_repeats`` and ``max_repeats``),
with the garbage collector paused as :mod:`timeit` does.  ``compare`` times several
callables in interleaved rounds, rotating their order each round, so that load on
a shared machine hits them alike; every section times through these two.
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import asdict, dataclass

#: the shortest repeat: calls of a fast function are batched up to this many seconds
MIN_REPEAT_S = 1e-3


@dataclass(frozen=True)
class Timing:
    """Seconds per call: the fastest and the median repeat; ``repeats`` x ``number`` calls."""

    min: float
    median: float
    repeats: int
    number: int

    def as_dict(self) -> dict:
        return asdict(self)


def _number(fn) -> int:
    """Calls per repeat so that one repeat takes at least MIN_REPEAT_S (one call if slower)."""
    t0 = time.perf_counter()
    fn()
    once = time.perf_counter() - t0
    return 1 if once >= MIN_REPEAT_S else max(1, int(MIN_REPEAT_S / max(once, 1e-8)) + 1)


def compare(fns: dict, budget: float = 0.2, min_repeats: int = 3, max_repeats: int = 200,
            warm: bool = True) -> dict:
    """``{name: Timing}`` of each callable, timed in interleaved rounds (order rotated).

    ``warm`` runs each once first (and calibrates its batch size); without it the
    first call is a timed repeat (for seconds-long calls that must not run twice more).

    >>> t = compare({"a": lambda: None, "b": lambda: sum(range(5))}, budget=0.0)
    >>> sorted(t), t["a"].repeats, t["a"].min <= t["a"].median
    (['a', 'b'], 3, True)
    """
    names = list(fns)
    number = {k: (_number(fns[k]) if warm else 1) for k in names}
    runs: dict = {k: [] for k in names}
    enabled = gc.isenabled()
    gc.disable()
    try:
        start, done = time.perf_counter(), 0
        while done < max_repeats and (done < min_repeats or
                                      time.perf_counter() - start < budget):
            for k in names[done % len(names):] + names[:done % len(names)]:
                fn, num = fns[k], number[k]
                t0 = time.perf_counter()
                for _ in range(num):
                    fn()
                runs[k].append((time.perf_counter() - t0) / num)
            done += 1
    finally:
        if enabled:
            gc.enable()
    return {k: Timing(min(v), statistics.median(v), len(v), number[k]) for k, v in runs.items()}


def measure(fn, budget: float = 0.2, min_repeats: int = 3, max_repeats: int = 200,
            warm: bool = True) -> Timing:
    """Timing of ``fn()`` (see :func:`compare`).

    >>> t = measure(lambda: sum(range(10)), budget=0.0)
    >>> t.repeats >= 3 and 0 < t.min <= t.median
    True
    """
    return compare({"f": fn}, budget, min_repeats, max_repeats, warm)["f"]


def once(fn) -> tuple:
    """``(fn(), seconds)`` of one call, GC paused (a build, a compile, a first call).

    >>> once(lambda: 3)[0]
    3
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - t0
    finally:
        if enabled:
            gc.enable()


class Counted:
    """f with a call counter (``calls``).

    >>> f = Counted(abs); f(-1), f.calls
    (1, 1)
    """

    def __init__(self, f):
        self.f, self.calls = f, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.f(*args, **kwargs)

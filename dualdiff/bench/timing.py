"""What the benchmark sections share: best-of-repeats timing and call counting."""

from __future__ import annotations

import time


def best_time(fn, budget: float = 0.3, max_repeat: int = 50, min_repeat: int = 3) -> float:
    """Smallest wall time of fn() over repeats filling about ``budget`` seconds.

    >>> best_time(lambda: None, budget=0.0) >= 0.0
    True
    """
    times, start = [], time.perf_counter()
    while len(times) < max_repeat and (
            len(times) < min_repeat or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


class Counted:
    """f with a call counter (``calls``).

    >>> f = Counted(abs); f(-1), f.calls
    (1, 1)
    """

    def __init__(self, f):
        self.f, self.calls = f, 0

    def __call__(self, *args):
        self.calls += 1
        return self.f(*args)

"""A short demo: the Jacobian of a small vector function, exact vs finite differences."""

from __future__ import annotations

import numpy as np
from scipy.optimize import approx_fprime

from .api import jacobian


def broyden(x):
    """Broyden tridiagonal function (More, Garbow, Hillstrom no. 30)."""
    f = (3.0 - 2.0 * x) * x + 1.0
    f[1:] -= x[:-1]
    f[:-1] -= 2.0 * x[1:]
    return f


def broyden_jacobian(x):
    """Hand-derived reference."""
    n = x.size
    return np.diag(3.0 - 4.0 * x) - np.diag(np.ones(n - 1), -1) - 2.0 * np.diag(np.ones(n - 1), 1)


def main(argv=None) -> int:
    x = np.linspace(-1.0, 1.0, 6)
    exact = broyden_jacobian(x)
    dual = jacobian(broyden, x)
    fd = approx_fprime(x, broyden)
    np.set_printoptions(precision=4, suppress=True, linewidth=100)
    print("Broyden tridiagonal F(x), n = 6, at x =", x)
    print("dualdiff.jacobian(F, x):")
    print(dual)
    print(f"max |dualdiff - hand-derived|       = {np.abs(dual - exact).max():.2e}")
    print(f"max |finite differences - exact|    = {np.abs(fd - exact).max():.2e}")
    print("Run `python -m dualdiff bench` for the benchmark.")
    return 0

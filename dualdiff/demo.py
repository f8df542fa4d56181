"""``python -m dualdiff``: the Jacobian of Broyden's tridiagonal function, exact vs
hand-derived vs finite differences, and its sparse form from one coloured pass."""

from __future__ import annotations

import numpy as np
from scipy.optimize import approx_fprime

from .api import jacobian
from .problems import broyden, broyden_jacobian


def main(argv=None) -> int:
    """Print the demo.

    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()) as out:
    ...     code = main()
    >>> code, "hand-derived" in out.getvalue()
    (0, True)
    """
    x = np.linspace(-1.0, 1.0, 6)
    exact = broyden_jacobian(x)
    dual = jacobian(broyden, x)
    fd = approx_fprime(x, broyden)  # scipy's forward differences, step sqrt(eps)
    sparse = jacobian(broyden, x, sparsity="auto")
    with np.printoptions(precision=4, suppress=True, linewidth=100):
        print("Broyden tridiagonal F(x) (dualdiff.problems.broyden, written with in-place "
              "writes), n = 6, at x =", x)
        print("dualdiff.jacobian(broyden, x):")
        print(dual)
    print(f"max |dualdiff - hand-derived|          = {np.abs(dual - exact).max():.1e}")
    print(f"max |finite differences - hand-derived| = {np.abs(fd - exact).max():.1e}")
    print(f"sparsity='auto': a {type(sparse).__name__} with {sparse.nnz} nonzeros, "
          f"max |error| = {np.abs(sparse.toarray() - exact).max():.1e}")
    print("Next: `python -m dualdiff bench` (the benchmark), `python -m dualdiff --help`.")
    return 0

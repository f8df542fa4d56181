"""``scipy.sparse.linalg`` with derivatives: the same names and signatures, falling through
to SciPy when no argument is a dualdiff array.

>>> import numpy as np, scipy.sparse as sp, dualdiff as dd
>>> A = sp.csr_array(np.array([[2.0, 0.0], [1.0, 4.0]]))
>>> dd.jacobian(lambda b: spsolve(A, b), np.ones(2)).tolist()
[[0.5, 0.0], [-0.125, 0.25]]
"""

from ...sparse_operators import spsolve

__all__ = ["spsolve"]

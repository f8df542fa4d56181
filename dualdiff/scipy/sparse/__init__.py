"""``scipy.sparse`` with derivatives: ``dualdiff.scipy.sparse.linalg.spsolve``.

scipy.sparse matrices themselves need no mirror: ``A @ x``, ``x @ A``, ``A.dot(x)`` and
``A * x`` (spmatrix) with a dualdiff x are linear maps (:mod:`dualdiff.sparse_operators`).
"""

from . import linalg

__all__ = ["linalg"]

"""Matrix decompositions on carriers: ``svd``, ``qr``, ``pinv`` and ``det``.

svd, qr and pinv are :class:`~dualdiff.rules.Primitive` s with a forward (jvp)
and a reverse (vjp) rule, written in NumPy calls so that running a rule on
nested carriers gives second derivatives.  The value is always NumPy's own.

Conventions at points where a derivative does not exist (the value is still
NumPy's):

* ``svd``: a singular value is *degenerate* when it is zero or within
  ``tol = max(m, n) * eps * s_max`` of another one (where the singular vectors
  are not unique and s has a kink).  The derivative of a degenerate s_i, of its
  columns u_i and v_i (and of the extra columns of ``full_matrices=True``) is
  nan; every other entry stays exact.  Reverse mode gives a nan adjoint for a
  cotangent that reaches a degenerate output (and only then).
* ``svd(full_matrices=True)`` with m != n: the extra columns U_perp are an
  arbitrary basis of the orthogonal complement.  They get the minimal motion
  that keeps [U, U_perp] orthogonal, dU_perp = -U dU^T U_perp, so every
  basis-independent use (the projector U_perp U_perp^T = I - U U^T, the null
  space) has the exact derivative.  Same for the extra rows of Vh.
* ``qr``: a matrix whose R has a diagonal entry below ``max(m, n) * eps * max|R_ii|``
  (rank-deficient leading columns) gets nan derivatives.  ``mode="complete"``
  treats the extra columns of Q as svd treats U_perp; ``mode="raw"`` is refused.
* ``pinv``: the derivative of NumPy's pinv with its cutoff, i.e. of (A_r)^+ for the
  truncated SVD A_r (Golub & Pereyra 1973): exact where the rank stays the same
  under the perturbation (singular values below the cutoff count as zero).
* ``det``: exact at singular matrices of any size, to every order the carriers
  hold (the gradient is the adjugate transpose, computed without division); complex
  matrices too (conjugate transposes of the SVD).
* ``eig`` / ``eigvals`` (real or complex matrices): eigenvalues that are *tied* (within
  ``n * eps * max|w|`` of another one, where they are not differentiable and the
  eigenvectors not unique) get nan derivatives, and so do their eigenvectors; every
  other entry stays exact, unless the matrix is defective (its eigenvector matrix
  numerically singular): then every derivative of it is nan.  Eigenvectors follow
  LAPACK's normalisation: unit 2-norm and the component of largest modulus real, so dV
  keeps both (d||v|| = 0 and that component's derivative real).  Of a real matrix
  NumPy returns real arrays when every eigenvalue is real (a discrete decision,
  reported like a comparison); real eigenpairs of a real matrix get real derivatives.
* ``roots``: NumPy's companion matrix and its ``eigvals`` (nan at repeated roots).
* svd, qr and pinv refuse complex matrices by name (their rules use plain transposes).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .core import Carrier, discrete, find_owner, frozen, implements, primal, primitive
from .hyperdual import HyperDual
from .primitives import Primitive, is_complex, lower_symmetric, lower_symmetric_adjoint, real_only

la = np.linalg
EPS = np.finfo(float).eps

__all__ = ["svd", "qr", "pinv", "det", "eig", "eigvals", "roots", "svd_primitive",
           "qr_primitive", "pinv_primitive", "EIG", "EIGVALS"]


def _swap(m):
    return np.swapaxes(m, -1, -2)


def _total(terms):
    terms = [t for t in terms if t is not None]
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


def _nan_where(bad, t):
    """t with nan where ``bad`` (plain bool, broadcast against t)."""
    return np.where(bad, np.nan, t) if np.any(bad) else t


def _hits(bad, u, axes):
    """(k, ...) True where a cotangent u (k, ...) is non-zero on a ``bad`` entry."""
    if u is None:
        return False
    return np.any(bad & (primal(u) != 0), axis=axes)


# -- SVD -------------------------------------------------------------------------

def _degenerate(s, m: int, n: int):
    """(bad, tied, zero) from the primal singular values s (..., k), sorted descending."""
    sv = primal(s)
    k = sv.shape[-1]
    tol = max(m, n) * EPS * (sv[..., :1] if k else np.zeros(sv.shape[:-1] + (1,)))
    zero = sv <= tol
    tied = (np.abs(sv[..., :, None] - sv[..., None, :]) <= tol[..., None]) & ~np.eye(k, dtype=bool)
    return zero | np.any(tied, axis=-1), tied, zero


def _gaps(s, tied):
    """fm_ij = 1/(s_j - s_i), fp_ij = 1/(s_j + s_i) off the diagonal and off ties; 0 there."""
    k = np.shape(s)[-1]
    skip = tied | np.eye(k, dtype=bool)
    sj, si = s[..., None, :], s[..., :, None]
    fm = np.where(skip, 0.0, 1.0 / np.where(skip, 1.0, sj - si))
    fp = np.where(skip, 0.0, 1.0 / np.where(skip, 1.0, sj + si))
    return fm, fp


def _inverse(s, zero):
    return np.where(zero, 0.0, 1.0 / np.where(zero, 1.0, s))


def svd_primitive(full_matrices: bool, compute_uv: bool, hermitian: bool) -> Primitive:
    """The rule of ``np.linalg.svd`` with these flags.

    With P = U^T dA V (reduced factors, k = min(m, n)): ds = diag P,
    dU = U W_U + (I - U U^T) dA V S^-1, dV = V W_V + (I - V V^T) dA^T U S^-1, where
    W_U = (P + P^T) o Fm / 2 + (P - P^T) o Fp / 2, W_V the same with -Fp,
    Fm_ij = 1/(s_j - s_i), Fp_ij = 1/(s_j + s_i) (Townsend 2016, in the form that
    stays finite when s_i + s_j > 0).  The vjp is its transpose:
    A_bar = U [diag(s_bar) + (Fm + Fp)/2 o (J - J^T) + (Fm - Fp)/2 o (K - K^T)] V^T
    + projections, J = U^T U_bar, K = V^T V_bar.

    >>> svd_primitive(False, True, False)
    Primitive(svd)
    """
    def fn(a):
        if not compute_uv:
            return la.svd(a, compute_uv=False, hermitian=hermitian)
        return tuple(la.svd(a, full_matrices=full_matrices, hermitian=hermitian))

    def factors(out, a):
        """Reduced U, s, V and the extra columns (U_perp, V_perp or None)."""
        if not compute_uv:  # the singular vectors, as carriers when a is nested
            u, s, vh = la.svd(a, full_matrices=False, hermitian=hermitian)
            return u, out, _swap(vh), None, None
        u, s, vh = out
        k = np.shape(s)[-1]
        uperp = u[..., :, k:] if np.shape(u)[-1] > k else None
        vperp = _swap(vh[..., k:, :]) if np.shape(vh)[-2] > k else None
        return u[..., :, :k], s, _swap(vh[..., :k, :]), uperp, vperp

    def jvp(out, primals, tangents):
        (a,), (ta,) = primals, tangents
        m, n = np.shape(a)[-2:]
        if hermitian:
            ta = lower_symmetric(ta)
        u, s, v, uperp, vperp = factors(out, a)
        k = np.shape(s)[-1]
        bad, tied, zero = _degenerate(s, m, n)
        p = np.matmul(np.matmul(_swap(u), ta), v)
        ds = _nan_where(bad, np.diagonal(p, axis1=-2, axis2=-1))
        if not compute_uv:
            return ds
        fm, fp = _gaps(s, tied)
        pp, pm = p + _swap(p), p - _swap(p)
        du = np.matmul(u, 0.5 * (pp * fm + pm * fp))
        dv = np.matmul(v, 0.5 * (pp * fm - pm * fp))
        inv = _inverse(s, zero)[..., None, :]
        if m > k:
            du = du + (np.matmul(ta, v) - np.matmul(u, p)) * inv
        if n > k:
            dv = dv + (np.matmul(_swap(ta), u) - np.matmul(v, _swap(p))) * inv
        du = _nan_where(bad[..., None, :], du)
        dv = _nan_where(bad[..., None, :], dv)
        if uperp is not None:  # minimal motion of the complement: dU_perp = -U dU^T U_perp
            du = np.concatenate([du, -np.matmul(u, np.matmul(_swap(du), uperp))], axis=-1)
        dvh = _swap(dv)
        if vperp is not None:
            dvh = np.concatenate([dvh, -np.matmul(np.matmul(_swap(vperp), dv), _swap(v))],
                                 axis=-2)
        return du, ds, dvh

    def vjp(out, primals, u_bar, needs):
        (a,) = primals
        m, n = np.shape(a)[-2:]
        u, s, v, uperp, vperp = factors(out, a)
        k = np.shape(s)[-1]
        bad, tied, zero = _degenerate(s, m, n)
        gu, gs, gvh = (None, u_bar, None) if not compute_uv else u_bar
        hit = _hits(bad, gs, -1)
        eye = np.eye(k)
        terms = [None if gs is None else gs[..., :, None] * eye]
        gv = None
        if gu is not None:
            hit = hit | _hits(bad[..., None, :], gu[..., :k], (-2, -1))
            if uperp is not None:  # transpose of dU_perp = -U dU^T U_perp
                hit = hit | (np.any(bad, axis=-1) & np.any(primal(gu[..., k:]) != 0, (-2, -1)))
                gu = gu[..., :k] - np.matmul(uperp, np.matmul(_swap(gu[..., k:]), u))
        if gvh is not None:
            hit = hit | _hits(bad[..., :, None], gvh[..., :k, :], (-2, -1))
            gv = _swap(gvh[..., :k, :])
            if vperp is not None:
                hit = hit | (np.any(bad, axis=-1) & np.any(primal(gvh[..., k:, :]) != 0,
                                                           (-2, -1)))
                gv = gv - np.matmul(vperp, np.matmul(gvh[..., k:, :], v))
        if gu is not None or gv is not None:
            fm, fp = _gaps(s, tied)
        if gu is not None:
            j = np.matmul(_swap(u), gu)
            terms.append(0.5 * (fm + fp) * (j - _swap(j)))
        if gv is not None:
            kk = np.matmul(_swap(v), gv)
            terms.append(0.5 * (fm - fp) * (kk - _swap(kk)))
        ga = np.matmul(np.matmul(u, _total(terms)), _swap(v))
        inv = _inverse(s, zero)
        if gu is not None and m > k:
            ga = ga + np.matmul((gu - np.matmul(u, j)) * inv[..., None, :], _swap(v))
        if gv is not None and n > k:
            ga = ga + np.matmul(u * inv[..., None, :], _swap(gv - np.matmul(v, kk)))
        ga = _nan_where(np.asarray(hit)[..., None, None], ga)
        return (lower_symmetric_adjoint(ga) if hermitian else ga,)

    return Primitive("svd", fn, jvp, vjp)


_SVD = {}


@implements(la.svd)
def svd(a, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False):
    """``np.linalg.svd`` on carriers; NumPy's values, derivatives by :func:`svd_primitive`.

    See the module docstring for degenerate singular values and ``full_matrices``.

    >>> import numpy as np, dualdiff as dd
    >>> a = np.array([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> dd.jacobian(lambda a: np.linalg.svd(a, compute_uv=False), a)[0].tolist()
    [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
    """
    if find_owner([a]) is None:
        return la.svd(a, full_matrices=full_matrices, compute_uv=compute_uv, hermitian=hermitian)
    real_only("np.linalg.svd", a)
    key = (bool(full_matrices), bool(compute_uv), bool(hermitian))
    if key not in _SVD:
        _SVD[key] = svd_primitive(*key)
    out = primitive(_SVD[key], a)
    return la._linalg.SVDResult(*out) if compute_uv else out


# -- QR ----------------------------------------------------------------------------

def _right_solve(x, r):
    """x r^-1 (x may carry leading axes)."""
    return _swap(la.solve(_swap(r), _swap(x)))


def _qr_square_vjp(q, r, gq, gr):
    """A_bar of the square (or leading) part: Q C_bar R^-T, C_bar = R_bar R^T + tril(B - B^T, -1),
    B = Q^T Q_bar - R_bar R^T."""
    rrt = None if gr is None else np.matmul(gr, _swap(r))
    b = _total([None if gq is None else np.matmul(_swap(q), gq),
                None if rrt is None else -rrt])
    cbar = _total([rrt, np.tril(b - _swap(b), -1)])
    return np.matmul(q, cbar)


def qr_primitive(mode: str) -> Primitive:
    """The rule of ``np.linalg.qr(a, mode)`` for mode "reduced" or "complete".

    m >= n: C = Q^T dA R^-1, L = tril(C, -1): dR = (triu C + L^T) R,
    dQ = Q (L - L^T) + (I - Q Q^T) dA R^-1.  m < n, A = [X | Y], R = [U | V]:
    the square rule for X = Q U, and dV = Q^T dY - (L - L^T) V.  The vjp is its transpose.

    >>> qr_primitive("reduced")
    Primitive(qr)
    """
    def fn(a):
        return tuple(la.qr(a, mode=mode))

    def split(out, a):
        q, r = out
        m, n = np.shape(a)[-2:]
        k = min(m, n)
        qperp = q[..., :, k:] if np.shape(q)[-1] > k else None
        rsq = r[..., :k, :k]
        dg = np.abs(np.diagonal(primal(rsq), axis1=-2, axis2=-1))
        tol = max(m, n) * EPS * np.max(dg, axis=-1, keepdims=True) if k else 0.0
        bad = np.any(dg <= tol, axis=-1) if k else np.zeros(np.shape(dg)[:-1], bool)
        if np.any(bad):  # a safe R for the solves; those matrices get nan derivatives
            rsq = rsq + bad[..., None, None] * np.eye(k)
        return q[..., :, :k], rsq, qperp, bad, m, n, k

    def jvp(out, primals, tangents):
        (a,), (ta,) = primals, tangents
        q, rsq, qperp, bad, m, n, k = split(out, a)
        c = _right_solve(np.matmul(_swap(q), ta[..., :k]), rsq)
        low = np.tril(c, -1)
        omega = low - _swap(low)
        dr = np.matmul(np.triu(c) + _swap(low), rsq)
        dq = np.matmul(q, omega)
        if m > n:
            dq = dq + _right_solve(ta, rsq) - np.matmul(q, c)
        if n > m:
            r = out[1]
            dv = np.matmul(_swap(q), ta[..., m:]) - np.matmul(omega, r[..., :, m:])
            dr = np.concatenate([dr, dv], axis=-1)
        dq = _nan_where(bad[..., None, None], dq)
        dr = _nan_where(bad[..., None, None], dr)
        if qperp is not None:  # complete mode, m > n: minimal motion of the complement
            dq = np.concatenate([dq, -np.matmul(q, np.matmul(_swap(dq), qperp))], axis=-1)
            dr = np.concatenate([dr, np.zeros(np.shape(dr)[:-2] + (m - n, n))], axis=-2)
        return dq, dr

    def vjp(out, primals, u, needs):
        (a,) = primals
        q, rsq, qperp, bad, m, n, k = split(out, a)
        gq, gr = u
        if gq is not None and qperp is not None:
            gq = gq[..., :k] - np.matmul(qperp, np.matmul(_swap(gq[..., k:]), q))
        if gr is not None:
            gr = gr[..., :k, :]
        gy = None
        if n > m and gr is not None:  # A = [X | Y]: Y = Q V
            gv = gr[..., :, m:]
            gy = np.matmul(q, gv)
            qv = np.matmul(a[..., :, m:], _swap(gv))
            gq = qv if gq is None else gq + qv
            gr = gr[..., :, :m]
        core = _qr_square_vjp(q, rsq, gq, gr)
        if m > n and gq is not None:
            core = core + gq - np.matmul(q, np.matmul(_swap(q), gq))
        ga = _swap(la.solve(rsq, _swap(core)))
        if gy is not None:
            ga = np.concatenate([ga, gy], axis=-1)
        elif n > m:
            ga = np.concatenate([ga, np.zeros(np.shape(ga)[:-1] + (n - m,))], axis=-1)
        hit = False
        if np.any(bad):
            for g in u:
                if g is not None:
                    hit = hit | (bad & np.any(primal(g) != 0, axis=(-2, -1)))
        return (_nan_where(np.asarray(hit)[..., None, None], ga),)

    return Primitive("qr", fn, jvp, vjp)


_QR = {}


@implements(la.qr)
def qr(a, mode: str = "reduced"):
    """``np.linalg.qr`` on carriers: modes "reduced", "complete" and "r".

    >>> import numpy as np, dualdiff as dd
    >>> a = np.array([[2.0, 1.0], [0.0, 1.0]])
    >>> dd.jacobian(lambda a: np.linalg.qr(a, mode="r")[0, 0], a).tolist()
    [[1.0, 0.0], [0.0, 0.0]]
    """
    if find_owner([a]) is None:
        return la.qr(a, mode=mode)
    real_only("np.linalg.qr", a)
    if mode == "r":
        return qr(a, "reduced").R
    if mode not in ("reduced", "complete"):
        raise ValueError(
            f"np.linalg.qr(..., mode={mode!r}) of a dualdiff array: the Householder "
            f"reflectors of mode 'raw' have no derivative in dualdiff; use mode='reduced', "
            f"'complete' or 'r'.")
    if mode not in _QR:
        _QR[mode] = qr_primitive(mode)
    return la._linalg.QRResult(*primitive(_QR[mode], a))


# -- pinv ----------------------------------------------------------------------------

def pinv_primitive(rcond=None, hermitian: bool = False, rtol=np._NoValue) -> Primitive:
    """The rule of ``np.linalg.pinv`` with this cutoff (Golub & Pereyra 1973):
    dX = -X dA X + X X^T dA^T (I - A X) + (I - X A) dA^T X^T X, and its transpose
    A_bar = -X^T G X^T + (I - A X) G^T X X^T + X^T X G^T (I - X A).

    >>> pinv_primitive()
    Primitive(pinv)
    """
    def fn(a):
        return la.pinv(a, rcond=rcond, hermitian=hermitian, rtol=rtol)

    def jvp(x, primals, tangents):
        (a,), (ta,) = primals, tangents
        if hermitian:  # NumPy reads the lower triangle (eigh)
            a, ta = lower_symmetric(a), lower_symmetric(ta)
        m, n = np.shape(a)[-2:]
        xt, tat = _swap(x), _swap(ta)
        left = np.eye(m) - np.matmul(a, x)
        right = np.eye(n) - np.matmul(x, a)
        return (-np.matmul(np.matmul(x, ta), x)
                + np.matmul(np.matmul(np.matmul(x, xt), tat), left)
                + np.matmul(np.matmul(right, tat), np.matmul(xt, x)))

    def vjp(x, primals, u, needs):
        (a,) = primals
        if hermitian:
            a = lower_symmetric(a)
        m, n = np.shape(a)[-2:]
        xt, ut = _swap(x), _swap(u)
        left = np.eye(m) - np.matmul(a, x)
        right = np.eye(n) - np.matmul(x, a)
        ga = (-np.matmul(np.matmul(xt, u), xt)
              + np.matmul(np.matmul(left, ut), np.matmul(x, xt))
              + np.matmul(np.matmul(np.matmul(xt, x), ut), right))
        return (lower_symmetric_adjoint(ga) if hermitian else ga,)

    return Primitive("pinv", fn, jvp, vjp)


@implements(la.pinv)
def pinv(a, rcond=None, hermitian: bool = False, *, rtol=np._NoValue):
    """``np.linalg.pinv`` on carriers: NumPy's value (its SVD and cutoff, so rank-deficient
    matrices are exact); the derivative of Golub & Pereyra where the rank is locally constant.

    >>> import numpy as np, dualdiff as dd
    >>> a = np.array([[1.0, 1.0], [1.0, 1.0]])  # rank 1: pinv = a / 4
    >>> dd.jvp(np.linalg.pinv, a, a)[1].round(12).tolist()  # pinv((1 + t) a) = a / (4 (1 + t))
    [[-0.25, -0.25], [-0.25, -0.25]]
    """
    if find_owner([a]) is None:
        return la.pinv(a, rcond=rcond, hermitian=hermitian, rtol=rtol)
    real_only("np.linalg.pinv", a)
    rc = None if rcond is None else primal(rcond)
    return primitive(pinv_primitive(rc, hermitian, rtol), a)


# -- det -------------------------------------------------------------------------------

def _order(x) -> int:
    """How many nested infinitesimal parts x carries (a HyperDual counts two)."""
    d = 0
    while isinstance(x, Carrier):
        d += 2 if isinstance(x, HyperDual) else 1
        x = x.value
    return d


def excluded_products(s, j: int):
    """``P[..., i_1..i_j] = prod of s_l over l not in {i_1..i_j}`` (0 where two i coincide).

    The coefficients of det(diag(s) + X) = sum over index sets K of det(X_KK) prod_{l not in K} s_l;
    products only, no division, so exact when some s_l are zero.

    >>> excluded_products(np.array([2.0, 3.0, 5.0]), 1).tolist()
    [15.0, 10.0, 6.0]
    """
    s = np.asarray(s)
    n = s.shape[-1]
    grid = np.indices((n,) * j)
    member = np.zeros((n,) * j + (n,), dtype=bool)
    for g in grid:
        member |= g[..., None] == np.arange(n)
    distinct = np.ones((n,) * j, dtype=bool)
    for a, b in itertools.combinations(range(j), 2):
        distinct &= grid[a] != grid[b]
    sl = s.reshape(s.shape[:-1] + (1,) * j + (n,))
    return np.prod(np.where(member, 1.0, sl), axis=-1) * distinct


def _parity(perm) -> int:
    sign, seen = 1, [False] * len(perm)
    for i in range(len(perm)):
        if not seen[i]:
            j, length = i, 0
            while not seen[j]:
                seen[j], j, length = True, perm[j], length + 1
            sign *= -1 if length % 2 == 0 else 1
    return sign


def _det_polynomial(a, n):
    m = [[a[..., i, j] for j in range(n)] for i in range(n)]
    if n == 1:
        return m[0][0]
    if n == 2:
        return m[0][0] * m[1][1] - m[0][1] * m[1][0]
    return (m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]))


@implements(la.det)
def det(a):
    """``np.linalg.det`` on carriers, exact also at singular matrices of any size.

    n <= 3: the polynomial itself.  Otherwise, with the SVD A = U S V^T of the primal
    (U, V constants), det A = det U det V det(S + X), X = U^T A V - S holding only the
    derivative parts.  det(S + X) is the sum over index
    sets K of det(X_KK) prod_{l not in K} s_l; terms with |K| above the number of nested
    infinitesimal parts vanish, so the sum is cut there: the first-order term is
    tr(adj(A) dA) with adj(A) = det U det V * V diag(prod_{l != i} s_l) U^T, no division.
    The value is NumPy's det.

    >>> import numpy as np, dualdiff as dd
    >>> a = np.ones((4, 4))  # rank 1: adjugate 0
    >>> np.abs(dd.gradient(np.linalg.det, a)).tolist()[0]
    [0.0, 0.0, 0.0, 0.0]
    """
    av = frozen(a)
    n = av.shape[-1]
    if av.shape[-2] != n:
        raise ValueError(f"np.linalg.det: last 2 dimensions of the array must be square, "
                         f"got shape {av.shape}")
    value = la.det(av)
    if n == 0:
        return np.sum(a, axis=(-2, -1)) * 0.0 + value
    if n <= 3:  # the polynomial itself (every derivative exact), with NumPy's value
        r = _det_polynomial(a, n)
        return (r - frozen(r)) + value
    u, s, vh = la.svd(av)
    sign = np.sign(la.det(u) * la.det(vh))  # a unit phase for complex A
    x = np.matmul(np.matmul(np.conjugate(_swap(u)), a), np.conjugate(_swap(vh)))
    x = x - frozen(x)  # value exactly 0: the derivative parts in the singular basis
    total = np.prod(s, axis=-1)
    letters = "abcdefghijklmnopqrstuvwxyz"
    for j in range(1, min(_order(a), n) + 1):
        coef = excluded_products(s, j)
        idx = letters[:j]
        term = None
        for perm in itertools.permutations(range(j)):
            spec = ",".join("..." + idx[i] + idx[p] for i, p in enumerate(perm))
            t = np.einsum(spec + ",..." + idx + "->...", *([x] * j), coef)
            t = t if _parity(perm) > 0 else -t
            term = t if term is None else term + t
        total = total + term / math.factorial(j)
    r = sign * total
    return (r - frozen(r)) + value


# -- eig, eigvals, roots -------------------------------------------------------------------

def _eig_value(a):
    """NumPy's eig of a plain matrix, as complex arrays."""
    w, v = la.eig(a)
    ctype = np.result_type(w.dtype, np.complex64)
    return w.astype(ctype, copy=False), v.astype(ctype, copy=False)


def _eig_fn(a):
    return primitive(EIG, a) if isinstance(a, Carrier) else _eig_value(a)


def _ties(w):
    """(bad, skip) from the primal eigenvalues w (..., n): bad marks an eigenvalue within
    ``n * eps * max|w|`` of another one; skip the pairs (i, j) left out of F (ties, i == j)."""
    wv = primal(w)
    n = wv.shape[-1]
    scale = np.max(np.abs(wv), axis=-1, keepdims=True) if n else np.zeros(wv.shape[:-1] + (1,))
    tol = n * EPS * scale
    eye = np.eye(n, dtype=bool)
    tied = (np.abs(wv[..., :, None] - wv[..., None, :]) <= tol[..., None]) & ~eye
    return np.any(tied, axis=-1), tied | eye


def _inverse_vectors(v, bad):
    """(V^-1, bad): where V is numerically singular (a defective matrix: a tied eigenvalue
    without a full set of eigenvectors) the identity stands in for it and every derivative
    of that matrix is nan."""
    vv = primal(v)
    singular = ~(la.cond(vv) < 1.0 / EPS)  # also inf / nan
    if np.any(singular):
        v = np.where(singular[..., None, None], np.eye(vv.shape[-1]), v)
        bad = bad | singular[..., None]
    return la.inv(v), bad


def _gap_inverse(w, skip):
    """F_ij = 1/(w_j - w_i) off ``skip``, 0 on it (on carriers too)."""
    gap = w[..., None, :] - w[..., :, None]
    return np.where(skip, 0.0, 1.0 / np.where(skip, 1.0, gap))


def _real_component(v):
    """One-hot E (..., n, n), E[j, i] = 1 at the component j of column i that LAPACK made
    real (the one of largest modulus among the real ones), from the primal."""
    vv = primal(v)
    mag = np.where(np.imag(vv) == 0, np.abs(vv), -1.0)
    k = np.argmax(mag, axis=-2)
    return (np.arange(vv.shape[-1])[:, None] == k[..., None, :]).astype(float)


def _real_pairs(a, w):
    """Where the eigenvalue of a real matrix is real (its eigenpair is real), else None."""
    if is_complex(a):
        return None
    real = np.imag(primal(w)) == 0
    return real if np.any(real) else None


def _project(real, t, axis_last: bool):
    """t with its real part only where ``real`` (eigenvalues: axis_last; eigenvector
    columns otherwise)."""
    if real is None or t is None:
        return t
    cond = real if axis_last else real[..., None, :]
    return np.where(cond, np.real(t) + 0j, t)


def _eig_jvp(out, primals, tangents):
    # P = W dA V (W = V^-1): dw = diag P, dV0 = V (F o P); then LAPACK's normalisation,
    # dV = dV0 + V diag(alpha), alpha_i = -Re(v_i^H dv0_i) - i Im(dv0_ki / v_ki)
    (a,), (ta,) = primals, tangents
    w, v = out
    bad, skip = _ties(w)
    vinv, bad = _inverse_vectors(v, bad)
    f = _gap_inverse(w, skip)
    e = _real_component(v)
    p = np.matmul(np.matmul(vinv, ta), v)
    dw = np.diagonal(p, axis1=-2, axis2=-1)
    dv = np.matmul(v, f * p)
    c = np.sum(np.conjugate(v) * dv, axis=-2)
    ratio = np.sum(dv * e, axis=-2) / np.sum(v * e, axis=-2)
    dv = dv + v * (-np.real(c) - 1j * np.imag(ratio))[..., None, :]
    real = _real_pairs(a, w)
    dw, dv = _project(real, dw, True), _project(real, dv, False)
    return _nan_where(bad, dw), _nan_where(bad[..., None, :], dv)


def _eig_vjp(out, primals, u, needs):
    # transpose of the jvp (pairing Re(u t)): with g_i = (V^T V_bar)_ii,
    # V~ = V_bar - conj(V) diag(Re g) + E diag(-i Im g / v_k); P_bar = diag(w_bar) + F o (V^T V~);
    # A_bar = W^T P_bar V^T (its real part for a real A)
    (a,) = primals
    w, v = out
    uw, uv = u
    real = _real_pairs(a, w)
    uw, uv = _project(real, uw, True), _project(real, uv, False)
    bad, skip = _ties(w)
    vinv, bad = _inverse_vectors(v, bad)
    n = np.shape(w)[-1]
    terms = [None if uw is None else uw[..., :, None] * np.eye(n)]
    hit = _hits(bad, uw, -1)
    if uv is not None:
        hit = hit | _hits(bad[..., None, :], uv, (-2, -1))
        e = _real_component(v)
        g = np.sum(v * uv, axis=-2)
        vk = np.sum(v * e, axis=-2)
        vt = (uv - np.real(g)[..., None, :] * np.conjugate(v)
              + e * (-1j * np.imag(g) / vk)[..., None, :])
        terms.append(_gap_inverse(w, skip) * np.matmul(_swap(v), vt))
    ga = np.matmul(np.matmul(_swap(vinv), _total(terms)), _swap(v))
    ga = ga if is_complex(a) else np.real(ga)
    return (_nan_where(np.asarray(hit)[..., None, None], ga),)


#: ``np.linalg.eig`` as complex arrays (the wrapper takes the real part where NumPy does)
EIG = Primitive("eig", _eig_fn, _eig_jvp, _eig_vjp)


def _eigvals_fn(a):
    if isinstance(a, Carrier):
        return primitive(EIGVALS, a)
    w = la.eigvals(a)
    return w.astype(np.result_type(w.dtype, np.complex64), copy=False)


def _eigvals_vectors(w, a):
    """Eigenvectors V of a (through eig, so nested carriers differentiate them), V^-1 and
    the bad eigenvalues, the columns in the order of eigvals' w (matched to the nearest)."""
    we, v = _eig_fn(a)
    wv, wev = primal(w), primal(we)
    if not np.array_equal(wv, wev):  # (LAPACK computes the same values in practice)
        n = wv.shape[-1]
        pick = np.empty(wv.shape, dtype=np.intp)
        for b in np.ndindex(wv.shape[:-1]):  # nearest unused eigenvalue of eig, in order
            free = list(range(n))
            for i in range(n):
                j = min(free, key=lambda j: abs(wv[b + (i,)] - wev[b + (j,)]))
                pick[b + (i,)] = j
                free.remove(j)
        perm = (np.arange(n)[:, None] == pick[..., None, :]).astype(float)  # column i <- pick_i
        v = np.matmul(v, perm)
    vinv, bad = _inverse_vectors(v, _ties(w)[0])
    return v, vinv, bad


def _eigvals_jvp(w, primals, tangents):
    # dw_i = (V^-1 dA V)_ii
    (a,), (ta,) = primals, tangents
    v, vinv, bad = _eigvals_vectors(w, a)
    dw = np.sum(vinv * _swap(np.matmul(ta, v)), axis=-1)
    return _nan_where(bad, _project(_real_pairs(a, w), dw, True))


def _eigvals_vjp(w, primals, u, needs):
    # A_bar = W^T diag(w_bar) V^T
    (a,) = primals
    v, vinv, bad = _eigvals_vectors(w, a)
    uw = _project(_real_pairs(a, w), u, True)
    ga = np.matmul(_swap(vinv) * uw[..., None, :], _swap(v))
    ga = ga if is_complex(a) else np.real(ga)
    return (_nan_where(np.asarray(_hits(bad, uw, -1))[..., None, None], ga),)


#: ``np.linalg.eigvals`` as a complex array (NumPy's values; derivatives through eig)
EIGVALS = Primitive("eigvals", _eigvals_fn, _eigvals_jvp, _eigvals_vjp)


def _all_real(w) -> bool:
    return bool(np.all(np.imag(w) == 0))


@implements(la.eig)
def eig(a):
    """``np.linalg.eig`` on carriers: NumPy's values (real arrays for a real matrix whose
    eigenvalues are all real), derivatives by :data:`EIG` (nan at tied eigenvalues).

    >>> import numpy as np, dualdiff as dd
    >>> a = np.array([[2.0, 1.0], [0.0, 3.0]])
    >>> dd.jacobian(lambda a: np.linalg.eig(a).eigenvalues, a).tolist()
    [[[1.0, 0.0], [-1.0, 0.0]], [[0.0, 0.0], [1.0, 1.0]]]
    """
    if find_owner([a]) is None:
        return la.eig(a)
    w, v = primitive(EIG, a)
    if not is_complex(a) and discrete(_all_real, (w,)):
        w, v = np.real(w), np.real(v)
    return la._linalg.EigResult(w, v)


@implements(la.eigvals)
def eigvals(a):
    """``np.linalg.eigvals`` on carriers (NumPy's values; real when NumPy's are).

    >>> import numpy as np, dualdiff as dd
    >>> rot = lambda t: np.stack([np.stack([np.cos(t), -np.sin(t)]),
    ...                           np.stack([np.sin(t), np.cos(t)])])
    >>> dd.derivative(lambda t: np.linalg.eigvals(rot(t)), 0.5).round(6).tolist()  # e^{+-it}
    [(-0.479426+0.877583j), (-0.479426-0.877583j)]
    """
    if find_owner([a]) is None:
        return la.eigvals(a)
    w = primitive(EIGVALS, a)
    if not is_complex(a) and discrete(_all_real, (w,)):
        w = np.real(w)
    return w


@implements(np.roots)
def roots(p):
    """``np.roots``: the eigenvalues of NumPy's companion matrix (nan at repeated roots).

    >>> import numpy as np, dualdiff as dd
    >>> dd.jacobian(np.roots, [1.0, -3.0, 2.0]).round(12).tolist()  # roots 2 and 1
    [[-4.0, -2.0, -1.0], [1.0, 1.0, 1.0]]
    """
    p = np.atleast_1d(p)
    if np.ndim(p) != 1:
        raise ValueError("Input must be a rank-1 array.")
    nonzero = discrete(lambda v: np.nonzero(np.ravel(v))[0], (p,))
    if len(nonzero) == 0:
        return np.array([])
    trailing = len(p) - int(nonzero[-1]) - 1
    p = p[int(nonzero[0]):int(nonzero[-1]) + 1]
    n = len(p)
    if n > 1:
        top = -p[1:] / p[0]
        a = np.concatenate([top[None, :], np.eye(n - 2, n - 1, dtype=primal(top).dtype)], axis=0)
        r = la.eigvals(a)
    else:
        r = np.array([])
    return np.hstack((r, np.zeros(trailing, primal(r).dtype)))

"""Primitives: non-element-wise operations that own all their rules.

A :class:`Primitive` holds ``fn(*primals)`` (the value), ``jvp(out, primals,
tangents)`` (forward: tangents carry a leading axis of k directions, None for a
constant argument), ``vjp(out, primals, u, needs)`` (reverse: u carries a
leading axis of k cotangents — for tuple outputs a list with None where no
cotangent reached — and one adjoint (k, *shape) is returned per primal, None
where ``needs`` is False) and ``structure(out, primals, masks, live)`` (the
sparsity tracer: for each live argument the 0/1 structure (out.size, arg.size)
of its Jacobian as a scipy.sparse matrix, given the structural nonzeros
``masks`` of every argument; None for "every output depends on every input").

Rules use NumPy calls only, so they also run on nested carriers: this is how
second derivatives of matmul, solve, eigh, ... come from the first-order rule.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .arrays import expand, sum_to, total


class Primitive:
    """A non-element-wise operation with its forward, reverse and sparsity rules.

    >>> Primitive("twice", lambda a: 2 * a, lambda out, primals, tangents: 2 * tangents[0])
    Primitive(twice)
    """

    def __init__(self, name, fn, jvp, vjp=None, structure=None):
        self.name, self.fn, self.jvp, self.vjp = name, fn, jvp, vjp
        self.structure = structure

    def __repr__(self):
        return f"Primitive({self.name})"


def _structure(rows, cols, shape) -> sp.csr_array:
    """A 0/1 map (rows, cols) as a csr_array of bools."""
    m = sp.coo_array((np.ones(len(rows), bool), (rows, cols)), shape=shape).tocsr()
    m.sum_duplicates()
    return m


#: Largest number of entries a dense structural helper (einsum's J_op) may allocate.
DENSE_LIMIT = 2**25

def _matmul_jvp(z, primals, tangents):
    a, b = primals
    ta, tb = tangents
    # the common cases first, all k directions in one GEMM: A @ x and x @ B
    if ta is None and np.ndim(b) == 1 and np.ndim(a) == 2:
        return tb @ np.transpose(a)
    if tb is None and np.ndim(a) == 1 and np.ndim(b) == 2:
        return ta @ b
    avec, bvec = np.ndim(a) == 1, np.ndim(b) == 1
    a2 = a[None, :] if avec else a
    b2 = b[:, None] if bvec else b
    nd = max(np.ndim(a2), np.ndim(b2))
    terms = []
    if ta is not None:
        if np.ndim(b) == 2:  # all k directions in one GEMM: (k*..., n) @ (n, p)
            tshape = np.shape(ta)
            terms.append(np.reshape(np.reshape(ta, (-1, tshape[-1])) @ b,
                                    tshape[:-1] + (np.shape(b)[1],)))
            terms[-1] = terms[-1][:, None, :] if avec else terms[-1]
        else:
            terms.append(np.matmul(expand(ta[:, None, :] if avec else ta, nd), b2))
    if tb is not None:
        if bvec and np.ndim(a) == 2:  # A @ t_k for all k in one GEMM: T (k, n) @ A^T
            terms.append((tb @ np.transpose(a))[..., None])
        else:
            terms.append(np.matmul(a2, expand(tb[..., None] if bvec else tb, nd)))
    out = total(terms)
    if bvec:
        out = out[..., 0]
    if avec:
        out = out[..., 0, :] if not bvec else out[..., 0]
    return out


def _matmul_vjp(z, primals, u, needs):
    # z = a b: a_bar = u b^T, b_bar = a^T u (vectors promoted to matrices)
    a, b = primals
    avec, bvec = np.ndim(a) == 1, np.ndim(b) == 1
    if np.ndim(a) == 2 and bvec:  # matrix-vector: one GEMM per adjoint
        return (u[:, :, None] * b if needs[0] else None,
                np.matmul(u, a) if needs[1] else None)
    if avec and np.ndim(b) == 2:
        return (np.matmul(u, _swap(b)) if needs[0] else None,
                a[:, None] * u[:, None, :] if needs[1] else None)
    a2 = a[None, :] if avec else a
    b2 = b[:, None] if bvec else b
    u2 = u[..., None] if bvec else u
    u2 = u2[..., None, :] if avec else u2
    ga = gb = None
    if needs[0]:
        ga = sum_to(np.matmul(u2, _swap(b2)), np.shape(a2))
        ga = ga[..., 0, :] if avec else ga
    if needs[1]:
        gb = sum_to(np.matmul(_swap(a2), u2), np.shape(b2))
        gb = gb[..., 0] if bvec else gb
    return ga, gb


def _matmul_structure(out, primals, masks, live):
    """out[i, j] = sum_k a[i, k] b[k, j]: d out[i, j] / d a[i, k] = b[k, j] (1-D/2-D)."""
    a, b = masks
    if a.ndim > 2 or b.ndim > 2:  # batched (a vector operand has no batch axes)
        spec = {1: "j,...jk->...k"}.get(a.ndim) or {1: "...ij,j->...i"}.get(b.ndim) \
            or "...ij,...jk->...ik"
        return _einsum_structure(spec, out, masks, live)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    m, p = a2.shape
    q = b2.shape[1]
    size = m * q
    result = [None, None]
    if live[0]:  # J[(i, j), (i, k)] = b[k, j]
        k, j = np.nonzero(b2)
        i = np.repeat(np.arange(m), len(k))
        result[0] = _structure(i * q + np.tile(j, m), i * p + np.tile(k, m), (size, m * p))
    if live[1]:  # J[(i, j), (k, j)] = a[i, k]
        i, k = np.nonzero(a2)
        j = np.tile(np.arange(q), len(i))
        result[1] = _structure(np.repeat(i, q) * q + j, np.repeat(k, q) * q + j, (size, p * q))
    return result


def _einsum_structure(spec, out, masks, live):
    """Each live operand's J_op from einsum over the 0/1 masks (None when too big)."""
    ins, outs = spec.split("->")
    ins = ins.split(",")
    k = next(c for c in "zyxwvutsrqponmlkjihgfedcba" if c not in spec)
    size = int(np.size(out))
    masks = [np.asarray(m, dtype=float) for m in masks]
    result = []
    for i, m in enumerate(masks):
        if not live[i] or m.size * size > DENSE_LIMIT:
            result.append(None)
            continue
        ops = list(masks)
        ops[i] = np.eye(m.size).reshape((m.size,) + m.shape)
        terms = ",".join(k + s if j == i else s for j, s in enumerate(ins))
        jt = np.einsum(f"{terms}->{k}{outs}", *ops, optimize=True).reshape(m.size, size)
        c, r = np.nonzero(jt)
        result.append(_structure(r, c, (size, m.size)))
    return result


MATMUL = Primitive("matmul", np.matmul, _matmul_jvp, _matmul_vjp, _matmul_structure)


def einsum_parts(subscripts: str, nops: int):
    """(input subscripts, output subscripts) of an einsum spec, made explicit.

    >>> einsum_parts("ij,jk", 2)
    (['ij', 'jk'], 'ik')
    """
    spec = subscripts.replace(" ", "")
    if "->" in spec:
        ins, out = spec.split("->")
    else:
        ins = spec
        letters = ins.replace(",", "").replace(".", "")
        out = ("..." if "..." in ins else "") + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1))
    ins = ins.split(",")
    if len(ins) != nops:
        raise ValueError(f"einsum: {subscripts!r} names {len(ins)} operands, got {nops}")
    return ins, out


def einsum_primitive(subscripts: str, nops: int) -> Primitive:
    """Einsum is multilinear: the tangent sums one einsum per varying operand,
    that operand replaced by its tangent under a fresh batch letter.

    >>> einsum_primitive("ij,j", 2)
    Primitive(einsum(ij,j->i))
    """
    ins, out = einsum_parts(subscripts, nops)
    used = set(subscripts)
    k = next(c for c in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in used)
    explicit = ",".join(ins) + "->" + out

    def fn(*ops):
        return np.einsum(explicit, *ops)

    def jvp(z, primals, tangents):
        terms = []
        for i, t in enumerate(tangents):
            if t is not None:
                spec = ",".join(k + s if j == i else s for j, s in enumerate(ins)) + "->" + k + out
                ops = list(primals)
                ops[i] = t
                terms.append(np.einsum(spec, *ops, optimize=True))
        return total(terms)

    def vjp(z, primals, u, needs):
        # multilinear: operand i's adjoint is one einsum of u with the others
        shapes = [np.shape(p) for p in primals]
        subs, osub, fresh = _explicit(ins, out, shapes, used | {k})
        out_adj = []
        for i, need in enumerate(needs):
            if not need:
                out_adj.append(None)
                continue
            others = [(s, p) for j, (s, p) in enumerate(zip(subs, primals)) if j != i]
            seen = set(osub) | {c for s, _ in others for c in s}
            target, eyes, extra = "", [], []
            for pos, c in enumerate(subs[i]):
                if c in subs[i][:pos]:  # repeated letter: put the adjoint on the diagonal
                    d = next(fresh)
                    target += d
                    eyes.append((c + d, np.eye(shapes[i][pos])))
                else:
                    target += c
                    if c not in seen:  # summed only inside operand i: broadcast
                        extra.append((c, np.ones(shapes[i][pos])))
            ops = [(k + osub, u)] + others + extra + eyes
            spec = ",".join(s for s, _ in ops) + "->" + k + target
            out_adj.append(np.einsum(spec, *[p for _, p in ops], optimize=True))
        return tuple(out_adj)

    def structure(out_value, primals, masks, live):
        return _einsum_structure(explicit, out_value, masks, live)

    return Primitive(f"einsum({explicit})", fn, jvp, vjp, structure)


def _explicit(ins, out, shapes, used):
    """Subscripts with every ellipsis spelled out in fresh letters; a size-1 broadcast
    axis gets a letter of its own so that the adjoint sums over it."""
    pool = iter(c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                if c not in used)
    if "..." not in "".join(ins) + out:
        return ins, out, pool
    nd = [len(sh) - (len(s) - 3 if "..." in s else len(s)) for s, sh in zip(ins, shapes)]
    width = max(nd)
    full = [next(pool) for _ in range(width)]
    sizes = [1] * width
    for s, sh, n in zip(ins, shapes, nd):
        if "..." in s:
            start = s.index("...")
            for j in range(n):
                sizes[width - n + j] = max(sizes[width - n + j], sh[start + j])
    new_ins = []
    for s, sh, n in zip(ins, shapes, nd):
        if "..." not in s:
            new_ins.append(s)
            continue
        start = s.index("...")
        letters = ""
        for j in range(n):
            pos = width - n + j
            letters += full[pos] if sh[start + j] == sizes[pos] else next(pool)
        new_ins.append(s.replace("...", letters))
    return new_ins, out.replace("...", "".join(full)), pool


def _swap(m):
    return np.swapaxes(m, -1, -2)


def _solve_jvp(x, primals, tangents):
    # dx = A^-1 (db - dA x); tangents lead-expanded before any product so that their
    # direction axis never meets a batch axis of the primals (nested carriers)
    a, b = primals
    ta, tb = tangents
    vec = np.ndim(b) == 1
    xc = x[..., None] if vec else x
    nd = np.ndim(xc)
    rhs = total([None if tb is None else expand(tb[..., None] if vec else tb, nd),
                  None if ta is None else -np.matmul(expand(ta, nd), xc)])
    out = np.linalg.solve(a, rhs)
    return out[..., 0] if vec else out


def _solve_vjp(x, primals, u, needs):
    # x = A^-1 b: b_bar = A^-T u, A_bar = -b_bar x^T
    a, b = primals
    vec = np.ndim(b) == 1
    if np.ndim(a) == 2 and np.ndim(b) <= 2:  # one factorisation for all k cotangents
        k = np.shape(u)[0]
        cols = np.reshape(np.moveaxis(u, 0, -1), (np.shape(a)[0], -1))
        gb = np.moveaxis(np.reshape(np.linalg.solve(_swap(a), cols),
                                    np.shape(u)[1:] + (k,)), -1, 0)
    else:
        uu = u[..., None] if vec else u
        gb = np.linalg.solve(_swap(a), uu)
        gb = gb[..., 0] if vec else gb
    ga = None
    if needs[0]:
        g2, x2 = (gb[..., None], x[..., None]) if vec else (gb, x)
        ga = sum_to(-np.matmul(g2, _swap(x2)), np.shape(a))
    return ga, (sum_to(gb, np.shape(b)) if needs[1] else None)


SOLVE = Primitive("solve", np.linalg.solve, _solve_jvp, _solve_vjp)


def is_complex(a) -> bool:
    """Whether a (an array or a carrier) holds complex numbers.

    >>> is_complex(np.ones(2)), is_complex(1j)
    (False, True)
    """
    dtype = getattr(a, "dtype", None)
    return (np.result_type(a) if dtype is None else np.dtype(dtype)).kind == "c"


def real_only(name: str, *arrays) -> None:
    """A TypeError naming ``name`` when one of the arrays is complex: its rule is written
    for real matrices (plain transposes where a complex one would need conjugates).

    >>> real_only("np.linalg.svd", np.eye(2))
    """
    if any(is_complex(a) for a in arrays):
        raise TypeError(f"{name} of a complex matrix is not supported by dualdiff (its "
                        f"derivative rule is written for real matrices); differentiate a "
                        f"real formulation, or apply it to .value if no derivative is needed.")


def _slogdet_jvp(out, primals, tangents):
    (a,), (ta,) = primals, tangents
    # d log det A = tr(A^-1 dA): its real part moves log|det A|, its imaginary part the
    # phase of a complex determinant (sign = e^{i phi}: d sign = i sign Im tr)
    tr = np.trace(np.linalg.solve(a, ta), axis1=-2, axis2=-1)
    if not is_complex(a):
        return None, tr
    return 1j * out[0] * np.imag(tr), np.real(tr)


def _slogdet_vjp(out, primals, u, needs):
    # log|det A| has gradient A^-T; a real sign has none, a complex sign's cotangent u_s
    # pairs with i sign Im tr(A^-1 dA): A_bar = Re(i u_s sign) (-i) A^-T
    (a,) = primals
    us, ul = u
    complex_a = is_complex(a)
    terms = []
    if ul is not None:
        terms.append(np.real(ul) if complex_a else ul)
    if us is not None and complex_a:
        terms.append(-1j * np.real(1j * us * out[0]))
    if not terms:
        return (None,)
    return (total(terms)[..., None, None] * np.linalg.inv(_swap(a)),)


SLOGDET = Primitive("slogdet", lambda a: tuple(np.linalg.slogdet(a)), _slogdet_jvp,
                    _slogdet_vjp)


def lower_symmetric(t, lower=True):
    """The symmetric matrix LAPACK reads from one triangle of t.

    >>> lower_symmetric(np.array([[1.0, 9.0], [2.0, 3.0]])).tolist()
    [[1.0, 2.0], [2.0, 3.0]]
    """
    if lower:
        return np.tril(t) + _swap(np.tril(t, -1))
    return np.triu(t) + _swap(np.triu(t, 1))


def _cholesky_jvp(L, primals, tangents):
    # dL = L Phi(L^-1 dA L^-T), Phi = lower triangle with halved diagonal
    (ta,) = tangents
    x = np.linalg.solve(L, lower_symmetric(ta))
    m = np.linalg.solve(L, _swap(x))
    n = np.shape(L)[-1]
    return np.matmul(L, np.tril(m, -1) + 0.5 * m * np.eye(n))


def lower_symmetric_adjoint(g, lower=True):
    """Transpose of :func:`lower_symmetric`: fold the other triangle onto the read one.

    >>> lower_symmetric_adjoint(np.array([[1.0, 2.0], [3.0, 4.0]])).tolist()
    [[1.0, 0.0], [5.0, 4.0]]
    """
    if lower:
        return np.tril(g) + np.tril(_swap(g), -1)
    return np.triu(g) + np.triu(_swap(g), 1)


def _cholesky_vjp(L, primals, u, needs):
    # transpose of the jvp: P = Phi(L^T L_bar), S_bar = L^-T P L^-1
    n = np.shape(L)[-1]
    m = np.matmul(_swap(L), u)
    p = np.tril(m, -1) + 0.5 * m * np.eye(n)
    y = np.linalg.solve(_swap(L), p)
    s = _swap(np.linalg.solve(_swap(L), _swap(y)))
    return (lower_symmetric_adjoint(s),)


CHOLESKY = Primitive("cholesky", np.linalg.cholesky, _cholesky_jvp, _cholesky_vjp)


def eigh_primitive(uplo: str) -> Primitive:
    """The eigh rule reading triangle ``uplo`` ("L" or "U").

    >>> eigh_primitive("L")
    Primitive(eigh)
    """
    def fn(a):
        return tuple(np.linalg.eigh(a, UPLO=uplo))

    def jvp(out, primals, tangents):
        # P = V^T dA V; dw = diag P; dV = V (F o P), F_ij = 1/(w_j - w_i), F_ii = 0
        w, v = out
        p = np.matmul(np.matmul(_swap(v), lower_symmetric(tangents[0], uplo == "L")), v)
        n = np.shape(w)[-1]
        off = ~np.eye(n, dtype=bool)
        gap = w[..., None, :] - w[..., :, None]
        f = np.where(off, 1.0 / np.where(off, gap, 1.0), 0.0)
        return np.diagonal(p, axis1=-2, axis2=-1), np.matmul(v, f * p)

    def vjp(out, primals, u, needs):
        # P_bar = diag(w_bar) + F o (V^T V_bar); S_bar = V P_bar V^T
        w, v = out
        uw, uv = u
        n = np.shape(w)[-1]
        off = ~np.eye(n, dtype=bool)
        gap = w[..., None, :] - w[..., :, None]
        f = np.where(off, 1.0 / np.where(off, gap, 1.0), 0.0)
        terms = []
        if uw is not None:
            terms.append(uw[..., :, None] * np.eye(n))
        if uv is not None:
            terms.append(f * np.matmul(_swap(v), uv))
        pbar = total(terms)
        s = np.matmul(np.matmul(v, pbar), _swap(v))
        return (lower_symmetric_adjoint(s, uplo == "L"),)

    return Primitive("eigh", fn, jvp, vjp)


def _lstsq_fn(a, b):
    return np.linalg.lstsq(a, b, rcond=None)[0]


def _lstsq_jvp(x, primals, tangents):
    # full column rank: A^T A dx = A^T (db - dA x) + dA^T r, r = b - A x
    a, b = primals
    ta, tb = tangents
    vec = np.ndim(b) == 1
    if vec:
        b, x = b[:, None], x[:, None]
        tb = None if tb is None else tb[..., None]
    r = b - np.matmul(a, x)
    inner = total([tb, None if ta is None else -np.matmul(ta, x)])
    rhs = total([np.matmul(_swap(a), expand(inner, 2)),
                  None if ta is None else np.matmul(_swap(ta), r)])
    dx = np.linalg.solve(np.matmul(_swap(a), a), rhs)
    return dx[..., 0] if vec else dx


def _lstsq_vjp(x, primals, u, needs):
    # c = (A^T A)^-1 x_bar: b_bar = A c, A_bar = -(A c) x^T + r c^T, r = b - A x
    a, b = primals
    vec = np.ndim(b) == 1
    if vec:
        b, x, u = b[:, None], x[:, None], u[..., None]
    c = np.linalg.solve(np.matmul(_swap(a), a), u)
    ac = np.matmul(a, c)
    ga = gb = None
    if needs[0]:
        r = b - np.matmul(a, x)
        ga = np.matmul(r, _swap(c)) - np.matmul(ac, _swap(x))
    if needs[1]:
        gb = ac[..., 0] if vec else ac
    return ga, gb


LSTSQ = Primitive("lstsq", _lstsq_fn, _lstsq_jvp, _lstsq_vjp)

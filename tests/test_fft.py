"""numpy.fft on carriers (dualdiff.fft): linear maps with explicit adjoints.

References, none sharing code with dualdiff:
* one-dimensional transforms: their matrices written by hand, F_jk = exp(-2 pi i j k / n)
  cropped or zero-padded to the input length, scaled by the norm, and for irfft / hfft the
  hermitian doubling x_j = c sum_k w_k Re(a_k e^{+-2 pi i j k / n}) (w_0 = w_{n/2} = 1, else 2);
* n-dimensional transforms: a linear map's Jacobian is its matrix, NumPy's own transform of
  the unit vectors (of 1j times them for the imaginary parts of a complex input);
* FFT filters and circular convolutions: the same maps written as plain sums (complex step
  of real arithmetic), energies through the map's matrix (gradient 2 L^T L x, Hessian 2 L^T L).
Complex outputs give complex Jacobians, the same in forward and reverse mode.
"""

from __future__ import annotations

import numpy as np
import pytest
from refs import cs_jacobian, rnd

import dualdiff as dd

fft = np.fft
MODES = ({"mode": "forward", "chunk": 1}, {"mode": "forward"}, {"mode": "reverse"},
         {"mode": "auto"})
NORMS = (None, "ortho", "forward")



def check(f, x, ref, rtol=1e-12, atol=1e-13):
    for kw in MODES:
        dd.modes.forget(f)
        np.testing.assert_allclose(dd.jacobian(f, x, **kw), ref, rtol=rtol, atol=atol,
                                   err_msg=str(kw))


def check_hessian(f, x, ref, rtol=1e-11, atol=1e-12):
    for method in ("hyperdual", "forward-over-reverse"):
        np.testing.assert_allclose(dd.hessian(f, x, method=method), ref, rtol=rtol, atol=atol,
                                   err_msg=method)


def scale(norm, n, forward):
    """The factor of a forward (fft-like) or backward (ifft-like) transform of length n."""
    if norm == "ortho":
        return 1 / np.sqrt(n)
    return (1.0 if norm in (None, "backward") else 1 / n) if forward else \
        (1 / n if norm in (None, "backward") else 1.0)


def dft(n, m, sign=-1):
    """exp(sign 2 pi i j k / n) for j < n, k < min(m, n); zero columns up to m."""
    j, k = np.arange(n)[:, None], np.arange(m)[None, :]
    return np.where(k < n, np.exp(sign * 2j * np.pi * j * k / n), 0)


def weights(n):
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w


def matrices(kind, m, n, norm):
    """(M_re, M_im): the derivative along the axis with respect to the real and the imaginary
    parts of the input (M_im None for a real input), by hand."""
    if kind == "fft":
        mm = scale(norm, n, True) * dft(n, m)
        return mm, 1j * mm
    if kind == "ifft":
        mm = scale(norm, n, False) * dft(n, m, +1)
        return mm, 1j * mm
    if kind == "rfft":
        return (scale(norm, n, True) * dft(n, m))[:n // 2 + 1], None
    if kind == "ihfft":  # conj(rfft(x, norm swapped))
        return np.conj(scale(norm, n, False) * dft(n, m))[:n // 2 + 1], None
    h = n // 2 + 1
    j, k = np.arange(n)[:, None], np.arange(m)[None, :]
    w = np.where(k < h, np.concatenate([weights(n), np.zeros(max(m - h, 0))])[:m], 0.0)
    c = scale(norm, n, False) if kind == "irfft" else scale(norm, n, True)
    sgn = -1.0 if kind == "irfft" else 1.0  # hfft = irfft(conj(a)): the sine flips
    return c * w * np.cos(2 * np.pi * j * k / n), sgn * c * w * np.sin(2 * np.pi * j * k / n)


def along(mm, rows, axis):
    """Jacobian of applying mm (nout x m) along ``axis`` of a (rows, m) array (axis 1) or of
    its transpose (m, rows) (axis 0)."""
    eye = np.eye(rows)
    if axis in (1, -1):
        return np.einsum("jk,ab->ajbk", mm, eye)
    return np.einsum("jk,ab->jakb", mm, eye)


CASES = [(kind, n, norm) for kind in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")
         for n, norm in ((None, None), (3, "ortho"), (8, "forward"), (6, None), (5, "ortho"))]


@pytest.mark.parametrize("kind,n,norm", CASES)
def test_one_dimensional_transforms_against_their_matrices(kind, n, norm):
    m, rows = 5, 2
    func = getattr(fft, kind)
    real_input = kind in ("rfft", "ihfft")
    nn = n if n is not None else (2 * (m - 1) if kind in ("irfft", "hfft") else m)
    m_re, m_im = matrices(kind, m, nn, norm)
    for axis in (-1, 0):
        shape = (rows, m) if axis == -1 else (m, rows)
        if real_input:
            x = rnd(*shape, seed=1)
            check(lambda x: func(x, n, axis, norm), x, along(m_re, rows, axis))
        else:
            x = rnd(2, *shape, seed=1)
            ref = np.stack([along(m_re, rows, axis), along(m_im, rows, axis)], axis=-len(shape) - 1)
            check(lambda x: func(x[0] + 1j * x[1], n, axis, norm), x, ref)


def test_values_are_numpys():
    x = rnd(4, 6, seed=2)
    z = x + 1j * rnd(4, 6, seed=3)
    d = dd.Dual(x, np.ones((1, 4, 6)))
    dz = d + 1j * dd.Dual(z.imag, np.ones((1, 4, 6)))
    calls = [(fft.fft, dz, {"n": 5}), (fft.ifft, dz, {"axis": 0}), (fft.rfft, d, {"n": 9}),
             (fft.irfft, dz, {"n": 7}), (fft.hfft, dz, {}), (fft.ihfft, d, {"norm": "ortho"}),
             (fft.fftn, dz, {"s": (3, 7), "axes": (0, 1)}), (fft.ifftn, dz, {}),
             (fft.fft2, dz, {"norm": "forward"}), (fft.ifft2, dz, {"s": (5, 5)}),
             (fft.rfftn, d, {}), (fft.irfftn, dz, {"s": (4, 10), "axes": (0, 1)}),
             (fft.rfft2, d, {}), (fft.irfft2, dz, {"axes": (1, 0)})]
    for func, arg, kw in calls:
        plain = arg.value
        got = func(arg, **kw)
        np.testing.assert_array_equal(got.value, func(plain, **kw), err_msg=func.__name__)
        assert got.value.dtype == func(plain, **kw).dtype


@pytest.mark.parametrize("name,kw", [("fftn", {}), ("ifftn", {"s": (3, 5), "axes": (2, 0)}),
                                     ("fft2", {"norm": "ortho"}), ("ifft2", {"axes": (1, 0)}),
                                     ("rfftn", {"s": (2, 6), "axes": (1, 2)}), ("rfft2", {}),
                                     ("irfftn", {}), ("irfft2", {"s": (3, 5)}),
                                     ("fftn", {"s": (2, 2, 3), "axes": (0, 2, 1)})])
def test_n_dimensional_transforms_against_numpy_on_unit_vectors(name, kw):
    func = getattr(fft, name)
    shape = (2, 3, 4)
    real_input = name.startswith("rfft")
    size = int(np.prod(shape))
    basis = np.eye(size).reshape((size,) + shape)
    cols = [func(e, **kw) for e in basis]
    if not real_input:
        cols += [func(1j * e, **kw) for e in basis]
    out = np.moveaxis(np.array(cols), 0, -1)
    if real_input:
        x = rnd(*shape, seed=4)
        check(lambda x: func(x, **kw), x, out.reshape(out.shape[:-1] + shape))
    else:
        x = rnd(2, *shape, seed=4)
        ref = out.reshape(out.shape[:-1] + (2,) + shape)
        check(lambda x: func(x[0] + 1j * x[1], **kw), x, ref)


def test_nd_arguments_follow_numpy():
    # s without axes: NumPy's deprecated meaning (the last len(s) axes), with its warning
    x = dd.Dual(rnd(2, 3, 4, seed=11), np.ones((1, 2, 3, 4)))
    with pytest.warns(DeprecationWarning, match="axes"):
        got = fft.fftn(x, s=(2, 5))
    with pytest.warns(DeprecationWarning, match="axes"):
        want = fft.fftn(x.value, s=(2, 5))
    np.testing.assert_array_equal(got.value, want)
    with pytest.raises(ValueError, match="different lengths"):
        fft.fftn(x, s=(2, 5), axes=(0,))
    with pytest.raises(ValueError, match="norm"):
        fft.fft(x, norm="bad")


def test_fft_filter_energy_gradient_and_hessian():
    # y = irfft(H rfft(x)) with a low-pass H (and a phase shift), E = sum y^2 + sum |X|^2 w
    n = 12
    x = rnd(n, seed=5)
    k = np.arange(n // 2 + 1)
    hresp = np.exp(-((k / 3.0) ** 2)) * np.exp(-0.3j * k)
    w = 1.0 + k

    def filt(v):
        return fft.irfft(hresp * fft.rfft(v), n)

    def energy(v):
        spec = fft.rfft(v)
        return np.sum(filt(v) ** 2) + np.sum(w * np.abs(spec) ** 2)

    lmat = np.array([filt(e) for e in np.eye(n)]).T  # the filter's matrix, from NumPy
    smat = np.array([fft.rfft(e) for e in np.eye(n)]).T  # rfft's matrix
    hess = 2 * lmat.T @ lmat + 2 * np.real(smat.conj().T @ (w[:, None] * smat))
    check(filt, x, lmat)
    check(energy, x, hess @ x, rtol=1e-11, atol=1e-11)
    check_hessian(energy, x, hess)
    np.testing.assert_allclose(dd.gradient(energy, x), hess @ x, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("name,kw", [("fft", {"n": 7}), ("ifft", {"norm": "ortho"}),
                                     ("rfft", {"n": 4}), ("irfft", {}), ("hfft", {"n": 5}),
                                     ("ihfft", {"norm": "forward"}), ("fft2", {}),
                                     ("irfftn", {"axes": (0, 1)}), ("rfftn", {})])
def test_hessians_of_spectral_energies(name, kw):
    # E = sum w |T(z)|^2 with T linear (R-linear for irfft/hfft), z built from real x:
    # z = x (real-input transforms) or x[0] + i x[1]. With M the matrix of x -> T(z) (NumPy's
    # transform of unit vectors), E = x^T Re(M^H W M) x: Hessian 2 Re(M^H W M)
    func = getattr(fft, name)
    real_input = name in ("rfft", "ihfft", "rfftn")
    shape = (2, 3) if real_input else (2, 2, 3)
    make = (lambda v: v) if real_input else (lambda v: v[0] + 1j * v[1])
    size = int(np.prod(shape))
    mmat = np.array([np.ravel(func(make(e.reshape(shape)), **kw)) for e in np.eye(size)]).T
    w = np.linspace(1.0, 2.0, mmat.shape[0])
    hess = 2 * np.real(mmat.conj().T @ (w[:, None] * mmat)).reshape(shape + shape)
    energy = lambda v: np.sum(w * np.abs(np.ravel(func(make(v), **kw))) ** 2)  # noqa: E731
    x = rnd(*shape, seed=12)
    check_hessian(energy, x, hess)
    check(energy, x, np.tensordot(hess, x, axes=len(shape)), rtol=1e-11, atol=1e-12)


def test_fft_magnitude_gradient():
    # sum |fft(x)|: d/dx = Re(conj(X) / |X| F), F the DFT matrix
    x = rnd(8, seed=6)
    big_f = dft(8, 8)
    spec = big_f @ x
    check(lambda v: np.sum(np.abs(fft.fft(v))), x, np.real((np.conj(spec) / abs(spec)) @ big_f))


def test_circular_convolution_by_fft():
    # c = irfft(rfft(a) rfft(b)) is the circular convolution c_j = sum_k a_k b_{(j-k) mod n}
    n = 7
    x = rnd(2 * n, seed=7)

    def by_fft(v):
        return fft.irfft(fft.rfft(v[:n]) * fft.rfft(v[n:]), n)

    def by_sum(v):
        j, k = np.arange(n)[:, None], np.arange(n)[None, :]
        return np.sum(v[:n][None, :] * v[n:][(j - k) % n], axis=1)

    check(by_fft, x, cs_jacobian(by_sum, x))
    # second derivative of the convolution's energy
    g = lambda v: np.sum(by_sum(v) ** 2)  # noqa: E731
    hand = lambda v: cs_jacobian(g, v)  # noqa: E731  (the complex step of real arithmetic)
    check(lambda v: np.sum(by_fft(v) ** 2), x, hand(x), rtol=1e-11, atol=1e-11)


def test_fftshift_and_frequency_filter():
    # a shifted spectrum, differentiated: ifft(ifftshift(fftshift(fft(x)) * g)) = ifft(fft(x) * g')
    n = 8
    x = rnd(n, seed=8)
    g = np.linspace(0.2, 1.0, n)

    def f(v):
        return fft.ifft(fft.ifftshift(fft.fftshift(fft.fft(v)) * g)).real

    gm = fft.ifftshift(g)
    mat = np.real(dft(n, n, +1) @ np.diag(gm) @ dft(n, n)) / n
    check(f, x, mat)


def test_sparsity_patterns():
    x = rnd(3, 4, seed=9)
    p = dd.jacobian_sparsity(lambda v: fft.fft(v, axis=1).real, x).toarray()
    np.testing.assert_array_equal(p, np.kron(np.eye(3), np.ones((4, 4))).astype(bool))
    p = dd.jacobian_sparsity(lambda v: np.abs(fft.rfft(v, n=3, axis=0)), x).toarray()
    ref = np.zeros((2, 4, 3, 4), bool)  # rfft of the first 3 rows: 2 outputs per column
    for c in range(4):
        ref[:, c, :, c] = True
    np.testing.assert_array_equal(p, ref.reshape(8, 12))
    f = lambda v: fft.irfft(fft.rfft(v, axis=0) * 2.0, 3, axis=0)  # noqa: E731
    np.testing.assert_allclose(dd.jacobian(f, x, sparsity="auto").toarray(),
                               dd.jacobian(f, x).reshape(12, 12), rtol=1e-15, atol=1e-15)
    with pytest.raises(ValueError, match="dense"):
        dd.jacobian_sparsity(lambda v: fft.fft(v), np.ones(10**4))


def test_duality_of_every_adjoint():
    # <w, J t> from one forward pass equals <w J, t> from one reverse sweep, for real-valued
    # compositions of every transform (the adjoints are the transposes)
    rng = np.random.default_rng(10)
    x = rng.normal(size=(2, 3, 6))

    def f(v):
        z = v[0] + 1j * v[1]
        parts = [fft.fft(z, 4).real, fft.ifft(z, 8, axis=0).imag, fft.rfft(v[0], 7).real,
                 fft.irfft(z, 5), fft.hfft(z, 9, norm="ortho"), fft.ihfft(v[1], axis=0).imag,
                 fft.rfftn(v[0], s=(2, 5), axes=(0, 1)).imag, fft.irfftn(z, norm="forward")]
        return np.concatenate([np.ravel(p) for p in parts])

    t = rng.normal(size=x.shape)
    y, jt = dd.jvp(f, x, t)
    wv = rng.normal(size=y.shape)
    _, pullback = dd.vjp(f, x)
    lhs, rhs = np.dot(wv, jt), np.sum(pullback(wv) * t)
    assert abs(lhs - rhs) <= 1e-13 * np.sum(np.abs(wv * jt))

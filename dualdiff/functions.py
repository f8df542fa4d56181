"""NumPy functions on carriers.

Each function is one of: a linear map batched over the leading direction
axis (:func:`~dualdiff.dispatch.linear`), a pure movement of elements
(:func:`~dualdiff.dispatch.gather`), a rule of :mod:`dualdiff.rules`
(:func:`~dualdiff.dispatch.primitive`), or a composite of other supported
NumPy calls (then every carrier, and every rule, comes for free).  They live in
:mod:`~dualdiff.structure`, :mod:`~dualdiff.reductions`, :mod:`~dualdiff.products`
and :mod:`~dualdiff.curves`; this module registers them and lists what is
answered on the primal or refused, with the reason.
"""

from __future__ import annotations

import numpy as np

from . import curves, products, reductions, structure  # noqa: F401  (register)
from .dispatch import HANDLED, PRIMAL_ONLY, UNSUPPORTED

PRIMAL_ONLY.update({
    np.argmax, np.argmin, np.nanargmax, np.nanargmin, np.argsort, np.argpartition,
    np.argwhere, np.nonzero, np.flatnonzero, np.count_nonzero, np.searchsorted,
    np.digitize, np.lexsort, np.shape, np.ndim, np.size, np.isclose, np.allclose,
    np.array_equal, np.array_equiv, np.all, np.any, np.isreal, np.iscomplex,
    np.isrealobj, np.iscomplexobj, np.isneginf, np.isposinf, np.isin, np.may_share_memory,
    np.shares_memory, np.result_type, np.can_cast, np.min_scalar_type, np.common_type,
    np.array2string, np.array_repr, np.array_str, np.diag_indices_from, np.tril_indices_from,
    np.triu_indices_from, np.ravel_multi_index, np.unravel_index, np.linalg.matrix_rank,
    np.bincount, np.histogram_bin_edges, np.ix_, np.packbits, np.unpackbits,
    np.busday_count, np.busday_offset, np.is_busday, np.datetime_as_string,
    np.einsum_path,  # a contraction order: no values to differentiate
})

HANDLED[np.astype] = lambda x, dtype, /, *, copy=True, **kw: x.astype(dtype, copy=copy)

_REASONS = {
    "complex-valued result; dualdiff differentiates real functions": [
        np.angle, np.sort_complex, np.roots, np.linalg.eig, np.linalg.eigvals,
        *[getattr(np.fft, n) for n in ("fft", "fft2", "fftn", "hfft", "ifft", "ifft2",
                                       "ifftn", "ihfft", "irfft", "irfft2", "irfftn",
                                       "rfft", "rfft2", "rfftn")]],
    "it writes into its argument in place; use index assignment x[idx] = value": [
        np.place, np.put, np.put_along_axis, np.putmask],
    "its output depends on the values through counting or set logic; apply it to .value": [
        np.unique, np.unique_all, np.unique_counts, np.unique_inverse, np.unique_values,
        np.union1d, np.intersect1d, np.setdiff1d, np.setxor1d, np.trim_zeros,
        np.histogram, np.histogram2d, np.histogramdd],
    "no derivative rule yet; write it with supported operations": [
        np.nanpercentile, np.nanquantile, np.nanmedian, np.i0,
        np.poly, np.polydiv, np.polyfit, np.geomspace, np.linalg.qr, np.linalg.svd,
        np.linalg.cond, np.linalg.tensorinv, np.linalg.tensorsolve],
    "it calls a Python function per slice on plain arrays; loop over the slices yourself": [
        np.apply_along_axis, np.apply_over_axes],
    "it does file or text I/O": [np.save, np.savez, np.savez_compressed, np.savetxt],
    "integer or bit-level operation": [
        np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.bitwise_not, np.bitwise_count,
        np.left_shift, np.right_shift, np.invert, np.gcd, np.lcm],
    "it has several outputs with no derivative rule (write x - np.floor(x) etc.)": [
        np.divmod, np.modf, np.frexp, np.nextafter],
}
for _reason, _funcs in _REASONS.items():
    for _f in _funcs:
        UNSUPPORTED[_f] = _reason

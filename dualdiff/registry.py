"""The registry of what is answered without a derivative or refused, and why.

Every NumPy function that dispatches through ``__array_function__`` is handled
(an implementation in one of the function modules), discrete (answered from the
values: a result with no derivative, reported to the recorders of
:mod:`dualdiff.core` so reused patterns and plans can re-check it), about the
array and not its values (shape, dtype, printing), or refused here with a reason
that names the fix.  A test walks NumPy and holds every function to one of these.
"""

from __future__ import annotations

import numpy as np

from .core import DISCRETE, HANDLED, REFUSED, strip

DISCRETE.update({
    np.argmax, np.argmin, np.nanargmax, np.nanargmin, np.argsort, np.argpartition,
    np.argwhere, np.nonzero, np.flatnonzero, np.count_nonzero, np.searchsorted,
    np.digitize, np.lexsort, np.isclose, np.allclose, np.array_equal, np.array_equiv,
    np.all, np.any, np.isreal, np.iscomplex, np.isneginf, np.isposinf, np.isin,
    np.diag_indices_from, np.tril_indices_from, np.triu_indices_from, np.ravel_multi_index,
    np.unravel_index, np.linalg.matrix_rank, np.histogram_bin_edges, np.ix_,
    np.packbits, np.unpackbits, np.busday_count, np.busday_offset, np.is_busday,
    np.datetime_as_string,
})

#: about the array, not its values: answered directly, never a discrete result
ABOUT_THE_ARRAY = {
    np.shape, np.ndim, np.size, np.result_type, np.can_cast, np.min_scalar_type,
    np.common_type, np.isrealobj, np.iscomplexobj, np.may_share_memory, np.shares_memory,
    np.array2string, np.array_repr, np.array_str,
    np.einsum_path,  # a contraction order: no values to differentiate
}
for _f in ABOUT_THE_ARRAY:
    HANDLED[_f] = (lambda f: lambda *args, **kwargs: f(*strip(args), **strip(kwargs)))(_f)

HANDLED[np.astype] = lambda x, dtype, /, *, copy=True, **kw: x.astype(dtype, copy=copy)

REASONS = {
    "its output depends on the values through counting or set logic; apply it to .value": [
        np.unique, np.unique_all, np.unique_counts, np.unique_inverse, np.unique_values,
        np.union1d, np.intersect1d, np.setdiff1d, np.setxor1d, np.trim_zeros,
        np.histogram, np.histogram2d, np.histogramdd],
    "no derivative rule yet; write it with supported operations": [
        np.nanpercentile, np.nanquantile, np.nanmedian,
        np.poly, np.polydiv, np.geomspace,
        np.linalg.cond, np.linalg.tensorinv, np.linalg.tensorsolve],
    "it calls a Python function per slice on plain arrays; loop over the slices yourself": [
        np.apply_along_axis, np.apply_over_axes],
    "it does file or text I/O": [np.save, np.savez, np.savez_compressed, np.savetxt],
    "integer or bit-level operation": [
        np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.bitwise_not, np.bitwise_count,
        np.left_shift, np.right_shift, np.invert, np.gcd, np.lcm],
    "it steps to the next representable number: a discrete operation": [np.nextafter],
}
for _reason, _funcs in REASONS.items():
    for _f in _funcs:
        REFUSED[_f] = _reason

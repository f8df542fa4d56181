"""Shared test set-up: single-threaded BLAS and a reproducible, modest hypothesis profile.

BLAS runs on one thread: on a busy 2-core machine OpenBLAS's threads spin against each
other (a 200 x 200 LU took 95 ms instead of 1 ms), and a threaded reduction need not give
the same bits twice.  The environment variables reach the BLAS libraries loaded after this
(SciPy's, the notebooks' kernels); one already loaded (NumPy's, when a pytest plugin
imported NumPy first) is told directly.
"""

import ctypes
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def _one_blas_thread_in_loaded_libraries() -> None:
    try:
        with open("/proc/self/maps") as fh:
            paths = {line.split()[-1] for line in fh if "openblas" in line.lower()}
    except OSError:  # not Linux: the environment variables above must do
        return
    for path in paths:
        if not path.startswith("/"):
            continue
        lib = ctypes.CDLL(path)
        for sym in ("openblas_set_num_threads", "openblas_set_num_threads64_",
                    "scipy_openblas_set_num_threads", "scipy_openblas_set_num_threads64_"):
            setter = getattr(lib, sym, None)
            if setter is not None:
                setter(1)


if os.environ["OPENBLAS_NUM_THREADS"] == "1":
    _one_blas_thread_in_loaded_libraries()

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "dualdiff",
    deadline=None,
    max_examples=25,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("dualdiff")


def pytest_collection_finish(session):
    """Selected notebook tests: start their kernels now, to run beside the other tests
    (not under pytest-xdist: its workers each run their share of notebooks in turn)."""
    if session.config.option.collectonly or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    for item in session.items:
        if item.name.startswith("test_notebook_executes"):
            item.module.start_background()
            return

"""Independent derivative passes fanned out to any ``concurrent.futures.Executor``.

The passes of a dense Jacobian (chunks of seed directions, or chunks of cotangent
rows), the colour groups of a sparse Jacobian or Hessian and the blocks of a
Hessian do not depend on each other.  With ``executor=`` the drivers build the
*same* list of passes as without one, submit each as ``executor.submit(fn, *item)``
and put the results together in the same order, so the result is bit-identical to
the serial one whatever the executor: a ``ThreadPoolExecutor``, a
``ProcessPoolExecutor``, ``dask.distributed.Client(...).get_executor()``, mpi4py's
``MPIPoolExecutor``...

What travels: ``fn`` is a module-level function of dualdiff and ``item`` holds f,
the input x (a plain array) and the seeds or a chunk's bounds, so a process pool
pickles f: with the standard ``pickle`` (``ProcessPoolExecutor``) f must be
importable (a module-level function, not a lambda or closure); dask pickles with
cloudpickle, which also sends lambdas and closures.  A pass that records discrete
results (comparisons, branches) for a prepared plan returns them with its result:
recorders are per call and per thread, so they cannot see a worker.
"""

from __future__ import annotations

import pickle
from concurrent.futures import Executor, ThreadPoolExecutor


def check_executor(executor) -> None:
    """A TypeError unless ``executor`` is None or has ``submit`` (a concurrent.futures
    Executor or anything that looks like one).

    >>> check_executor(None)
    """
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"executor must be a concurrent.futures.Executor (anything with "
                        f".submit(fn, *args) returning a future), got "
                        f"{type(executor).__name__}")


def shares_memory(executor) -> bool:
    """True when the executor's workers are threads of this process (they may share
    objects that do not pickle, such as a recorded tape).

    >>> shares_memory(None), shares_memory(ThreadPoolExecutor(1))
    (True, True)
    """
    return executor is None or isinstance(executor, ThreadPoolExecutor)


def _unpicklable(err: BaseException) -> bool:
    return isinstance(err, pickle.PicklingError) or (
        isinstance(err, (AttributeError, TypeError)) and "pickle" in str(err))


def submit(executor: Executor | None, fn, items: list) -> list:
    """Futures (or, without an executor, finished results wrapped alike) of
    ``fn(*item)`` for each item, in order.

    >>> [f.result() for f in submit(None, pow, [(2, 3)])]
    [8]
    """
    if executor is None:
        return [_Done(fn(*item)) for item in items]
    return [executor.submit(fn, *item) for item in items]


def gather(futures: list, start: int = 0) -> list:
    """The results of ``futures[start:]``, in order; on an error the rest are cancelled
    and a pickling failure says what to do.

    >>> gather(submit(None, pow, [(2, 3), (3, 2)]), start=1)
    [9]
    """
    try:
        return [fu.result() for fu in futures[start:]]
    except BaseException as err:
        for fu in futures:
            fu.cancel()
        if _unpicklable(err):
            raise TypeError(
                f"executor: a pass could not be sent to the workers ({err}). A process "
                f"pool pickles f: define f at module level (not a lambda or closure) and "
                f"pass picklable args, or use an executor that pickles with cloudpickle "
                f"(dask.distributed), or a ThreadPoolExecutor.") from err
        raise


def run(executor: Executor | None, fn, items: list) -> list:
    """``[fn(*item) for item in items]``, each on the executor when one is given (and
    there is more than one item), results in the order of the items.

    >>> run(None, pow, [(2, 3), (3, 2)])
    [8, 9]
    >>> with ThreadPoolExecutor(2) as pool:
    ...     run(pool, pow, [(2, 3), (3, 2)])
    [8, 9]
    """
    check_executor(executor)
    if executor is None or len(items) < 2:
        return [fn(*item) for item in items]
    return gather(submit(executor, fn, items))


class _Done:
    """A finished result that looks like a future."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value

    def cancel(self) -> bool:
        return False

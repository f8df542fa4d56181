"""Differential fuzzing, a small seeded budget (the long run is ``scripts/fuzz.py``).

Random programs of each class (``tests/programs.py``) go through the table of checks in
``tests/differential.py``: forward / reverse / auto Jacobians, chunk=1, jvp, vjp,
sparse Jacobians (both modes) and plans called at a second point (sparse plans in
every mode, dense, gradient, Hessian and hvp plans), gradients, Hessians by hyper-duals
and forward-over-reverse, hvp, value, input left alone, bit-identical repeats, each
against complex-step or central-difference references.  Program i runs every STRIDE-th
check (starting at i % STRIDE), so each check sees PROGRAMS / STRIDE programs per class
and the file stays within a few seconds.  A failure prints the program, shrunk.

The harness itself is tested below: a test that cannot fail is a defect.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from differential import (
    CHECKS,
    NoReference,
    References,
    classify,
    fingerprints,
    run_program,
    shrink,
)
from programs import CLASSES, Program, make_program, valid

import dualdiff as dd

SEED = 0
PROGRAMS = 16
STRIDE = 5
TIMEOUT = 20.0
#: seconds spent shrinking the failures of one class (only when it fails)
SHRINK_BUDGET = 4.0
#: checks left to the long run: n^2 one-direction hyper-dual passes, a fifth of the time
LONG_RUN_ONLY = ("hess_hyperdual_chunk1",)


@pytest.mark.parametrize("cls", list(CLASSES))
def test_random_programs_agree_with_references(cls):
    names = [n for n in CHECKS if n not in LONG_RUN_ONLY]
    failures, passed, ran, seen = [], 0, 0, set()
    deadline = time.perf_counter() + SHRINK_BUDGET
    for i in range(PROGRAMS):
        prog = make_program(cls, i, seed=SEED)
        res = run_program(prog, dd, names[i % STRIDE::STRIDE], timeout=TIMEOUT)
        passed += sum(o.status == "pass" for o in res.outcomes.values())
        ran += sum(o.status != "n/a" for o in res.outcomes.values())
        for key, name, o in fingerprints(res):
            left = deadline - time.perf_counter()
            small = shrink(prog, dd, name, o, budget=min(1.5, left), timeout=TIMEOUT) \
                if key not in seen and left > 0 else prog
            seen.add(key)
            failures.append(f"[{key}]\n  check {name}: {o.detail}\n{small.describe()}")
    assert not failures, (f"{len(failures)} failures in {PROGRAMS} {cls} programs "
                          f"(seed {SEED}):\n\n" + "\n".join(failures))
    assert passed >= ran // 2, f"only {passed} of {ran} checks passed (the rest refused)"


# ------------------------------------------------------------ the harness is not vacuous

class _Shifted:
    """dualdiff with every Jacobian / gradient off by ``delta`` in one entry."""

    def __init__(self, delta):
        self.delta, self.__file__ = delta, dd.__file__

    def value_and_jacobian(self, f, x, mode="auto", chunk=None):
        y, jac = dd.value_and_jacobian(f, x, mode=mode, chunk=chunk)
        jac = np.array(jac, dtype=float)
        jac.flat[-1] += self.delta
        return y, jac


def test_a_wrong_jacobian_is_a_disagreement():
    # complex-step and central-difference references both catch a 1e-6 error
    for analytic in (True, False):
        prog = Program("straight", 0, 0, ("a = np.sin(x) * x[0]",), "a", np.array([0.3, -0.7]),
                       np.array([-0.7, 0.3]), analytic=analytic)
        assert run_program(prog, dd, ["jac_forward"]).outcomes["jac_forward"].status == "pass"
        bad = run_program(prog, _Shifted(1e-6), ["jac_forward"]).outcomes["jac_forward"]
        assert bad.status == "disagree", bad


def test_a_modified_input_and_a_wrong_value_are_disagreements():
    class Mutating(_Shifted):
        def value_and_jacobian(self, f, x, mode="auto", chunk=None):
            x[0] += 1.0
            return dd.value_and_jacobian(f, x - np.array([1.0, 0.0]), mode=mode, chunk=chunk)

    class WrongValue(_Shifted):
        def value_and_jacobian(self, f, x, mode="auto", chunk=None):
            y, jac = dd.value_and_jacobian(f, x, mode=mode, chunk=chunk)
            return y + 1e-6, jac

    prog = Program("views", 0, 0, (), "x ** 2", np.array([0.3, -0.7]), np.array([1.0, 2.0]))
    out = run_program(prog, Mutating(0.0), ["jac_forward"]).outcomes["jac_forward"]
    assert out.status == "disagree" and "caller's x" in out.detail
    out = run_program(prog, WrongValue(0.0), ["jac_forward"]).outcomes["jac_forward"]
    assert out.status == "disagree" and out.detail.startswith("value")


def test_refusals_crashes_and_kinks_are_told_apart():
    try:
        dd.jacobian(lambda x: float(x[0]) * x, np.ones(2))
    except TypeError as e:
        assert classify(e, dd) == "refused"
    try:
        dd.jacobian(lambda x: x[5], np.ones(2))  # IndexError from the program: a crash
    except IndexError as e:
        assert classify(e, dd) == "crash"
    def plain_write(x):
        a = np.zeros(2)
        a[0] = x  # NumPy's own refusal, raised in the program: refused
        return a
    with pytest.raises(ValueError, match="with a sequence") as e:
        dd.jacobian(plain_write, np.ones(2))
    assert classify(e.value, dd) == "refused"
    with pytest.raises(ValueError, match="with a sequence") as e:  # the same NumPy message
        dd.sparse.Discretes().observe(np.sum, (), {}, [np.ones(2), np.ones(3)])  # in dualdiff
    assert classify(e.value, dd) == "crash"
    kink = Program("select", 0, 0, (), "np.abs(x - 0.30001)", np.array([0.3]), np.array([1.0]))
    with pytest.raises(NoReference):
        References(kink).jac(0)


def test_generation_is_deterministic_and_valid():
    for cls in CLASSES:
        a, b = make_program(cls, 5, seed=3), make_program(cls, 5, seed=3)
        assert a.source() == b.source() and np.array_equal(a.x0, b.x0) and valid(a)


def test_shrink_keeps_the_failure_and_drops_the_rest():
    prog = Program("straight", 0, 0, ("a = np.cos(x)", "b = x * 2.0", "c = np.sin(b)"), "c",
                   np.array([0.3, -0.7]), np.array([-0.7, 0.3]), analytic=True)
    bad = _Shifted(1e-3)
    out = run_program(prog, bad, ["jac_forward"]).outcomes["jac_forward"]
    small = shrink(prog, bad, "jac_forward", out, budget=10.0)
    assert small.stmts == ("b = x * 2.0", "c = np.sin(b)")
    assert run_program(small, bad, ["jac_forward"]).outcomes["jac_forward"].status == "disagree"

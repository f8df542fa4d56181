"""The main job's command line and the benchmark's hygiene (the benchmark itself is run by
hand: `python -m dualdiff bench`; no test times anything)."""

from __future__ import annotations

import ast
import contextlib
import io
from pathlib import Path

import pytest

from dualdiff.__main__ import main

BENCH = Path(__file__).resolve().parents[1] / "dualdiff" / "bench"


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's --help
            code = e.code
    return code, out.getvalue(), err.getvalue()


def test_help_prints_usage_and_does_not_run_the_demo():
    code, out, _ = run(["--help"])
    assert code == 0 and out.startswith("usage: python -m dualdiff")
    assert "Broyden tridiagonal F(x)" not in out


def test_unknown_command_is_an_error_with_usage():
    code, _, err = run(["bnech"])
    assert code == 2 and "unknown command 'bnech'" in err and "usage:" in err


def test_bench_help_is_clean_and_names_the_default_output():
    pytest.importorskip("dualdiff.bench")
    code, out, _ = run(["bench", "--help"])
    assert code == 0
    assert "``" not in out and ":func:" not in out and ":mod:" not in out  # no raw reST
    assert "bench-out" in out and "--quick" in out and "--peers" in out
    for section in ("modes", "overhead", "hessian", "sparse", "prepared", "scale"):
        assert section in out


def _private_uses(path: Path) -> list:
    """Private names of dualdiff the file imports or reads (``_name``, ``x._name``)."""
    tree = ast.parse(path.read_text())
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or "").__class__ is int:
            internal = node.level > 0 or (node.module or "").startswith("dualdiff")
            if internal:
                bad += [f"import {a.name}" for a in node.names
                        if a.name.startswith("_") and a.name != "__version__"]
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__"):
            bad.append(f".{node.attr}")
    return bad


@pytest.mark.parametrize("path", sorted(BENCH.glob("*.py")), ids=lambda p: p.name)
def test_benchmark_reads_no_private_state_of_the_library(path):
    assert _private_uses(path) == []


def test_the_check_finds_private_reads(tmp_path):
    p = tmp_path / "x.py"
    p.write_text("from ..modes import _memory\nimport dualdiff\ndualdiff.modes._memory\n")
    assert _private_uses(p) == ["import _memory", "._memory"]

"""Every notebook in notebooks/ executes without error and is committed executed.

The kernel runs with this checkout first on PYTHONPATH, so notebooks test the
code beside them, not whatever dualdiff happens to be installed.  The notebooks run
one after another in a background thread started when their tests are selected
(tests/conftest.py), each in its own kernel process: on two cores they execute while
the rest of the suite runs, and each test waits for its notebook's result.  Under
pytest-xdist (the README's ``-n 2``) each worker executes its notebooks in the test.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

nbformat = pytest.importorskip("nbformat")
try:
    import nbclient
except ImportError:  # (test_notebook_executes skips)
    nbclient = None

_RUNS: dict = {}


def _execute(path):
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)  # raises CellExecutionError on the first failing cell
    return nb


def start_background() -> None:
    """Start executing every notebook (one kernel at a time) in a background thread."""
    if _RUNS or nbclient is None:
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notebooks")
    for path in NOTEBOOKS:
        _RUNS[path] = pool.submit(_execute, path)
    pool.shutdown(wait=False)


def _ids(paths):
    return [p.name for p in paths]


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_committed_with_outputs(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert code, f"{path.name} has no code cells"
    missing = [i for i, c in enumerate(code) if c.get("execution_count") is None]
    assert not missing, (f"{path.name}: code cells {missing} were never executed; "
                         f"execute the notebook and commit it with its outputs")
    assert any(c.outputs for c in code), f"{path.name} is committed without outputs"
    errors = [o for c in code for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, f"{path.name} is committed with an error output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_executes(path):
    if nbclient is None:
        pytest.skip("nbclient is not installed")
    nb = _RUNS[path].result(timeout=900) if path in _RUNS else _execute(path)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.get("output_type") == "error"]
    assert not errors

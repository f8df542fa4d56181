"""The documentation cannot rot: every dualdiff snippet of docs/coming_from.md runs, and the
API reference builds (pdoc) and documents the public names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "coming_from.md"
#: what the API reference documents: the package (its __all__) and the public modules
API_MODULES = ["dualdiff", "dualdiff.problems", "dualdiff.modes", "dualdiff.coloring",
               "dualdiff.scipy"]


def dualdiff_blocks(text: str) -> list:
    """The ```python blocks whose first line is a ``# dualdiff`` comment."""
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return [b for b in blocks if b.lstrip().startswith("# dualdiff")]


def test_blocks_are_found():
    blocks = dualdiff_blocks(PAGE.read_text())
    assert len(blocks) >= 10
    assert dualdiff_blocks("```python\n# JAX\nx\n```\n```python\n# dualdiff\ny = 1\n```") == [
        "# dualdiff\ny = 1\n"]


def test_every_dualdiff_snippet_of_coming_from_runs():
    namespace: dict = {"__name__": "coming_from"}
    for i, block in enumerate(dualdiff_blocks(PAGE.read_text())):
        try:
            exec(compile(block, f"{PAGE.name}, dualdiff block {i}", "exec"), namespace)
        except Exception as e:  # name the block that broke
            raise AssertionError(f"block {i} of {PAGE.name} failed:\n{block}") from e


def test_api_reference_builds_and_documents_the_public_names(tmp_path):
    pdoc = pytest.importorskip("pdoc")
    import dualdiff

    # the README's command (the benchmark is not part of the API), in this process: the
    # modules it documents are imported already
    pdoc.pdoc(*API_MODULES, output_directory=tmp_path)
    index = (tmp_path / "dualdiff.html").read_text()

    for name in dualdiff.__all__:
        if name != "__version__":
            assert f'id="{name}"' in index, f"{name} missing from the API reference"
    for module in API_MODULES[1:]:
        assert (tmp_path / (module.replace(".", "/") + ".html")).exists(), module
    assert not (tmp_path / "dualdiff" / "bench").exists()


def test_the_readme_gives_the_same_command():
    readme = (ROOT / "README.md").read_text()
    assert "python -m pdoc " + " ".join(API_MODULES) + " -o docs/api" in readme

"""dualdiff's import graph, read from the source (ast), has no cycle and follows the layers.

Layers, lowest first (core_design.md): each module imports only modules of its own layer
or below; an import inside a function body (the usual way to dodge a cycle) is a failure
for every dualdiff module, and for third-party modules everywhere except the optional
peers and plots of the benchmark (jax, torch, autograd, numdifftools, matplotlib), which
are not dependencies of dualdiff.  ``pytest -s tests/test_layers.py`` prints the graph.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dualdiff"

#: layer of every module, lowest first: the order of core_design.md
LAYERS = [
    ("arrays", ["arrays"]),
    ("rules", ["rules", "rules_special", "primitives"]),
    ("core", ["core"]),
    ("carriers", ["dual", "hyperdual", "tape", "tracer"]),
    ("functions", ["shape", "elementwise", "reductions", "statistics", "polynomials",
                   "products", "linalg", "decompositions", "complexes", "fft", "registry",
                   "sparse_operators", "user_rules", "namespace", "scipy", "scipy.linalg",
                   "scipy.special", "scipy.stats", "scipy.integrate", "scipy.signal",
                   "scipy.interpolate", "scipy.sparse", "scipy.sparse.linalg"]),
    ("seeding", ["seeding", "pytrees"]),
    ("strategies", ["reverse", "modes", "hessian", "sparse", "coloring", "sparse_hessian",
                    "plans", "fanout"]),
    ("api", ["api", "", "__main__", "demo", "problems", "bench", "bench.timing",
             "bench.report", "bench.peers", "bench.modes", "bench.overhead", "bench.hessian",
             "bench.sparse", "bench.prepared", "bench.scale"]),
]
LEVEL = {("dualdiff." + m).rstrip("."): i for i, (_, mods) in enumerate(LAYERS) for m in mods}
#: imported lazily on purpose: optional benchmark peers and plotting (not dependencies)
OPTIONAL = {"jax", "torch", "autograd", "numdifftools", "matplotlib", "casadi", "dask",
            "threadpoolctl"}
#: the benchmark is not in built wheels: `python -m dualdiff bench` imports it when asked
OPTIONAL_SUBPACKAGE = {("dualdiff.__main__", "dualdiff.bench")}


def _name(path: Path) -> str:
    parts = ["dualdiff"] + list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The modules an import statement of ``module`` loads (dualdiff's and others')."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    is_pkg = MODULES[module].name == "__init__.py"
    base = module.split(".")
    if node.level:
        base = base[:len(base) - node.level + (1 if is_pkg else 0)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module
    out = []
    for a in node.names:  # `from . import rules`: a submodule; `from .core import x`: core
        sub = f"{target}.{a.name}"
        out.append(sub if sub in MODULES else target)
    return out


def _imports(module: str):
    """(module-level imports, [(import, function name)] inside function bodies)."""
    tree = ast.parse(MODULES[module].read_text(), filename=str(MODULES[module]))
    top, inner = set(), []

    def visit(node, func):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                if getattr(child, "module", None) == "__future__":
                    continue
                for target in _resolve(module, child):
                    (inner.append((target, func)) if func else top.add(target))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, func or getattr(child, "name", "<lambda>"))
            else:
                visit(child, func)

    visit(tree, None)
    if module == "dualdiff.bench":  # sections load by importlib.import_module(f".{name}")
        top |= {f"dualdiff.bench.{s}" for s in ("modes", "overhead", "hessian", "sparse")}
    return top, inner


GRAPH = {m: _imports(m) for m in MODULES}


def _own(targets):
    return sorted(t for t in targets if t == "dualdiff" or t.startswith("dualdiff."))


def test_every_module_has_a_layer():
    assert set(MODULES) == set(LEVEL), (sorted(set(MODULES) ^ set(LEVEL)))


def _cycles(edges: dict) -> list:
    """Every cycle a depth-first walk of ``edges`` (module -> imported modules) meets."""
    state: dict = {}
    cycles = []

    def dfs(m, stack):
        state[m] = "open"
        for t in edges.get(m, ()):
            if state.get(t) == "open":
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                dfs(t, stack + [t])
        state[m] = "done"

    for m in sorted(edges):
        if m not in state:
            dfs(m, [m])
    return cycles


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": ["b", "c"], "b": ["c"], "c": []}) == []


def test_no_import_cycle():
    cycles = _cycles({m: _own(GRAPH[m][0]) for m in MODULES})
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_import_inside_a_function_body():
    bad = []
    for m in MODULES:
        for target, func in GRAPH[m][1]:
            optional = (m.startswith("dualdiff.bench") and target.split(".")[0] in OPTIONAL) \
                or (m, target) in OPTIONAL_SUBPACKAGE
            if not optional:
                bad.append(f"{m}.{func} imports {target}")
    assert not bad, "imports inside function bodies: " + "; ".join(bad)


def test_layers_import_only_downwards():
    bad = [f"{m} ({LAYERS[LEVEL[m]][0]}) imports {t} ({LAYERS[LEVEL[t]][0]})"
           for m in MODULES for t in _own(GRAPH[m][0]) if LEVEL[t] > LEVEL[m]]
    assert not bad, "; ".join(bad)


def test_layer_order_and_graph():
    """The layers of core_design.md in order; the graph is printed (``pytest -s``)."""
    names = [name for name, _ in LAYERS]
    assert names == ["arrays", "rules", "core", "carriers", "functions", "seeding",
                     "strategies", "api"]
    for i, name in enumerate(names):
        mods = sorted(m for m in MODULES if LEVEL[m] == i)
        assert mods, f"layer {name} holds no module"
        for m in mods:
            print(f"[{name}] {m} -> {', '.join(_own(GRAPH[m][0])) or '-'}")

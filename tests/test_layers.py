"""The package's layers (docs/ARCHITECTURE.md): every module has one, and imports flow downward only, deferred
imports inside functions included, so that no two modules import each other, directly or round a circle.

Read from the source with ``ast``, not by importing: an import inside a function counts as much as one at the
top, since the day it runs the circle is there.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import spikevision

PACKAGE = Path(spikevision.__file__).parent

# Each layer, lowest first, with the modules it holds (a name ending in ".*": a package and everything in it)
# and the layers it may import besides its own. The edge (the command line, the play server, the pictures,
# the report, interchange with other libraries) may import anything; nothing imports the edge.
LAYERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "base": (("errors", "validators", "catalog"), ()),
    "kernels": (("kernels.*",), ("base",)),
    "neurons": (("neurons.*",), ("base", "kernels")),
    "data": (("data.*",), ("base",)),
    "model": (("model", "metrics"), ("base", "kernels", "neurons")),
    "runs": (("runs.*",), ("base", "kernels", "neurons", "data", "model")),
    "analysis": (("analysis.*",), ("base", "kernels", "neurons", "data", "model", "runs")),
    "edge": (("", "__main__", "report", "cli.*", "play.*", "interop.*", "pictures.*"),
             ("base", "kernels", "neurons", "data", "model", "runs", "analysis")),
}


def modules() -> dict[str, Path]:
    """Every module of the package by its dotted name below ``spikevision`` ("" is the package itself)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def layer_of(name: str) -> str | None:
    for layer, (members, _) in LAYERS.items():
        for member in members:
            if name == member.removesuffix(".*") or (member.endswith(".*") and name.startswith(member[:-1])):
                return layer
    return None


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its source (functions' bodies included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {_known(alias.name, known) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package upward
                base = ["spikevision", *filter(None, package.split("."))]
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # "from package import module" is an import of that module; any other name, of the module it is in.
            found |= {_known(f"{module}.{alias.name}", known) or _known(module, known) for alias in node.names}
    return found - {name, None}


def _known(target: str, known: dict[str, Path]) -> str | None:
    """The package's module that the dotted name ``target`` is or lies in (None: not this package's)."""
    if target != "spikevision" and not target.startswith("spikevision."):
        return None
    inner = target.removeprefix("spikevision").removeprefix(".")
    while inner not in known:  # a name defined in a module: the module
        inner = inner.rpartition(".")[0]
    return inner


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iteratively)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_every_module_has_a_layer():
    assert [name for name in modules() if layer_of(name) is None] == []


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for name, targets in graph().items():
        layer = layer_of(name)
        allowed = {layer, *LAYERS[layer][1]}
        upward += [f"{name} ({layer}) imports {target} ({layer_of(target)})" for target in sorted(targets)
                   if layer_of(target) not in allowed]
    assert upward == []


def test_the_package_root_holds_few_modules_the_rest_live_in_their_layers_packages():
    root = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert root == ["__init__.py", "__main__.py", "catalog.py", "errors.py", "metrics.py", "model.py", "report.py",
                    "validators.py"]


# The compiled loops (numba and Triton kernels) run a whole recurrence in one function body, by design.
COMPILED_LOOPS = tuple(f"kernels/{engine}/{family}.py" for engine in ("numba", "triton")
                       for family in ("lif", "cuba", "alif", "lif_linear"))
MAX_FUNCTION_LINES = 60


def test_no_function_is_longer_than_60_lines_outside_the_compiled_loops():
    long = []
    for name, path in modules().items():
        if str(path.relative_to(PACKAGE)) in COMPILED_LOOPS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {lines} lines")
    assert long == []


def test_there_is_no_import_circle():
    assert circles(graph()) == []


def test_the_checks_see_a_circle_and_an_upward_import_where_there_is_one():
    # The same functions on a made-up graph, so that the tests above could fail.
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    assert layer_of("kernels.numba.warm") == "kernels" and layer_of("pictures.figures") == "edge"
    assert layer_of("neurons") == "neurons" and layer_of("runs.train") == "runs" and layer_of("") == "edge"
    assert "kernels" not in LAYERS["neurons"][1] or "neurons" not in LAYERS["kernels"][1]


@pytest.mark.parametrize("source, expected", [
    ("from spikevision.kernels.numba import runtime\n", {"kernels.numba.runtime"}),
    ("def f():\n    from spikevision import model\n", {"model"}),       # deferred: counted
    ("import spikevision.neurons.lif as n\n", {"neurons.lif"}),
    ("from spikevision.neurons.lif import LIF, lif_sequence\n", {"neurons.lif"}),  # names in a module: the module
    ("from spikevision.neurons import lif, surrogate\n", {"neurons.lif", "neurons.surrogate"}),
    ("from . import warm\n", {"kernels.numba.warm"}),                    # relative, from kernels/numba/cache.py
    ("import torch\n", set()),
])
def test_imports_are_read_from_the_source_deferred_and_relative_ones_too(tmp_path, source, expected):
    path = tmp_path / "cache.py"
    path.write_text(source)
    assert imports("kernels.numba.cache", path, modules()) == expected

"""The import graph of the package: no cycles, and every layer imports only what is below it.

Read statically from the source (``ast``), so deferred imports inside functions count as much as
module-level ones; imports under ``if TYPE_CHECKING:`` do not (they never run). An import of
``geodispatch.x.y`` is an edge to that module only: Python also runs the parents' ``__init__``,
but that is not a dependency the module chose.

The layers (DESIGN.md "Data flow"), from the bottom:

* base: ``settings``, ``errors``, ``geometry``, ``output``, ``locale`` helpers, and ``domain``
  (the vocabulary: unit and station types, statuses; it imports nothing at run time);
* ``regions`` and ``inputs`` (user configuration and files);
* ``network`` (roads and searches): it imports nothing above the base;
* ``demand`` (per-person travel times, shared by coverage and siting), ``synthetic`` (the
  generated regency), then ``scenario``;
* the stages ``coverage``, ``assign``, ``siting``, ``sim``: none imports a sibling;
* the top: ``cli``, ``api``, ``batch``, ``demo``, ``webmap`` and ``__main__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "geodispatch"
STAGES = ("coverage", "assign", "siting", "sim")
NETWORK_MAY_IMPORT = (
    "geodispatch.errors", "geodispatch.settings", "geodispatch.geometry", "geodispatch.output", "geodispatch.domain"
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool, modules: set[str]) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("geodispatch"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.startswith("geodispatch"):
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    found.add(sub if sub in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> nx.DiGraph:
    paths = [p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts]
    modules = {_module_name(p) for p in paths}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for path in paths:
        name = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target in _imports(tree, name, path.name == "__init__.py", modules):
            if target != name:
                graph.add_edge(name, target)
    return graph


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "geodispatch"


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    return _graph()


def test_graph_sees_deferred_imports(graph: nx.DiGraph) -> None:
    # scenario imports the synthetic generator inside a function: the graph must see it
    assert graph.has_edge("geodispatch.scenario", "geodispatch.synthetic")
    assert graph.number_of_nodes() > 50


def test_no_import_cycles(graph: nx.DiGraph) -> None:
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert not cycles, f"import cycles (deferred imports included): {cycles}"


def test_network_imports_nothing_above_it(graph: nx.DiGraph) -> None:
    bad = sorted(
        (src, dst)
        for src, dst in graph.edges
        if src.startswith("geodispatch.network")
        and not dst.startswith("geodispatch.network")
        and dst not in NETWORK_MAY_IMPORT
    )
    assert not bad, f"network/ imports from above it: {bad}"


def test_base_modules_import_only_the_base(graph: nx.DiGraph) -> None:
    base = {"geodispatch.settings", "geodispatch.errors", "geodispatch.geometry"}
    bad = sorted((s, d) for s, d in graph.edges if s in base and d not in base)
    assert not bad, f"base modules import from above them: {bad}"


def test_stages_do_not_import_each_other(graph: nx.DiGraph) -> None:
    bad = sorted(
        (src, dst)
        for src, dst in graph.edges
        if _layer(src) in STAGES and _layer(dst) in STAGES and _layer(src) != _layer(dst)
        # sim runs the assignment engine: the one sanctioned stage-on-stage dependency
        and not (_layer(src) == "sim" and _layer(dst) == "assign")
    )
    assert not bad, f"a stage imports a sibling stage (move the shared part down): {bad}"


def test_nothing_below_the_top_imports_the_top(graph: nx.DiGraph) -> None:
    top = {"cli", "cli_tables", "api", "batch", "demo", "__main__"}
    bad = sorted((s, d) for s, d in graph.edges if _layer(d) in top and _layer(s) not in top)
    assert not bad, f"lower layers import the CLI/API/batch: {bad}"


def test_synthetic_and_scenario_stay_below_the_stages(graph: nx.DiGraph) -> None:
    low = {"synthetic", "scenario", "regions", "inputs", "demand", "mapdraw"}
    bad = sorted((s, d) for s, d in graph.edges if _layer(s) in low and _layer(d) in STAGES)
    assert not bad, f"synthetic/scenario/regions/inputs/demand import a stage: {bad}"

"""The package structure the README promises, checked on the source (issue 11).

* dependencies point one way: cli → experiments/assessment → kernel → agents → libraries;
  reporting is used by the CLI only; libraries (``flexibility``, ``grid``, ``traffic``) import
  nothing of ours above them and never ``scenarios``;
* no import cycle between modules (TYPE_CHECKING and function-level imports included);
* no module above the size limit.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("agents", "environment", "flexibility", "grid", "traffic", "scenarios", "dispatch")
LIBRARIES = ("flexibility", "grid", "traffic", "dispatch")
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
            found.update(n if n in MODULES else node.module for n in names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.split(".")[0] in PACKAGES}


GRAPH = nx.DiGraph()
for _name, _path in MODULES.items():
    GRAPH.add_node(_name)
    for _target in _imports(_path):
        GRAPH.add_edge(_name, _target)


def layer(module: str) -> str:
    """The architectural layer of a module."""
    top, *rest = module.split(".")
    if top in LIBRARIES:
        return "library"
    if top == "environment":
        sub = rest[0] if rest else ""
        return sub if sub in ("assessment", "experiments", "reporting", "cli") else "kernel"
    return top  # agents, scenarios


ALLOWED = {
    "library": {"library"},
    "scenarios": {"library", "scenarios"},
    "agents": {"library", "agents"},
    "kernel": {"library", "scenarios", "agents", "kernel"},
    "assessment": {"library", "scenarios", "kernel", "assessment"},
    "experiments": {"library", "scenarios", "kernel", "experiments"},
    "reporting": {"library", "scenarios", "kernel", "assessment", "experiments", "reporting"},
    "cli": {"library", "scenarios", "kernel", "assessment", "experiments", "reporting", "cli"},
}


def _edges_against_rules() -> list[str]:
    bad = []
    for a, b in GRAPH.edges:
        if b == "environment" or a == b:  # the package docstring module
            continue
        if layer(b) not in ALLOWED[layer(a)]:
            bad.append(f"{a} ({layer(a)}) -> {b} ({layer(b)})")
    return sorted(bad)


def test_dependencies_point_one_way():
    assert _edges_against_rules() == []


def test_no_import_cycles():
    cycles = sorted(nx.simple_cycles(GRAPH), key=len)
    cycles = [c for c in cycles if len(c) > 1]
    assert cycles == [], f"{len(cycles)} cycles, e.g. {' -> '.join(cycles[0])}" if cycles else ""


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name):
    n = len(MODULES[name].read_text().splitlines())
    assert n <= MAX_LINES, f"{name}: {n} lines > {MAX_LINES}; split it by responsibility"


def test_the_rules_catch_a_violation():
    """The checker itself: an upward import and a cycle are found when present."""
    g = GRAPH.copy()
    g.add_edge("grid.layers", "environment.assessment.grid")
    g.add_edge("environment.assessment.grid", "grid.layers")
    ups = [(a, b) for a, b in g.edges if layer(b) not in ALLOWED[layer(a)]]
    assert ("grid.layers", "environment.assessment.grid") in ups
    assert any(len(c) > 1 for c in nx.simple_cycles(g))

"""The exporter's import graph: no upward arrow between its layers, no cycle between its modules.

Why a check of its own: the data flows one way (config -> transport -> sources -> device model and
tables -> metric set -> exposition), and the code should read the same way. A module that imports
from a layer above it (the config importing a source, a source importing the scrape) or two modules
that import each other make the parts impossible to read, test or replace alone.

``python -m tests.import_graph`` prints the violations and exits 1 when there is one;
``tests/test_import_graph.py`` runs the same check in the suite. Imports under ``TYPE_CHECKING``
count too: a type is a dependency of the reader.
"""

from __future__ import annotations

import ast
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "exporter"

# Lowest first. A module may import its own layer and the layers below it, never one above.
# The simulator is a tool beside the exporter (tests, demo, benchmarks): it may read only the wire
# schema, never the exporter's own reading of it. The command line sits on top of everything.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("exporter", "exporter.clock", "exporter.coerce", "exporter.proto", "exporter.logsetup", "exporter.units"),
    ("exporter.config",),
    ("exporter.metrics",),
    ("exporter.devices",),
    ("exporter.gateway",),
    ("exporter.site",),
    ("exporter.sources",),
    ("exporter.accounting",),
    ("exporter.scrape",),
    ("exporter.reload", "exporter.shard"),
    ("exporter.web",),
    ("exporter.simulator",),
    ("exporter.assets", "exporter.cli", "exporter.__main__"),
)
# Packages whose modules may only import from these (besides their own package).
ISOLATED = {"exporter.simulator": ("exporter", "exporter.proto")}
# Packages whose subpackages stand alone: none imports another, only the shared modules listed (a
# source that must yield to another does so through the declared precedence, not an import).
SIBLINGS = {"exporter.sources": ("exporter.sources.base", "exporter.sources.peranswer")}
# The one module that sees every sibling: the registry that lists them.
REGISTRIES = frozenset({"exporter.sources.registry"})


def layer_of(module: str) -> int:
    """The index of the most specific layer entry that ``module`` is (or is inside)."""
    best, length = -1, -1
    for i, entries in enumerate(LAYERS):
        for entry in entries:
            if (module == entry or module.startswith(entry + ".")) and len(entry) > length:
                best, length = i, len(entry)
    if best < 0:
        raise KeyError(f"{module} is in no layer of tests/import_graph.py: add its package to LAYERS")
    return best


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py")) if not p.name.endswith("_pb2.py")}


def edges(known: dict[str, Path]) -> Iterator[Edge]:
    """Every import of an exporter module by an exporter module (resolved to a module we have)."""
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # "from pkg import mod" imports the module pkg.mod when there is one.
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
            for target in targets:
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target.startswith(PACKAGE) and target != name:
                    yield Edge(name, target, getattr(node, "lineno", 0))


def upward(all_edges: list[Edge]) -> list[Edge]:
    out = []
    for e in all_edges:
        if layer_of(e.target) > layer_of(e.source):
            out.append(e)
            continue
        for package, allowed in ISOLATED.items():
            outside = _within(e.source, package) and not _within(e.target, package)
            if outside and not any(e.target == a if a == PACKAGE else _within(e.target, a) for a in allowed):
                out.append(e)
    return out


def crossings(all_edges: list[Edge]) -> list[Edge]:
    """Imports between sibling subpackages that must stand alone (:data:`SIBLINGS`)."""
    out = []
    for e in all_edges:
        for package, shared in SIBLINGS.items():
            if e.source in REGISTRIES or not (_within(e.source, package) and _within(e.target, package)):
                continue
            depth = package.count(".") + 2
            mine, theirs = e.source.split(".")[:depth], e.target.split(".")[:depth]
            if len(mine) == depth and mine != theirs and not any(_within(e.target, s) for s in shared):
                out.append(e)
    return out


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def cycles(all_edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    graph: dict[str, set[str]] = {}
    for e in all_edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def problems() -> list[str]:
    known = modules()
    all_edges = sorted(set(edges(known)), key=lambda e: (e.source, e.line, e.target))
    out = [f"upward import: {e.source} (line {e.line}) imports {e.target}" for e in upward(all_edges)]
    out += [f"cross-source import: {e.source} (line {e.line}) imports {e.target}" for e in crossings(all_edges)]
    out += [f"import cycle: {' <-> '.join(c)}" for c in cycles(all_edges)]
    return out


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    found = problems()
    for p in found:
        log.error("%s", p)
    if not found:
        log.info("import graph: no upward import, no cycle (%d modules)", len(modules()))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

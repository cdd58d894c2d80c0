"""Every curated metric name is written out in full where it is defined.

Why: a name seen in a dashboard, an alert or a user's question is looked up with ``grep``; a name
assembled from a prefix and a suffix (``f"powerwall_meter_{name}"``) cannot be found that way, and
about 40 once were. Generic names (fields no table names) stay generated at run time by design:
they are made with :func:`exporter.metrics.metricset.generic`, which this test does not look at.
"""

from __future__ import annotations

import ast

from tests.support.paths import REPO

EXPORTER = REPO / "exporter"
METRICSET = "exporter.metrics.metricset"
DEFINERS = frozenset({"gauge", "counter", "info"})


def _definers(tree: ast.Module) -> set[str]:
    """Local names of :mod:`exporter.metrics.metricset`'s curated constructors, aliases included."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == METRICSET:
            names.update(a.asname or a.name for a in node.names if a.name in DEFINERS)
    for node in tree.body:  # module-level aliases such as ``_g = gauge``
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in names:
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _assembled_names(source: str, shown: str) -> list[str]:
    """Each call of a curated constructor in ``source`` whose name is not one string literal."""
    tree = ast.parse(source, shown)
    definers = _definers(tree)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in definers):
            continue
        first = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "name"), None)
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            found.append(f"{shown}:{node.lineno}: {ast.unparse(node)[:100]}")
    return found


def test_every_curated_metric_name_is_a_literal() -> None:
    modules = sorted(EXPORTER.rglob("*.py"))
    assert len(modules) > 50, "the exporter package was not found"
    assembled = [
        line for path in modules for line in _assembled_names(path.read_text(), str(path.relative_to(EXPORTER.parent)))
    ]
    assert not assembled, "metric names assembled from fragments (write them out):\n" + "\n".join(assembled)


def test_the_check_sees_an_assembled_name() -> None:
    source = (
        "from exporter.metrics.metricset import gauge as g\n"
        "_m = g\n"
        'A = g("powerwall_ok", "h")\n'
        'B = _m(f"powerwall_{1}", "h")\n'
        'C = g("powerwall_" + "x", "h")\n'
        'D = g(name=PREFIX, help="h")\n'
    )
    found = _assembled_names(source, "example.py")
    assert [line.split(":")[1] for line in found] == ["4", "5", "6"]

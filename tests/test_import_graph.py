"""The exporter's import graph has no upward arrow, no source importing another, and no cycle.

See tests/import_graph.py for the layers and why; ``python -m tests.import_graph`` prints the same.
"""

from __future__ import annotations

from tests import import_graph


def test_no_upward_import_no_cross_source_import_no_cycle() -> None:
    assert import_graph.problems() == []


def test_every_module_is_in_a_layer() -> None:
    for name in import_graph.modules():
        import_graph.layer_of(name)  # raises for a module no layer names


def test_the_checker_sees_a_violation() -> None:
    """The check itself can fail: an edge against the layers, between sources, and a cycle."""
    edges = [
        import_graph.Edge("exporter.config.gateway", "exporter.sources.tedapi.queries", 1),
        import_graph.Edge("exporter.sources.tedapi.site", "exporter.sources.json_api.endpoints", 2),
        import_graph.Edge("exporter.simulator.server", "exporter.sources.tedapi.envelope", 3),
    ]
    assert [e.line for e in import_graph.upward(edges)] == [1, 3]
    assert [e.line for e in import_graph.crossings(edges)] == [2]
    cycle = [import_graph.Edge("exporter.a", "exporter.b", 1), import_graph.Edge("exporter.b", "exporter.a", 2)]
    assert import_graph.cycles(cycle) == [["exporter.a", "exporter.b"]]

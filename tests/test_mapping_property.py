"""Whatever JSON an endpoint returns, mapping never raises and the exposition stays valid."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from exporter.exposition import render_text
from exporter.mapping import JSON_MAPPERS
from exporter.metricset import MetricSet
from exporter.vitals.flatten import flatten_solar_powerwall
from tests.conftest import require_fixtures

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30,
)


def check(ms: MetricSet) -> None:
    text = render_text(ms, include_default=False).decode()
    list(text_string_to_metric_families(text))  # parses


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=json_values)
def test_random_json_never_breaks_any_mapper(data: Any) -> None:
    ms = MetricSet(base_labels={"gateway": "g"})
    for mapper in JSON_MAPPERS.values():
        mapper(data, ms)
    flatten_solar_powerwall(data, ms)
    check(ms)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replacement=json_values, which=st.integers(min_value=0), path_pick=st.integers(min_value=0))
def test_mutated_captures_never_break_a_mapper(replacement: Any, which: int, path_pick: int) -> None:
    base = require_fixtures() / "fw-21.39.1"
    paths = sorted(JSON_MAPPERS)
    path = paths[path_pick % len(paths)]
    doc = json.loads((base / (path.lstrip("/") + ".json")).read_text())
    # Replace one value somewhere in the document (depth-first order) with arbitrary JSON.
    slots: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in list(items):
            slots.append((node, key))
            walk(child)

    walk(doc)
    if slots:
        parent, key = slots[which % len(slots)]
        parent[key] = replacement
    ms = MetricSet(base_labels={"gateway": "g"})
    JSON_MAPPERS[path](doc, ms)
    check(ms)

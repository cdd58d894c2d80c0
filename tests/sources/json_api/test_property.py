"""Whatever JSON an endpoint returns, mapping never raises and the exposition stays valid."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from exporter.devices.flatten import flatten_devices
from exporter.metrics.metricset import MetricSet
from exporter.site.mappers import JSON_MAPPERS
from exporter.sources.solar_powerwall.decode import decode_solar_powerwall
from exporter.web.exposition import render_openmetrics, render_text
from tests.support.prereqs import require_fixtures

SOLAR_POWERWALL = "/api/solar_powerwall"  # the endpoint label of the generic-name budget

# JSON integers have no size limit: cover small ones, ones near float's range and ones far beyond it
# (10**1000 keeps hypothesis' repr below Python's int-to-str digit limit).
integers = st.one_of(
    st.integers(),
    st.integers(min_value=2**1000, max_value=10**1000),
    st.integers(min_value=-(10**1000), max_value=-(2**1000)),
    st.integers(min_value=10**306, max_value=10**309),
)
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=1e300),  # scaled by 3600 (Wh → J) these overflow
    st.sampled_from([float("inf"), float("-inf"), float("nan"), 1.7976931348623157e308]),
)
scalars = st.one_of(st.none(), st.booleans(), integers, floats, st.text(max_size=20))
# Keys that become generic names colliding with curated families or reserved suffixes if unchecked.
keys = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "energy_imported_joules",
            "energy_exported_joules_created",
            "power_watts",
            "charge_ratio",
            "block_power_watts",
            "x_total",
            "x_info",
            "x_count",
            "x_bucket",
            "site",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=6),
    max_leaves=30,
)


def check(ms: MetricSet) -> None:
    """Both formats parse and no sample is Inf or NaN."""
    for _, samples in ms.defs():
        for value in samples.values():
            assert math.isfinite(value), value
    text = render_text(ms, include_default=False).decode()
    list(text_string_to_metric_families(text))  # parses
    om = render_openmetrics(ms, include_default=False).decode()
    list(parse_openmetrics(om))  # type: ignore[no-untyped-call]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=json_values)
def test_random_json_never_breaks_any_mapper(data: Any) -> None:
    ms = MetricSet(base_labels={"gateway": "g"})
    for mapper in JSON_MAPPERS.values():
        mapper(data, ms)
    flatten_devices(decode_solar_powerwall(data), ms, SOLAR_POWERWALL, anonymous=True)
    check(ms)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replacement=json_values, which=st.integers(min_value=0), path_pick=st.integers(min_value=0))
@example(replacement=-1, which=13555412872452043, path_pick=0)  # a lifetime energy of -1 Wh: no counter
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

"""Label values are cleaned the same way whichever entry point adds the sample."""

from __future__ import annotations

import pytest

from exporter.devices.rules import Rule
from exporter.metrics.metricset import MAX_LABEL_LENGTH, MetricSet, gauge

METRIC = gauge("powerwall_label_clean_test", "h")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("plain", "plain"),
        ("x" * (MAX_LABEL_LENGTH + 5), "x" * MAX_LABEL_LENGTH),
        ("\ud800lone", "?lone"),  # a lone surrogate JSON can carry: replaced, the rest kept
        ("é" * 200, "é" * 200),  # non-ASCII but within the bound: kept as it is
        ("é" * 300, "é" * MAX_LABEL_LENGTH),
    ],
)
def test_add_and_add_pairs_clean_alike(value: str, expected: str) -> None:
    by_dict = MetricSet(base_labels={"gateway": "g"})
    by_dict.add(METRIC, 1, {"a": "short", "b": value})
    by_pairs = MetricSet(base_labels={"gateway": "g"})
    by_pairs.add_pairs(METRIC, 1, (("a", "short"), ("b", value)))
    key = (("gateway", "g"), ("a", "short"), ("b", expected))
    assert by_dict.samples(METRIC.name) == by_pairs.samples(METRIC.name) == {key: 1.0}


def test_values_short_alone_but_long_together_are_kept() -> None:
    """The joined fast check fails for two values of 200 characters; each is within the bound."""
    ms = MetricSet()
    ms.add_pairs(METRIC, 1, (("a", "a" * 200), ("b", "b" * 200)))
    assert ms.samples(METRIC.name) == {(("a", "a" * 200), ("b", "b" * 200)): 1.0}


def test_a_rule_label_repeating_a_device_label_is_refused() -> None:
    with pytest.raises(ValueError, match="repeat"):
        Rule("X", gauge("powerwall_rule_dup_test", "h"), labels=(("serial", "1"),))

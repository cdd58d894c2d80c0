"""Render a :class:`MetricSet` through ``prometheus_client``, as a test oracle independent of our encoder.

Why not :mod:`exporter.web.exposition`: the device tests check that what the flattener writes is
valid for the reference client library too, not only for the encoder production serves.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

from exporter.metrics.metricset import MetricSet


class MetricSetCollector:
    """Minimal collector exposing one MetricSet, as the real collector does."""

    def __init__(self, metricset: MetricSet) -> None:
        self._ms = metricset

    def collect(self) -> Iterator[Metric]:
        return self._ms.families()

    def describe(self) -> Iterable[Metric]:
        return ()


def render(metricset: MetricSet) -> str:
    """Prometheus text exposition (format 0.0.4) of ``metricset``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MetricSetCollector(metricset))
    return generate_latest(registry).decode("utf-8")

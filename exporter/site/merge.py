"""The site-level merge of one gateway: per shape, the answer of the source that ranks first, mapped once.

Why one step after all answers: the JSON API serves a shape where the gateway has it and TEDAPI
rebuilds it where a Powerwall 3 answers 404; which one speaks is the declared precedence
(:data:`exporter.sources.registry.SITE_PRECEDENCE`), not the order sources happen to run in. The
chosen answers are what the accounting reads too, so every reader sees the same site.

A source that maps its own answers as it decodes them (the JSON API: a mapping failure then costs
that one request, counted like any failed request) offers them as mapped; the others' chosen answers
are mapped here, cached per answer object (an answer reused from the transport's cache is the same
object). ``powerwall_info`` names the gateway from the chosen status and the last good site info
(the name of a site does not vanish with one failed read).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from exporter.metrics.metricset import MetricSet
from exporter.site.mappers import JSON_MAPPERS, gateway_info_labels
from exporter.site.shapes import Shape
from exporter.site.tables import GATEWAY_INFO

# (source name, the shapes it offers, whether the source already mapped them)
Offers = Iterable[tuple[str, Mapping[Shape, Any], bool]]


class SiteMerge:
    """One gateway's site merge (thread-safe: concurrent scrapes share it)."""

    def __init__(self, precedence: Sequence[str]) -> None:
        self._rank = {name: i for i, name in enumerate(precedence)}
        self._lock = threading.Lock()
        self._mapped: dict[Shape, tuple[Any, MetricSet]] = {}  # the last answer mapped per shape
        self._site_info: Any = None  # the last good site info, for powerwall_info's labels

    def merge(self, offers: Offers, ms: MetricSet) -> dict[Shape, Any]:
        """Add the chosen answers' series (and ``powerwall_info``) to ``ms``; return the chosen answers."""
        chosen: dict[Shape, tuple[int, Any, bool]] = {}
        for source, shapes, mapped in offers:
            rank = self._rank.get(source, len(self._rank))
            for shape, obj in shapes.items():
                if shape not in chosen or rank < chosen[shape][0]:
                    chosen[shape] = (rank, obj, mapped)
        answers = {shape: obj for shape, (_, obj, _) in chosen.items()}
        for shape in sorted(answers):
            if not chosen[shape][2]:
                ms.merge(self._map(shape, answers[shape], ms.base_labels))
        with self._lock:
            if Shape.SITE_INFO in answers:
                self._site_info = answers[Shape.SITE_INFO]
            site_info = self._site_info
        labels = gateway_info_labels(answers.get(Shape.STATUS), site_info)
        if labels is not None:
            ms.add(GATEWAY_INFO, 1, labels)
        return answers

    def _map(self, shape: Shape, obj: Any, base_labels: Mapping[str, str]) -> MetricSet:
        with self._lock:
            cached = self._mapped.get(shape)
        if cached is not None and cached[0] is obj:
            return cached[1]
        part = MetricSet(base_labels=dict(base_labels))
        JSON_MAPPERS[shape.value](obj, part)
        with self._lock:
            self._mapped[shape] = (obj, part)
        return part

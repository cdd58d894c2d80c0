"""The JSON mapping machinery: a :class:`Table` of :class:`Field` rows, and the generic rule.

Each endpoint has a table of rows (JSON key → metric, conversion). Numeric and boolean keys a table
does not name are still exported under ``<generic prefix><generic_stem(key)>`` so a firmware that adds
fields loses nothing; unknown *strings* are not (they are identifiers, timestamps or free text, which
as labels would churn series). Generic names are bounded per endpoint and scrape and kept clear of
curated names as :mod:`exporter.metrics.naming` describes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from exporter.coerce import number
from exporter.metrics.metricset import Kind, MetricDef, MetricSet, generic
from exporter.metrics.naming import GenericBudget, generic_gauge_name, generic_stem, with_unit
from exporter.site.convert import Convert, boolean
from exporter.site.labels import LabelFields


def generic_name(prefix: str, key: str, is_bool: bool = False) -> str:
    """The name an unmapped field is exported under (rule in :mod:`exporter.metrics.naming`).

    A number whose key names its unit gets the unit suffix; a bool is 0/1 and has none.
    """
    snake = generic_stem(key) or "unnamed"
    return generic_gauge_name(prefix + (snake if is_bool else with_unit(key, snake)[0]))


@functools.lru_cache(maxsize=4096)
def _generic_metric(prefix: str, key: str, is_bool: bool) -> MetricDef:
    """The family of an unmapped field; cached, because a site sends the same keys every scrape.

    Only called for keys of at most ``MAX_GENERIC_NAME_LENGTH`` characters, so the bounded cache
    holds at most a few MB however hostile the payloads. The help says only what is known.
    """
    unit = None if is_bool else with_unit(key, generic_stem(key))[1]
    if is_bool:
        help = f"Gateway field {key!r}, a bool as 0/1."
    elif unit:
        help = f"Gateway field {key!r}, in {unit} as its name says."
    else:
        help = f"Gateway field {key!r}, as reported (unit not known to the exporter)."
    return generic(generic_name(prefix, key, is_bool), Kind.GAUGE, help)


@dataclass(frozen=True, slots=True)
class Field:
    """One JSON key → one metric. ``labels`` are constant extra labels (e.g. a phase)."""

    key: str
    metric: MetricDef
    convert: Convert = number
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Table:
    fields: tuple[Field, ...]
    # Keys handled elsewhere or deliberately not exported.
    ignore: frozenset[str] = frozenset()
    # Prefix for numeric/bool keys not in the table; None disables the generic export.
    generic_prefix: str | None = None
    # The keys the fields name and the ignored ones: what the generic export skips (made once).
    named: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "named", frozenset(f.key for f in self.fields) | self.ignore)

    def apply(
        self,
        obj: Mapping[str, Any],
        ms: MetricSet,
        labels: Mapping[str, str] | None = None,
        budget: GenericBudget | None = None,
    ) -> None:
        """Add ``obj``'s samples; generic ones within ``budget`` (one per endpoint and scrape).

        Without a budget the bounds still hold for this call, but drops are not reported.
        """
        base = dict(labels or {})
        pairs = tuple(base.items())
        for f in self.fields:
            value = f.convert(obj.get(f.key))
            if value is None:
                continue
            if f.labels:
                ms.add(f.metric, value, {**base, **dict(f.labels)})
            else:
                ms.add_pairs(f.metric, value, pairs)
        prefix = self.generic_prefix
        if prefix is None:
            return
        if budget is None:
            budget = GenericBudget("")
        named = self.named
        for key, raw in obj.items():
            if key in named:
                continue
            is_bool = isinstance(raw, bool)
            value = boolean(raw) if is_bool else number(raw)
            if value is None or not budget.field_fits(key):
                continue
            metric = _generic_metric(prefix, key, is_bool)
            if budget.admit(metric, key):
                ms.add_pairs(metric, value, pairs)


Mapper = Callable[[Any, MetricSet], None]
EndpointMapper = Callable[[Any, MetricSet, GenericBudget, LabelFields], None]


def endpoint_mapper(path: str) -> Callable[[EndpointMapper], Mapper]:
    """Give the mapper of ``path``, per call (= per answer and scrape), one generic budget and one
    reader of label values, and report what each of them left out."""

    def wrap(fn: EndpointMapper) -> Mapper:
        @functools.wraps(fn)
        def mapper(data: Any, ms: MetricSet) -> None:
            budget = GenericBudget(path)
            labels = LabelFields(path)
            fn(data, ms, budget, labels)
            budget.finish(ms)
            labels.finish(ms)

        return mapper

    return wrap

"""The intermediate metric model between decoded gateway data and the Prometheus exposition.

Mapping code (JSON tables, vitals flattening) only ever produces a :class:`MetricSet`; the collector
turns sets into ``prometheus_client`` families. Keeping this boundary means a reader finds where a
series comes from in one hop (the mapping table that named it), and the exposition format is
handled in exactly one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from math import isfinite
from operator import itemgetter

from prometheus_client.core import Metric as PromMetric

log = logging.getLogger(__name__)

PREFIX = "powerwall_"


class Kind(Enum):
    """Prometheus metric type of a family."""

    GAUGE = "gauge"
    COUNTER = "counter"
    INFO = "info"


_SUFFIX = {Kind.COUNTER: "_total", Kind.INFO: "_info", Kind.GAUGE: ""}

# Suffixes Prometheus and OpenMetrics reserve for counters, info metrics, histograms and summaries:
# promtool rejects a gauge named ``..._count``, and in OpenMetrics a gauge ``x_created`` clashes with
# a counter family ``x``. Gauges never end in one.
RESERVED_SUFFIXES = ("_total", "_info", "_created", "_count", "_sum", "_bucket")


@dataclass(frozen=True, slots=True)
class MetricDef:
    """A metric family: its full exposed name (counters end in ``_total``, info in ``_info``)."""

    name: str
    kind: Kind
    help: str
    # Name without the type suffix, as the OpenMetrics family name wants it: computed once, since
    # every sample added and every family rendered asks for it.
    family_name: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name.startswith(PREFIX):
            raise ValueError(f"metric {self.name!r} lacks the {PREFIX!r} prefix")
        suffix = _SUFFIX[self.kind]
        if suffix and not self.name.endswith(suffix):
            raise ValueError(f"{self.kind.value} metric {self.name!r} must end in {suffix!r}")
        if self.kind is Kind.GAUGE and self.name.endswith(RESERVED_SUFFIXES):
            raise ValueError(f"gauge {self.name!r} must not end in a reserved suffix {RESERVED_SUFFIXES}")
        object.__setattr__(self, "family_name", self.name[: -len(suffix)] if suffix else self.name)


# Every name a curated family occupies in either exposition format (sample names and OpenMetrics
# family names), filled by gauge()/counter()/info() as the modules that define metrics are imported.
# Generic names (fields no table names) are built with generic() and steer clear of these.
_CURATED: set[str] = set()


def _curated(metric: MetricDef) -> MetricDef:
    _CURATED.update((metric.name, metric.family_name))
    return metric


def gauge(name: str, help: str) -> MetricDef:
    """A curated gauge (see :func:`is_curated`)."""
    return _curated(MetricDef(name, Kind.GAUGE, help))


def counter(name: str, help: str) -> MetricDef:
    """A curated counter; its name ends in ``_total``."""
    return _curated(MetricDef(name, Kind.COUNTER, help))


def info(name: str, help: str) -> MetricDef:
    """A curated info metric; its name ends in ``_info``."""
    return _curated(MetricDef(name, Kind.INFO, help))


def generic(name: str, kind: Kind, help: str) -> MetricDef:
    """A family named after a gateway field: not registered as curated (it must yield to them)."""
    return MetricDef(name, kind, help)


def is_curated(name: str) -> bool:
    """True when ``name`` is a curated metric's sample or family name.

    Curated metrics are defined at import time of the modules that emit them, all of which are
    imported before the first scrape maps anything.
    """
    return name in _CURATED


Labels = tuple[tuple[str, str], ...]

# Label values come from the gateway; bound them so a hostile or broken answer cannot bloat the exposition.
MAX_LABEL_LENGTH = 256


_VALUE = itemgetter(1)


def _clean(value: str) -> str:
    """Make a label value encodable (JSON can carry lone surrogates, which break the encoder) and bounded."""
    return value.encode("utf-8", "replace").decode("utf-8")[:MAX_LABEL_LENGTH]


@dataclass(slots=True)
class MetricSet:
    """Samples grouped by family, with labels every sample shares (``gateway`` in practice).

    Adding a sample whose name is already registered with another type, or whose OpenMetrics
    family name another family already has (gauge ``x`` next to counter ``x_total``), is a mapping
    bug; the later family is logged and dropped rather than producing an exposition Prometheus
    would reject.
    """

    base_labels: Mapping[str, str] = field(default_factory=dict)
    _defs: dict[str, MetricDef] = field(default_factory=dict)
    _samples: dict[str, dict[Labels, float]] = field(default_factory=dict)
    _families: dict[str, str] = field(default_factory=dict)  # OpenMetrics family name → metric name
    _refused: set[str] = field(default_factory=set)
    _base: Labels = field(init=False, default=())

    def __post_init__(self) -> None:
        self._base = tuple(self.base_labels.items())

    def add(self, metric: MetricDef, value: float, labels: Mapping[str, str] | None = None) -> None:
        """Add one sample; a value that is not a finite number is dropped (the series is absent), and
        so is a negative counter.

        Every sample of every source passes here, so this is where Inf/NaN are stopped: an
        overflowed energy (1e306 Wh in joules) would pin a ``_total`` at +Inf for good, and no
        gateway reading is meaningfully infinite. A lifetime energy below zero is no reading either,
        and OpenMetrics forbids a negative counter: a scraper would reject the whole exposition.
        """
        self.add_pairs(metric, value, tuple(labels.items()) if labels else ())

    def add_pairs(self, metric: MetricDef, value: float, pairs: Labels) -> None:
        """:meth:`add` with the labels as (name, value) pairs with distinct names, in their order.

        For the mappers that already hold their labels as a tuple (the device flattener): no dict
        is built only to be turned back into a tuple.
        """
        # The hot path of a scrape (one call per sample): keep it to C-level operations.
        try:
            value = float(value)
        except OverflowError:  # an int beyond float range
            return
        if not isfinite(value) or (value < 0 and metric.kind is Kind.COUNTER):
            return
        name = metric.name
        samples = self._samples.get(name)
        if samples is None:
            if not self._register(metric):
                return
            samples = self._samples[name]
        else:
            known = self._defs[name]
            if known is not metric and known.kind is not metric.kind:
                log.warning("dropping %s: already defined as %s", name, known.kind.value)
                return
        if not pairs:
            samples[self._base] = value
            return
        # Values joined once: all ASCII and short together means each is (the usual case), and
        # cleaning leaves such a value as it is, so only the rest is cleaned.
        joined = "".join(map(_VALUE, pairs))
        if not (joined.isascii() and len(joined) <= MAX_LABEL_LENGTH):
            pairs = tuple((k, _clean(v)) for k, v in pairs)
        samples[self._base + pairs] = value

    def _register(self, metric: MetricDef) -> bool:
        """Start a family (the slow path of :meth:`add`), unless its family name is taken."""
        family = metric.family_name
        owner = self._families.get(family)
        if owner is not None:
            if metric.name not in self._refused:  # once per set, not once per sample
                self._refused.add(metric.name)
                log.warning("dropping %s: family name %s is already used by %s", metric.name, family, owner)
            return False
        self._families[family] = metric.name
        self._defs[metric.name] = metric
        self._samples[metric.name] = {}
        return True

    def merge(self, other: MetricSet, adopt: bool = False) -> None:
        """Add ``other``'s samples (the sets each answer's decode made) to this one.

        A family new here is taken over as ``other`` registered it, with a copy of its samples
        (``other`` may be shared by the scrapes reusing its answer); only the family name is
        checked again, against this set's families. ``adopt``: the caller hands ``other`` over and
        never uses it again, so a new family takes its samples without a copy (a scrape's set of one
        gateway into the page's: a copy of every family for nothing).
        """
        mine, defs, families = self._samples, self._defs, self._families
        for name, samples in other._samples.items():
            metric = other._defs[name]
            known = defs.get(name)
            if known is None:
                if metric.family_name in families:
                    self._register(metric)  # refused: logged once
                    continue
                families[metric.family_name] = name
                defs[name] = metric
                mine[name] = samples if adopt else samples.copy()
            elif known is not metric and known.kind is not metric.kind:
                log.warning("dropping %s: already defined as %s", name, known.kind.value)
            else:
                mine[name].update(samples)

    def counters(self) -> Iterator[tuple[str, Labels, float]]:
        for name, metric in self._defs.items():
            if metric.kind is Kind.COUNTER:
                for key, value in self._samples[name].items():
                    yield name, key, value

    def replace(self, name: str, key: Labels, value: float | None) -> None:
        """Set a sample's value, or remove the sample when ``value`` is None."""
        if value is None:
            self._samples[name].pop(key, None)
        else:
            self._samples[name][key] = value

    def remove_samples(self, match: Callable[[dict[str, str]], bool]) -> int:
        """Remove every sample whose labels ``match``; returns how many (a bound applied after merging)."""
        removed = 0
        for samples in self._samples.values():
            for key in [k for k in samples if match(dict(k))]:
                del samples[key]
                removed += 1
        return removed

    def get(self, name: str, **labels: str) -> float | None:
        """The value of one sample, matching the given labels as a subset (for tests and the UI)."""
        for key, value in self._samples.get(name, {}).items():
            kd = dict(key)
            if all(kd.get(k) == v for k, v in labels.items()):
                return value
        return None

    def samples(self, name: str) -> dict[Labels, float]:
        return dict(self._samples.get(name, {}))

    def subset(self, names: Iterable[str]) -> MetricSet:
        """A new set with only the families ``names`` (what a summary keeps of a whole scrape)."""
        out = MetricSet(base_labels=self.base_labels)
        for name in names:
            if name in self._samples:
                out._register(self._defs[name])
                out._samples[name].update(self._samples[name])
        return out

    def names(self) -> list[str]:
        return sorted(self._samples)

    def __len__(self) -> int:
        return sum(len(s) for s in self._samples.values())

    def defs(self) -> Iterator[tuple[MetricDef, dict[Labels, float]]]:
        """Families in name order with their samples, for the exposition encoder."""
        for name in sorted(self._defs):
            yield self._defs[name], self._samples[name]

    def families(self) -> Iterator[PromMetric]:
        """Yield ``prometheus_client`` families, sorted by name for a stable exposition."""
        for name in sorted(self._defs):
            metric = self._defs[name]
            family = PromMetric(metric.family_name, metric.help, metric.kind.value)
            for key, value in self._samples[name].items():
                family.add_sample(name, dict(key), value)
            yield family

"""Apply the per-device rule table (:mod:`exporter.devices.rules`): a signal name → metric, scale, labels.

Why apart from the table: the table is what a reviewer checks against the gateway documentation,
one line per signal; how a line is matched, how its label templates are filled in and what becomes
of a signal no line takes is code, changed for other reasons and tested on its own.

Curated rules
    The first rule of :data:`~exporter.devices.rules.RULES` whose pattern matches the *whole* signal
    name wins. A value of the wrong type for it (text for a gauge or counter, a number for an
    ``_info`` rule) falls through to the generic rule. Label templates are filled from the pattern's
    named groups, with the conversions of :data:`CONVERSIONS`. The table's invariants are checked
    once, at import (:func:`label_schema`): a curated metric keeps one label schema and one
    definition, and no curated name is in the generic namespace.

Generic rule (every vital no curated rule takes)
    ``powerwall_vital_<snake>``, where ``<snake>`` is the vital name with camel-case humps split by
    ``_`` (``PINV_HardwareEnableLine`` → ``pinv_hardware_enable_line``, ``PVS_vLL`` →
    ``pvs_v_ll``), lower-cased, every run of characters other than ``[a-z0-9]`` replaced by one
    ``_`` and leading/trailing ``_`` stripped (``STSTSM-Location`` → ``ststsm_location``), and every
    word ``promtool check metrics`` would reject (an abbreviated unit such as ``b``, ``s``, ``ms``, a
    non-base unit such as ``bits``, a type name such as ``gauge``) glued to the word before it
    (``PCH_DcdcState_B`` → ``pch_dcdc_stateb``; the rule is
    :func:`exporter.metrics.naming.promlint_safe`'s). Then:

    * text → ``powerwall_vital_<snake>_info{value="<text>"}`` = 1;
    * numbers and bools whose name looks like a lifetime energy (:data:`GENERIC_COUNTER_RE`) →
      counter ``powerwall_vital_<snake>_total`` (``_total`` not doubled), value unscaled;
    * other bools → gauge ``powerwall_vital_<snake>`` (0/1);
    * other numbers → gauge ``powerwall_vital_<snake>``, value unscaled, with the unit suffix its
      name states (``..._Voltage`` → ``..._voltage_volts``, ``..._V`` → ``..._volts``, ``Freq``/
      ``Frequency``/``_Hz`` → ``_hertz``, ``Temp``/``Temperature`` → ``_celsius``; the table is
      :func:`exporter.metrics.naming.with_unit`'s).
      If that name ends in a suffix Prometheus reserves for other types (``_total``, ``_info``,
      ``_created``, ``_count``, ``_sum``, ``_bucket``), ``_value`` is appended.

    Other generic values keep the gateway's unit because an unknown field's unit is unknown. A vital
    whose ``<snake>`` is empty is skipped (it has no name to export). Generic names are bounded
    (length, families per scrape) and typed clashes among them resolved as :mod:`exporter.metrics.naming`
    describes; :mod:`exporter.devices.flatten` applies those bounds. Generic names can never
    collide with curated ones: no curated metric starts with ``powerwall_vital_`` (checked at
    import). Two raw names of one device that sanitize to the same series (``A-B`` and ``A_B``)
    are resolved in :mod:`exporter.devices.flatten`: vitals are processed in sorted raw-name order
    and the first one keeps the series.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from exporter.devices.rules import DEVICE_METRICS, RULES, Rule
from exporter.metrics.metricset import Kind, MetricDef, generic
from exporter.metrics.naming import generic_gauge_name, generic_stem, with_unit

GENERIC_PREFIX = "powerwall_vital_"
"""Every generic (uncurated) per-device family starts with this; no curated one may."""

GENERIC_COUNTER_RE = re.compile(r"(?i)lifetime_?energy|energy_?(?:charged|discharged)")
"""Generic (uncurated) vitals whose name matches are exported as counters."""


PHASE_PAIRS: Mapping[frozenset[str], str] = {
    frozenset("AB"): "AB",
    frozenset("BC"): "BC",
    frozenset("AC"): "CA",
}
"""Two conductors → the ``phase`` value of a line-to-line quantity (one name per pair, either order)."""


def _phase(line: str) -> str:
    """Line number → conductor: ``1`` → ``A``, ``2`` → ``B``, ``3`` → ``C`` (outside 1..26 kept as is)."""
    n = int(line) if line.isdigit() else 0
    return chr(ord("A") + n - 1) if 1 <= n <= 26 else line


def _phase_pair(lines: str) -> str:
    """``L1L2`` → ``AB``, ``L2L3`` → ``BC``, ``L1L3``/``L3L1`` → ``CA``; other pairs as their letters."""
    letters = "".join(_phase(d) for d in re.findall(r"[0-9]", lines))
    return PHASE_PAIRS.get(frozenset(letters), letters) if len(letters) == 2 else letters


def _ct_number(letter: str) -> str:
    """CT letter → 1-based CT number: ``A`` → ``1``, ``B`` → ``2``, ``C`` → ``3``."""
    return str(ord(letter) - ord("A") + 1) if len(letter) == 1 and letter.isupper() else letter


def _one_based(index: str) -> str:
    """0-based index → 1-based number (Neurio ``CT0`` → ``1``)."""
    return str(int(index) + 1) if index.isdigit() else index


# Conversions usable in label templates (``{group!x}``): data-driven, so the vocabulary's value sets
# are defined once, here, not by string surgery in each rule.
CONVERSIONS: Mapping[str, Callable[[str], str]] = {
    "l": str.lower,
    "n": _ct_number,
    "i": _one_based,
    "p": _phase,
    "q": _phase_pair,
}


class _TemplateFormatter(string.Formatter):
    """``str.format`` plus the conversions of :data:`CONVERSIONS`, so templates stay plain data."""

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        convert = CONVERSIONS.get(conversion) if conversion else None
        return convert(str(value)) if convert else super().convert_field(value, conversion)


_FORMATTER = _TemplateFormatter()


@dataclass(frozen=True, slots=True)
class Target:
    """Where one vital's value goes: metric, scale, resolved extra labels, value label (info only).

    ``generic`` marks the generic rule's targets, which are subject to the generic-name bounds.
    """

    metric: MetricDef
    scale: float
    labels: tuple[tuple[str, str], ...]
    value_label: str | None
    generic: bool = False


_COMPILED: tuple[tuple[re.Pattern[str], Rule], ...] = tuple((re.compile(r.pattern), r) for r in RULES)


def _generic(name: str, is_text: bool, is_bool: bool) -> Target | None:
    snake = generic_stem(name)
    if not snake:
        return None
    base = GENERIC_PREFIX + snake
    if is_text:
        metric = generic(base + "_info", Kind.INFO, f"Text vital {name!r} (generic rule); always 1.")
        return Target(metric, 1.0, (), "value", generic=True)
    if GENERIC_COUNTER_RE.search(name):
        metric_name = base if base.endswith("_total") else base + "_total"
        metric = generic(metric_name, Kind.COUNTER, f"Vital {name!r} (generic rule, gateway unit).")
        return Target(metric, 1.0, (), None, generic=True)
    if is_bool:
        help = f"Vital {name!r} (generic rule; a bool as 0/1)."
        return Target(generic(generic_gauge_name(base), Kind.GAUGE, help), 1.0, (), None, generic=True)
    with_suffix, unit = with_unit(name, snake)
    if unit:
        help = f"Vital {name!r} (generic rule; in {unit} as its name says)."
    else:
        help = f"Vital {name!r} (generic rule; unit not known to the exporter, value as reported)."
    metric = generic(generic_gauge_name(GENERIC_PREFIX + with_suffix), Kind.GAUGE, help)
    return Target(metric, 1.0, (), None, generic=True)


@lru_cache(maxsize=4096)
def resolve(name: str, is_text: bool, is_bool: bool = False) -> Target | None:
    """Target for vital ``name`` carrying a text (``is_text``), bool (``is_bool``) or numeric value.

    Cached: a site reports the same few hundred names every scrape, and the cache is bounded so a
    hostile payload full of random names cannot grow it without limit.
    """
    for pattern, rule in _COMPILED:
        match = pattern.fullmatch(name)
        if match is None:
            continue
        if (rule.metric.kind is Kind.INFO) != is_text:
            break  # type does not fit the curated rule: export generically rather than drop
        groups = match.groupdict()
        labels = tuple((k, _FORMATTER.format(v, **groups)) for k, v in rule.labels)
        return Target(rule.metric, rule.scale, labels, rule.value_label if is_text else None)
    return _generic(name, is_text, is_bool)


def label_schema(rules: tuple[Rule, ...] = RULES) -> Mapping[str, tuple[str, ...]]:
    """Extra label names (incl. the value label) per curated metric; raises if a metric has two.

    Also enforces that curated names stay out of the generic namespace and that a name shared by
    several rules is one definition (same kind and help), so the exposition can never contain
    inconsistent families.
    """
    schema: dict[str, tuple[str, ...]] = {}
    defs: dict[str, MetricDef] = {}
    for rule in rules:
        name = rule.metric.name
        if name.startswith(GENERIC_PREFIX):
            raise ValueError(f"curated metric {name} uses the generic prefix {GENERIC_PREFIX}")
        names = tuple(k for k, _ in rule.labels)
        if rule.metric.kind is Kind.INFO:
            names += (rule.value_label,)
        if schema.setdefault(name, names) != names:
            raise ValueError(f"{name}: label names {names} differ from {schema[name]}")
        if defs.setdefault(name, rule.metric) != rule.metric:
            raise ValueError(f"{name}: defined twice with different kind or help; define it once")
    for metric in DEVICE_METRICS:
        if metric.name in schema:
            raise ValueError(f"{metric.name} is both a device metric and a vital rule")
    return schema


CURATED_LABELS: Mapping[str, tuple[str, ...]] = label_schema()
"""Curated metric name → its extra label names (checked once, at import)."""

CURATED_METRIC_NAMES: tuple[str, ...] = tuple(sorted({*CURATED_LABELS, *(m.name for m in DEVICE_METRICS)}))
"""Every fixed metric name the vitals mapping can emit (the generic rule adds ``powerwall_vital_*``)."""

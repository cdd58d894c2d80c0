"""How a gateway field name becomes part of a Prometheus metric name, and how far that may go.

Both the JSON tables and the vitals rules export unmapped fields under generic names; they must
sanitize the same way, so a reader (and the README) can state one rule. Because the *gateway*
decides which generic names exist, they are also bounded here, for both sources alike
(:class:`GenericBudget`): a firmware bug or a hostile device on the LAN must not be able to turn one
scrape into millions of families, megabyte-long names, or an exposition Prometheus rejects.

* A field whose name, raw or exported, is longer than :data:`MAX_GENERIC_NAME_LENGTH` is dropped.
* At most :data:`MAX_GENERIC_FAMILIES` generic families per endpoint and scrape; fields beyond
  them are dropped (payload order decides, so the same payload always keeps the same ones).
* A generic gauge never ends in a reserved suffix (``_value`` is appended) and never equals a
  curated metric's sample or family name (``_value`` is appended until it does not), so a field
  ``energy_imported_joules`` cannot become a second family ``powerwall_meter_energy_imported_joules``
  beside the curated counter of that name, which would make the OpenMetrics output invalid.
* Two generic families of different types with one family name (a text vital ``Foo`` and a numeric
  ``foo``) keep the first; the other is dropped.

A generic name is one ``promtool check metrics`` accepts, whatever the field is called
(:func:`generic_stem`): a word of the snake_case name that promtool's linter flags (an abbreviated
unit such as ``b``/``s``/``ms``/``kb``, a unit that is not a base unit such as ``bits``/``minutes``/
``millivolts``, or a type name such as ``gauge``/``counter``) is glued to the word before it, so
``PCH_DcdcState_B`` → ``pch_dcdc_stateb`` and ``PVS_NumStringsLockoutBits`` →
``pvs_num_strings_lockoutbits``. The value is never rescaled for it: the generic rule does not know
an unmapped field's unit, and a name like ``lockout_bits`` is a bit field, not a quantity in bits.

A generic *numeric* field whose name ends in an unambiguous unit gets that unit in its name
(:data:`UNIT_WORDS`, :data:`UNIT_ABBREVIATIONS`, :func:`with_unit`): ``..._voltage`` → ``..._voltage_volts``,
``..._V`` → ``..._volts``. Only units the gateway reports in the base unit qualify (V, Hz, °C), so
the value is never scaled; power and energy are left out on purpose (kW and W, Wh, all occur).

What is dropped is counted per gateway, endpoint and reason in
``powerwall_generic_fields_dropped_total`` (cumulative for the life of the process, kept in
:data:`DROPS`) and logged once per gateway and endpoint.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from exporter.metrics.metricset import RESERVED_SUFFIXES, MetricDef, MetricSet, counter, is_curated

__all__ = [
    "DROPS",
    "GENERIC_DROPPED",
    "MAX_GENERIC_FAMILIES",
    "MAX_GENERIC_NAME_LENGTH",
    "RESERVED_SUFFIXES",
    "DropLedger",
    "GenericBudget",
    "gauge_name",
    "generic_gauge_name",
    "generic_stem",
    "mapped_again",
    "promlint_flags",
    "promlint_safe",
    "snake_case",
    "with_unit",
]

log = logging.getLogger(__name__)

MAX_GENERIC_NAME_LENGTH = 200
"""Longest generic metric name (and raw field name) exported; longer ones are dropped."""

MAX_GENERIC_FAMILIES = 500
"""Most generic families one endpoint contributes to one scrape (real sites use a few dozen)."""

GENERIC_DROPPED = counter(
    "powerwall_generic_fields_dropped_total",
    "Unmapped gateway fields not exported generically, by endpoint and reason "
    "(name_too_long, too_many_fields, name_clash).",
)

_CAMEL_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_HUMP = re.compile(r"([a-z0-9])([A-Z])")
_NON_NAME = re.compile(r"[^a-z0-9]+")


def snake_case(name: str) -> str:
    """``PINV_HardwareEnableLine`` → ``pinv_hardware_enable_line``; ``STSTSM-Location`` → ``ststsm_location``.

    Camel-case humps are split, everything is lower-cased, and each run of characters outside
    ``[a-z0-9]`` becomes one ``_`` (leading/trailing ones dropped). Returns "" when nothing is left.
    """
    s = _CAMEL_HUMP.sub(r"\1_\2", _CAMEL_ACRONYM.sub(r"\1_\2", name))
    return _NON_NAME.sub("_", s.lower()).strip("_")


# What Prometheus' name linter (``promtool check metrics``, util/promlint) rejects, as data. Each entry is
# one ``_``-separated word of a metric name; promtool reports a name that contains it anywhere.
# Determined by running Debian's promtool 2.42 over crafted expositions; the property test in
# tests/metrics/test_promlint_names.py runs whatever promtool is installed, so a newer linter's rule
# shows up there rather than on a user's dashboard.
PROMLINT_ABBREVIATIONS = frozenset({"s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d"})
"""Words promtool reports as "metric names should not contain abbreviated units"."""

PROMLINT_TYPE_WORDS = frozenset({"counter", "gauge", "histogram", "summary"})
"""Words promtool reports as "metric name should not include type ..."."""

PROMLINT_BASE_UNITS = frozenset(
    {"amperes", "bytes", "celsius", "grams", "joules", "kelvin", "meters", "metres", "seconds", "volts"}
)
"""Units promtool accepts as they are, but not with an SI or binary prefix (``millivolts``)."""

PROMLINT_OTHER_UNITS = frozenset(
    {
        "bits", "calories", "days", "fahrenheit", "hours", "inches", "kelvins", "miles",
        "minutes", "ounces", "pounds", "rankine", "weeks", "yards",
    }
)  # fmt: skip
"""Units promtool reports as "use base unit ... instead of ...", with or without a prefix."""

PROMLINT_PREFIXES = (
    "pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto",
    "kilo", "kibi", "mega", "mibi", "giga", "gibi", "tera", "tebi", "peta", "pebi",
)  # fmt: skip
"""Unit prefixes promtool recognises (its own spelling, ``mibi`` included)."""


def _alternation(words: frozenset[str] | tuple[str, ...]) -> str:
    """A regex alternative of ``words`` (all plain ``[a-z]``), sorted so the pattern is the same every run."""
    return "|".join(sorted(words))


_PROMLINT_FLAGGED = re.compile(
    f"(?:{_alternation(PROMLINT_ABBREVIATIONS | PROMLINT_TYPE_WORDS | PROMLINT_OTHER_UNITS)})"
    f"|(?:{_alternation(PROMLINT_PREFIXES)})(?:{_alternation(PROMLINT_BASE_UNITS | PROMLINT_OTHER_UNITS)})"
)


def promlint_flags(word: str) -> bool:
    """True if promtool rejects a metric name containing ``word`` as one of its ``_``-separated words."""
    return _PROMLINT_FLAGGED.fullmatch(word) is not None


def promlint_safe(snake: str) -> str:
    """``snake`` with every word :func:`promlint_flags` glued to its neighbour, so promtool accepts it.

    A flagged word joins the word before it (``dcdc_state_b`` → ``dcdc_stateb``), which keeps the
    name readable and usually spells it as the gateway did (``StringB``). Gluing can make another
    flagged word (``k_b`` → ``kb``), which is glued on in turn. A flagged first word joins the word
    after it (``ms_offset`` → ``msoffset``); a flagged word standing alone gets ``value``
    (``s`` → ``svalue``). One pass, linear in the number of words: hostile payloads are full of
    names. Deterministic, so a field keeps its name from scrape to scrape.
    """
    words: list[str] = []
    for word in snake.split("_"):
        while words and promlint_flags(word):
            word = words.pop() + word
        words.append(word)
    # Only the first word can still be flagged: it had no word before it to join.
    while len(words) > 1 and promlint_flags(words[0]):
        words[:2] = [words[0] + words[1]]
    if promlint_flags(words[0]):
        words[0] += "value"
    return "_".join(words)


def generic_stem(field: str) -> str:
    """The word a generic name is built from: :func:`snake_case`, then :func:`promlint_safe`.

    ``PCH_DcdcState_B`` → ``pch_dcdc_stateb``; "" when the field has no usable character. Both
    generic rules (JSON tables and per-device signals) build names from this, so they agree.
    """
    snake = snake_case(field)
    return promlint_safe(snake) if snake else ""


UNIT_WORDS: dict[str, str] = {
    "voltage": "volts",
    "frequency": "hertz",
    "freq": "hertz",
    "temperature": "celsius",
    "temp": "celsius",
}
"""Last snake_case word of a field name → the base-unit suffix appended (the word is kept)."""

UNIT_ABBREVIATIONS: dict[str, str] = {"_V": "volts", "_Hz": "hertz", "_hz": "hertz"}
"""Raw field-name ending (case-sensitive) → the base-unit suffix that replaces it."""


def with_unit(field: str, snake: str) -> tuple[str, str | None]:
    """``snake`` (the snake_case of ``field``) with the unit its name states, and that unit.

    ``POD_CellVoltage`` → (``pod_cell_voltage_volts``, ``volts``); ``Foo_V`` → (``foo_volts``,
    ``volts``); ``PINV_Pout`` → (``pinv_pout``, None): no unit is guessed.
    """
    for ending, unit in UNIT_ABBREVIATIONS.items():
        token = "_" + ending[1:].lower()
        if field.endswith(ending) and snake.endswith(token) and len(snake) > len(token):
            return snake[: -len(token)] + "_" + unit, unit
    word = UNIT_WORDS.get(snake.rsplit("_", 1)[-1])
    return (f"{snake}_{word}", word) if word else (snake, None)


def gauge_name(base: str) -> str:
    """A gauge name that does not end in a reserved suffix (``_value`` is appended if it would)."""
    return base + "_value" if base.endswith(RESERVED_SUFFIXES) else base


def generic_gauge_name(base: str) -> str:
    """:func:`gauge_name`, then ``_value`` appended while the name is a curated metric's name.

    Curated names win regardless of payload order: a field that happens to be called like a
    curated metric must neither overwrite its samples nor start a second family of its name.
    """
    name = gauge_name(base)
    while is_curated(name):
        name += "_value"
    return name


class DropLedger:
    """Process-wide, thread-safe drop counts per (gateway, endpoint): a counter must be cumulative.

    One ledger per counter: :data:`DROPS` for the generic names; the JSON mappers keep another for
    text fields of the wrong type (:mod:`exporter.site.labels`). ``dropped`` is keyed by
    whatever the counter's label is (a reason, a field name).

    Mapping has no state of its own between scrapes (a mapper gets a payload and an empty set), so
    the counts live here, keyed by the ``gateway`` base label of the set being filled. Keys are
    bounded by the configured gateways times the endpoints. A set without a ``gateway`` label is
    not a gateway's scrape (a test, a tool): it gets the counts of its own call, nothing is kept.
    """

    def __init__(
        self, what: str = "fields the exporter does not export generically", metric: MetricDef = GENERIC_DROPPED
    ) -> None:
        self._what = what  # what was dropped, for the log line
        self._metric = metric
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], Counter[str]] = {}
        self._logged: set[tuple[str, str]] = set()

    def record(self, gateway: str, endpoint: str, dropped: Counter[str], example: str) -> dict[str, int]:
        """Add this answer's drops; returns the cumulative counts by reason (empty: never dropped).

        Inside :func:`mapped_again`, the drops were added when the answer was first mapped: only
        the counts are returned.
        """
        key = (gateway, endpoint)
        again = _MAPPED_AGAIN.get()
        with self._lock:
            if dropped and not again and key not in self._logged:
                self._logged.add(key)
                log.warning(
                    "gateway %s: %s sent %s (%s; e.g. %r); counted in %s, logged once",
                    gateway,
                    endpoint,
                    self._what,
                    ", ".join(f"{n} {reason}" for reason, n in sorted(dropped.items())),
                    example[:60] + ("..." if len(example) > 60 else ""),
                    self._metric.name,
                )
            if not gateway:
                return dict(dropped)
            counts = self._counts.get(key)
            if counts is None:
                if not dropped or again:
                    return {}
                counts = self._counts[key] = Counter()
            if not again:
                counts.update(dropped)
            return dict(counts)


_MAPPED_AGAIN: ContextVar[bool] = ContextVar("mapped_again", default=False)


@contextmanager
def mapped_again() -> Iterator[None]:
    """Map an answer that was mapped before (its series were dropped after use, and a later scrape
    reuses the answer): the ledgers count an answer's drops once, not once per mapping."""
    token = _MAPPED_AGAIN.set(True)
    try:
        yield
    finally:
        _MAPPED_AGAIN.reset(token)


DROPS = DropLedger()


class GenericBudget:
    """The generic names one endpoint may add in one scrape (rules in the module docstring).

    Create one per endpoint and scrape, ask :meth:`admit` before adding a generic sample, and call
    :meth:`finish` with the filled set to account for (and expose) what was dropped.
    """

    __slots__ = ("_admitted", "_dropped", "_example", "_families", "endpoint", "max_families")

    def __init__(self, endpoint: str, max_families: int = MAX_GENERIC_FAMILIES) -> None:
        self.endpoint = endpoint
        self.max_families = max_families
        self._admitted: set[str] = set()
        self._families: set[str] = set()
        self._dropped: Counter[str] = Counter()
        self._example = ""

    def admit(self, metric: MetricDef, field: str) -> bool:
        """True if the generic ``metric`` (for gateway field ``field``) may be added."""
        name = metric.name
        if name in self._admitted:
            return True
        if len(name) > MAX_GENERIC_NAME_LENGTH:
            return self.drop("name_too_long", field)
        if metric.family_name in self._families:
            return self.drop("name_clash", field)
        if len(self._admitted) >= self.max_families:
            return self.drop("too_many_fields", field)
        self._admitted.add(name)
        self._families.add(metric.family_name)
        return True

    def field_fits(self, field: str) -> bool:
        """False (and counted) for a raw field name too long to be worth sanitizing."""
        return len(field) <= MAX_GENERIC_NAME_LENGTH or self.drop("name_too_long", field)

    def drop(self, reason: str, field: str) -> bool:
        """Count one dropped field; returns False so callers can ``return self.drop(...)``."""
        if not self._dropped:
            self._example = field[:100]
        self._dropped[reason] += 1
        return False

    def finish(self, ms: MetricSet) -> None:
        """Record the drops of this scrape and add the cumulative counter samples to ``ms``."""
        gateway = ms.base_labels.get("gateway", "")
        for reason, n in sorted(DROPS.record(gateway, self.endpoint, self._dropped, self._example).items()):
            ms.add(GENERIC_DROPPED, n, {"endpoint": self.endpoint, "reason": reason})

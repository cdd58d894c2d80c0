"""How a gateway field name becomes part of a Prometheus metric name, in one place.

Both the JSON tables and the vitals rules export unmapped fields under generic names; they must
sanitize the same way, so a reader (and the README) can state one rule.
"""

from __future__ import annotations

import re

# Suffixes Prometheus reserves for counters, info metrics, histograms and summaries (promtool
# rejects a gauge named ``..._count``).
RESERVED_SUFFIXES = ("_total", "_info", "_created", "_count", "_sum", "_bucket")

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


def gauge_name(base: str) -> str:
    """A gauge name that does not end in a reserved suffix (``_value`` is appended if it would)."""
    return base + "_value" if base.endswith(RESERVED_SUFFIXES) else base

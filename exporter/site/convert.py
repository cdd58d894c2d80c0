"""Conversions from JSON values to sample values, one function per kind of field.

A missing or null key, or a value that is not a number under the shared policy of
:mod:`exporter.coerce` (also after unit scaling), means the series is absent — never a made-up 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from exporter.coerce import number
from exporter.units import H_TO_S, MIN_TO_S, MS_TO_S, NS_TO_S, PERCENT, US_TO_S

Convert = Callable[[Any], float | None]


def scaled(factor: float) -> Convert:
    """Multiply by ``factor``; a product that overflows (1e306 Wh in joules) is no value either."""

    def conv(v: Any) -> float | None:
        n = number(v)
        if n is None:
            return None
        out = n * factor
        return out if math.isfinite(out) else None

    return conv


def boolean(v: Any) -> float | None:
    return (1.0 if v else 0.0) if isinstance(v, bool) else None


def percent_to_ratio(v: Any) -> float | None:
    n = number(v)
    return None if n is None else n / PERCENT


def app_scale_ratio(v: Any) -> float | None:
    """Raw gateway percentage → the app's scale, which hides a 5 % reserve: (raw - 5) / 0.95, clamped."""
    n = number(v)
    if n is None:
        return None
    return min(1.0, max(0.0, (n - 5.0) / 95.0))


def rfc3339_timestamp(v: Any) -> float | None:
    """Gateway RFC 3339 time with nanoseconds → Unix seconds; the Go zero time means 'never' → absent."""
    if not isinstance(v, str) or not v or v.startswith("0001-01-01"):
        return None
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", v)
    if not m:
        return None
    base, frac, tz = m.groups()
    try:
        dt = datetime.fromisoformat(base + ("+00:00" if tz == "Z" else tz))
    except ValueError:
        return None
    return dt.timestamp() + (float(frac) if frac else 0.0)


def gateway_start_time(v: Any) -> float | None:
    """``/api/status`` start_time, e.g. ``2021-12-10 16:38:39 +0800`` → Unix seconds."""
    if not isinstance(v, str):
        return None
    try:
        return datetime.strptime(v.strip(), "%Y-%m-%d %H:%M:%S %z").timestamp()
    except ValueError:
        return None


_GO_UNITS = {
    "ns": NS_TO_S,
    "us": US_TO_S,
    "µs": US_TO_S,
    "μs": US_TO_S,
    "ms": MS_TO_S,
    "s": 1.0,
    "m": MIN_TO_S,
    "h": H_TO_S,
}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def go_duration(v: Any) -> float | None:
    """A Go ``time.Duration`` string (``55h46m11.021029341s``) → seconds."""
    if not isinstance(v, str) or not v:
        return None
    text = v.strip()
    if text == "0":
        return 0.0
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-")
    pos, total = 0, 0.0
    for m in _GO_PART.finditer(text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _GO_UNITS[m.group(2)]
        pos = m.end()
    return sign * total if pos == len(text) and pos > 0 else None


NO_LIMIT_WATTS = 1e11
"""The gateway's "no limit": site meter power limits of ±1e9 kW (1e12 W); no real site comes near 1e11 W."""


def limit_watts(factor: float) -> Convert:
    """A power limit scaled to W; a "no limit" sentinel (|value| ≥ :data:`NO_LIMIT_WATTS`) is absent."""
    scale = scaled(factor)

    def conv(v: Any) -> float | None:
        out = scale(v)
        return None if out is None or abs(out) >= NO_LIMIT_WATTS else out

    return conv


def except_value(sentinel: float, convert: Convert = number) -> Convert:
    """``convert``, but the raw value ``sentinel`` (the gateway's "none", e.g. -1) is absent."""

    def conv(v: Any) -> float | None:
        return None if number(v) == sentinel else convert(v)

    return conv


_NUMERIC_VERSION_RE = re.compile(r"\d+(?:\.\d+)*")


def firmware_text(text: str) -> tuple[str, str, str]:
    """A firmware version text → ``(version, build, git_hash)``.

    ``/api/status`` and TEDAPI's getSystemInfo write ``"<build> <short git hash>"``; a Powerwall 3's
    build carries a suffix (``"24.12.6-PW3-AFCI 008bf6ff"``). ``version`` is the dotted number alone
    (``24.12.6``), so a version label compares alike on every generation; ``build`` keeps the text
    before the hash as written (``24.12.6-PW3-AFCI``), so the variant is not lost. A build that does
    not start with a number is its own version.
    """
    build, _, git_hash = text.strip().partition(" ")
    m = _NUMERIC_VERSION_RE.match(build)
    return (m.group(0) if m else build), build, git_hash.strip()

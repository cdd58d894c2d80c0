"""The energy-accounting part of a gateway's config: tariff with time-of-use periods, battery dates."""

from __future__ import annotations

import calendar
import math
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from exporter.config import values as v
from exporter.config.values import ConfigError

ENERGY_KEYS = frozenset({"tariff", "battery_commission_date", "battery_warranty_years"})
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()
DEFAULT_PERIOD = "default"
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_HHMM_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class TariffPeriod:
    """A time-of-use window. ``days`` are the weekdays (0 = Monday) the window *starts* on; a window
    with start > end runs past midnight into the next day. Minutes are local time; end may be 1440."""

    name: str
    days: frozenset[int]
    start_minute: int
    end_minute: int
    import_price_per_kwh: float | None = None  # None: the tariff's default price
    export_price_per_kwh: float | None = None


@dataclass(frozen=True, slots=True)
class TariffConfig:
    currency: str
    import_price_per_kwh: float
    export_price_per_kwh: float
    timezone: str | None = None  # None: the gateway's site_info timezone, else UTC
    periods: tuple[TariffPeriod, ...] = ()


@dataclass(frozen=True, slots=True)
class EnergyConfig:
    """Per-gateway inputs of the energy accounting; all optional."""

    tariff: TariffConfig | None = None
    battery_commission_date: date | None = None
    battery_warranty_years: int = 10


def energy_config(g: Mapping[str, Any], key: str) -> EnergyConfig:
    """The energy-accounting keys of one gateway (``tariff``, ``battery_commission_date``, ...)."""
    tariff = _tariff(g["tariff"], f"{key}.tariff") if g.get("tariff") is not None else None
    commission = None
    raw_date = g.get("battery_commission_date")
    if raw_date is not None:
        commission = _date(raw_date, f"{key}.battery_commission_date")
    years = v.number(g.get("battery_warranty_years", 10), f"{key}.battery_warranty_years", 1, 50)
    if years != int(years):
        raise ConfigError(f"{key}.battery_warranty_years", "must be a whole number of years")
    return EnergyConfig(tariff=tariff, battery_commission_date=commission, battery_warranty_years=int(years))


def _date(raw: Any, key: str) -> date:
    # YAML turns an unquoted 2021-03-15 into a date already; a quoted one stays a string.
    if isinstance(raw, datetime):
        raise ConfigError(key, 'must be a date "YYYY-MM-DD" without a time')
    if isinstance(raw, date):
        return raw
    if not isinstance(raw, str) or not _DATE_RE.match(raw):
        raise ConfigError(key, 'must be a date "YYYY-MM-DD"')
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ConfigError(key, f"not a valid date: {exc}") from None


def _tariff(raw: Any, key: str) -> TariffConfig:
    t = v.mapping(raw, key)
    v.reject_unknown(t, key, {"currency", "timezone", "import_price_per_kwh", "export_price_per_kwh", "periods"})
    currency = t.get("currency")
    if not isinstance(currency, str) or not _CURRENCY_RE.match(currency):
        raise ConfigError(f"{key}.currency", "required: an ISO 4217 code, three uppercase letters (EUR, USD, ...)")
    tz = t.get("timezone")
    if tz is not None:
        tz = _timezone(tz, f"{key}.timezone")
    imp = _price(t.get("import_price_per_kwh"), f"{key}.import_price_per_kwh", required=True)
    exp = _price(t.get("export_price_per_kwh"), f"{key}.export_price_per_kwh", required=True)
    raw_periods = t.get("periods", [])
    if raw_periods is None:
        raw_periods = []
    if not isinstance(raw_periods, list):
        raise ConfigError(f"{key}.periods", "must be a list of time-of-use windows")
    periods = tuple(_period(p, f"{key}.periods[{i}]") for i, p in enumerate(raw_periods))
    assert imp is not None and exp is not None  # required=True
    return TariffConfig(currency, imp, exp, tz, periods)


def _timezone(raw: Any, key: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise ConfigError(key, "must be an IANA time zone name, e.g. Europe/Berlin")
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        hint = "" if zoneinfo.available_timezones() else " (no time zone database found: install tzdata)"
        raise ConfigError(key, f"unknown time zone {raw!r}{hint}") from None
    return raw


def _price(raw: Any, key: str, required: bool) -> float | None:
    if raw is None:
        if required:
            raise ConfigError(key, "required: price per kWh in the tariff's currency")
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise ConfigError(key, "must be a number (price per kWh)")
    if raw < 0:
        raise ConfigError(key, "must not be negative")
    return float(raw)


def _period(raw: Any, key: str) -> TariffPeriod:
    p = v.mapping(raw, key)
    v.reject_unknown(p, key, {"name", "days", "start", "end", "import_price_per_kwh", "export_price_per_kwh"})
    name = p.get("name")
    if not isinstance(name, str) or not v.NAME_RE.match(name):
        raise ConfigError(f"{key}.name", "required: letters, digits, '_', '.', '-' (becomes the label period=...)")
    if name == DEFAULT_PERIOD:
        raise ConfigError(f"{key}.name", f"{DEFAULT_PERIOD!r} is reserved for the price outside every window")
    raw_days = p.get("days", list(DAY_NAMES))
    if not isinstance(raw_days, list) or not raw_days:
        raise ConfigError(f"{key}.days", f"must be a non-empty list of {', '.join(DAY_NAMES)}")
    days: set[int] = set()
    for i, d in enumerate(raw_days):
        if not isinstance(d, str) or d.lower() not in DAY_NAMES:
            raise ConfigError(f"{key}.days[{i}]", f"unknown day {d!r} (use {', '.join(DAY_NAMES)})")
        days.add(DAY_NAMES.index(d.lower()))
    start = _hhmm(p.get("start"), f"{key}.start", allow_24=False)
    end = _hhmm(p.get("end"), f"{key}.end", allow_24=True)
    if start == end:
        raise ConfigError(f"{key}.end", "must differ from start (a whole day is 00:00 to 24:00)")
    imp = _price(p.get("import_price_per_kwh"), f"{key}.import_price_per_kwh", required=False)
    exp = _price(p.get("export_price_per_kwh"), f"{key}.export_price_per_kwh", required=False)
    if imp is None and exp is None:
        raise ConfigError(key, "set import_price_per_kwh, export_price_per_kwh or both")
    return TariffPeriod(name, frozenset(days), start, end, imp, exp)


def _hhmm(raw: Any, key: str, allow_24: bool) -> int:
    """ "HH:MM" → minutes after midnight; "24:00" only as an end."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        # YAML 1.1 reads an unquoted 16:00 as the sexagesimal integer 960: say how to write it.
        raise ConfigError(key, f'write times quoted, as "HH:MM" (YAML read {raw!r} as a number)')
    if allow_24 and raw == "24:00":
        return 1440
    if not isinstance(raw, str) or not _HHMM_RE.match(raw):
        hint = ' or "24:00"' if allow_24 else ""
        raise ConfigError(key, f'required: a time "HH:MM" (00:00 to 23:59{hint})')
    return int(raw[:2]) * 60 + int(raw[3:])


def add_years(d: date, years: int) -> date:
    """The same calendar day ``years`` later (29 February → 28 February in a common year)."""
    year = d.year + years
    day = min(d.day, calendar.monthrange(year, d.month)[1])
    return d.replace(year=year, day=day)

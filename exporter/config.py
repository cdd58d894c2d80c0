"""Configuration: YAML in, validated frozen dataclasses out, or a ConfigError that names the key.

Validation happens once at start so a typo fails loudly before the first scrape, instead of surfacing
as a mysterious ``powerwall_up 0`` hours later. Secrets are wrapped in :class:`Secret` so no repr,
log line or landing page can print them by accident.
"""

from __future__ import annotations

import calendar
import ipaddress
import math
import os
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

DEFAULT_PORT = 443
DEFAULT_SERVER_NAME = "powerwall"
# Names the gateway accepts as SNI (it aborts handshakes with any other name).
KNOWN_SERVER_NAMES = ("powerwall", "teg", "powerpack")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_FINGERPRINT_RE = re.compile(r"^[0-9a-f]{64}$")


class ConfigError(ValueError):
    """A configuration problem, always naming the offending key path (e.g. ``gateways[0].password``)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class Secret:
    """A string that never shows itself in repr/str/format, only through :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class TLSConfig:
    ca_file: Path | None = None
    server_name: str = DEFAULT_SERVER_NAME
    fingerprint_sha256: str | None = None  # normalised: 64 lowercase hex digits, no colons
    insecure_skip_verify: bool = False

    @property
    def mode(self) -> str:
        if self.fingerprint_sha256:
            return "fingerprint"
        if self.ca_file:
            return "ca_file"
        if self.insecure_skip_verify:
            return "insecure"
        return "system"


# --- energy accounting (issue 11): tariff, battery commission date. Parsed by _energy() below. ---
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


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    name: str
    host: str
    port: int
    password: Secret
    email: str = ""
    tls: TLSConfig = field(default_factory=TLSConfig)
    timeout_seconds: float = 10.0
    # A gateway result younger than this is shared between scrapers instead of fetched again.
    min_interval_seconds: float = 5.0
    energy: EnergyConfig = field(default_factory=EnergyConfig)

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Config:
    gateways: tuple[GatewayConfig, ...]
    # Where login sessions survive restarts; None disables persistence.
    state_file: Path | None = None
    max_concurrent_requests: int = 32

    def gateway(self, name: str) -> GatewayConfig | None:
        return next((g for g in self.gateways if g.name == name), None)


def default_state_file() -> Path:
    base = os.environ.get("STATE_DIRECTORY") or os.environ.get("XDG_STATE_HOME")
    root = Path(base) if base else Path.home() / ".local" / "state"
    return root / "powerwall-exporter" / "sessions.json"


def load_config(path: str | Path) -> Config:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("config.file", f"cannot read {p}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError("config.file", f"invalid YAML{where}") from None
    return parse_config(data if data is not None else {}, base_dir=p.parent)


def parse_config(data: Any, base_dir: Path | None = None) -> Config:
    root = _mapping(data, "config")
    _reject_unknown(root, "", {"gateways", "state_file", "max_concurrent_requests"})
    raw_gateways = root.get("gateways")
    if not isinstance(raw_gateways, list) or not raw_gateways:
        raise ConfigError("gateways", "must be a non-empty list of gateways")
    gateways = tuple(_gateway(g, f"gateways[{i}]", base_dir) for i, g in enumerate(raw_gateways))
    seen: set[str] = set()
    for i, g in enumerate(gateways):
        if g.name in seen:
            raise ConfigError(f"gateways[{i}].name", f"duplicate gateway name {g.name!r}")
        seen.add(g.name)
    state: Path | None
    if "state_file" not in root:
        state = default_state_file()
    elif root["state_file"] in (None, "", False):
        state = None
    else:
        state = _path(root["state_file"], "state_file", base_dir)
    # Enough threads to fetch every endpoint of every gateway at once (a scrape then costs one
    # gateway round trip), bounded so a large fleet cannot spawn thousands of threads.
    default_mcr = min(512, max(16, 12 * len(gateways)))
    mcr = _number(root.get("max_concurrent_requests", default_mcr), "max_concurrent_requests", 1, 1024)
    return Config(gateways=gateways, state_file=state, max_concurrent_requests=int(mcr))


def _gateway(raw: Any, key: str, base_dir: Path | None) -> GatewayConfig:
    g = _mapping(raw, key)
    _reject_unknown(
        g,
        key,
        {"name", "address", "password", "password_file", "email", "tls", "timeout_seconds", "min_interval_seconds"}
        | ENERGY_KEYS,
    )
    name = g.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError(f"{key}.name", "required: letters, digits, '_', '.', '-' (becomes the label gateway=...)")
    host, port = _address(g.get("address"), f"{key}.address")
    password = _password(g, key, base_dir)
    email = g.get("email", "") or ""
    if not isinstance(email, str):
        raise ConfigError(f"{key}.email", "must be a string")
    timeout = _number(g.get("timeout_seconds", 10), f"{key}.timeout_seconds", 0.1, 300)
    min_interval = _number(g.get("min_interval_seconds", 5), f"{key}.min_interval_seconds", 0, 3600)
    tls = _tls(g.get("tls"), f"{key}.tls", base_dir)
    return GatewayConfig(
        name=name,
        host=host,
        port=port,
        password=password,
        email=_expand(email, f"{key}.email"),
        tls=tls,
        timeout_seconds=timeout,
        min_interval_seconds=min_interval,
        energy=_energy(g, key),
    )


def _address(raw: Any, key: str) -> tuple[str, int]:
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(key, "required: https URL, host or host:port of the gateway")
    text = raw.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise ConfigError(key, f"not a valid address: {exc}") from None
    if parts.scheme != "https":
        raise ConfigError(key, "the gateway only speaks HTTPS; use https://")
    if not parts.hostname:
        raise ConfigError(key, "no host in address")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(key, "give only scheme, host and port (no path, query or credentials)")
    return parts.hostname, port


def _password(g: Mapping[str, Any], key: str, base_dir: Path | None) -> Secret:
    has_pw, has_file = "password" in g, "password_file" in g
    if has_pw and has_file:
        raise ConfigError(f"{key}.password", "set either password or password_file, not both")
    if has_file:
        path = _path(g["password_file"], f"{key}.password_file", base_dir)
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{key}.password_file", f"cannot read {path}: {exc.strerror or exc}") from None
        if not value:
            raise ConfigError(f"{key}.password_file", f"{path} is empty")
        return Secret(value)
    raw = g.get("password")
    if raw is None or raw == "":
        raise ConfigError(
            f"{key}.password", "required: the gateway's customer password (password, password_file or ${ENV_VAR})"
        )
    if not isinstance(raw, str | int):
        raise ConfigError(f"{key}.password", "must be a string")
    value = _expand(str(raw), f"{key}.password")
    if not value:
        raise ConfigError(f"{key}.password", "expands to an empty string")
    return Secret(value)


def _expand(value: str, key: str) -> str:
    def repl(m: re.Match[str]) -> str:
        var = m.group(1)
        if var not in os.environ:
            raise ConfigError(key, f"environment variable {var} is not set")
        return os.environ[var]

    return _ENV_RE.sub(repl, value)


def _tls(raw: Any, key: str, base_dir: Path | None) -> TLSConfig:
    if raw is None:
        return TLSConfig()
    t = _mapping(raw, key)
    _reject_unknown(t, key, {"ca_file", "server_name", "fingerprint_sha256", "insecure_skip_verify"})
    ca_file = None
    if t.get("ca_file"):
        ca_file = _path(t["ca_file"], f"{key}.ca_file", base_dir)
        if not ca_file.is_file():
            raise ConfigError(f"{key}.ca_file", f"{ca_file} does not exist")
    server_name = t.get("server_name", DEFAULT_SERVER_NAME)
    if not isinstance(server_name, str) or not server_name:
        raise ConfigError(f"{key}.server_name", "must be a non-empty host name, e.g. powerwall")
    fp = t.get("fingerprint_sha256")
    fingerprint = None
    if fp:
        if not isinstance(fp, str):
            raise ConfigError(f"{key}.fingerprint_sha256", "must be a string of 64 hex digits")
        fingerprint = fp.replace(":", "").replace(" ", "").lower()
        if not _FINGERPRINT_RE.match(fingerprint):
            raise ConfigError(f"{key}.fingerprint_sha256", "must be 64 hex digits (SHA-256), colons optional")
    insecure = t.get("insecure_skip_verify", False)
    if not isinstance(insecure, bool):
        raise ConfigError(f"{key}.insecure_skip_verify", "must be true or false")
    if insecure and (fingerprint or ca_file):
        raise ConfigError(f"{key}.insecure_skip_verify", "cannot be combined with ca_file or fingerprint_sha256")
    if fingerprint and ca_file:
        raise ConfigError(f"{key}.fingerprint_sha256", "set either ca_file or fingerprint_sha256, not both")
    return TLSConfig(ca_file, server_name, fingerprint, insecure)


def _energy(g: Mapping[str, Any], key: str) -> EnergyConfig:
    """The energy-accounting keys of one gateway (``tariff``, ``battery_commission_date``, ...)."""
    tariff = _tariff(g["tariff"], f"{key}.tariff") if g.get("tariff") is not None else None
    commission = None
    raw_date = g.get("battery_commission_date")
    if raw_date is not None:
        commission = _date(raw_date, f"{key}.battery_commission_date")
    years = _number(g.get("battery_warranty_years", 10), f"{key}.battery_warranty_years", 1, 50)
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
    t = _mapping(raw, key)
    _reject_unknown(t, key, {"currency", "timezone", "import_price_per_kwh", "export_price_per_kwh", "periods"})
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
    p = _mapping(raw, key)
    _reject_unknown(p, key, {"name", "days", "start", "end", "import_price_per_kwh", "export_price_per_kwh"})
    name = p.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
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


def _mapping(raw: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(key, "must be a mapping")
    return raw


def _reject_unknown(m: Mapping[str, Any], key: str, allowed: set[str]) -> None:
    for k in m:
        if k not in allowed:
            where = f"{key}.{k}" if key else str(k)
            raise ConfigError(where, f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _number(raw: Any, key: str, lo: float, hi: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ConfigError(key, "must be a number")
    if not lo <= raw <= hi:
        raise ConfigError(key, f"must be between {lo} and {hi}")
    return float(raw)


def _path(raw: Any, key: str, base_dir: Path | None) -> Path:
    if not isinstance(raw, str) or not raw:
        raise ConfigError(key, "must be a file path")
    p = Path(os.path.expanduser(_expand(raw, key)))
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    return p


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True

"""Configuration: YAML in, validated frozen dataclasses out, or a ConfigError that names the key.

Validation happens once at start so a typo fails loudly before the first scrape, instead of surfacing
as a mysterious ``powerwall_up 0`` hours later. Secrets are wrapped in :class:`Secret` so no repr,
log line or landing page can print them by accident.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
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
        {"name", "address", "password", "password_file", "email", "tls", "timeout_seconds", "min_interval_seconds"},
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

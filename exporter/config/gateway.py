"""One gateway's config: address, password, TLS pin, timeouts; every field checked on its own."""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exporter.config import values as v
from exporter.config.address import DEFAULT_PORT, address
from exporter.config.energy import ENERGY_KEYS, EnergyConfig, energy_config
from exporter.config.tedapi import TedapiConfig, tedapi_config
from exporter.config.values import ConfigError, Problems, Secret

DEFAULT_SERVER_NAME = "powerwall"
_FINGERPRINT_RE = re.compile(r"^[0-9a-f]{64}$")


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
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    tedapi: TedapiConfig | None = None  # present: TEDAPI on

    # Made once: the transport keys its connections by it and builds every request's URL from it,
    # and a property made a new string each time.
    base_url: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        host = f"[{self.host}]" if ":" in self.host else self.host
        object.__setattr__(self, "base_url", f"https://{host}:{self.port}")


def gateway_config(raw: Any, key: str, base_dir: Path | None, problems: Problems) -> GatewayConfig | None:
    """One gateway's config; each field is checked on its own and its problem recorded (None if any)."""
    before = len(problems.found)
    empty: Mapping[str, Any] = {}
    g = problems.get(lambda: v.mapping(raw, key), empty)
    problems.unknown(
        g,
        key,
        {
            "name",
            "address",
            "password",
            "password_file",
            "email",
            "tls",
            "timeout_seconds",
            "min_interval_seconds",
            "tedapi",
        }
        | ENERGY_KEYS,
    )
    name = problems.get(lambda: _name(g.get("name"), f"{key}.name"), "")
    host, port = problems.get(lambda: address(g.get("address"), f"{key}.address"), ("", DEFAULT_PORT))
    password = problems.get(lambda: _password(g, key, base_dir), Secret(""))
    email = problems.get(lambda: _email(g.get("email", ""), f"{key}.email"), "")
    timeout = problems.get(lambda: v.number(g.get("timeout_seconds", 10), f"{key}.timeout_seconds", 0.1, 300), 10.0)
    min_interval = problems.get(
        lambda: v.number(g.get("min_interval_seconds", 5), f"{key}.min_interval_seconds", 0, 3600), 5.0
    )
    tls = _tls(g.get("tls"), f"{key}.tls", base_dir, problems)
    energy = problems.get(lambda: energy_config(g, key), EnergyConfig())
    tedapi = (
        tedapi_config(g.get("tedapi"), f"{key}.tedapi", (host, port), base_dir, problems) if "tedapi" in g else None
    )
    if len(problems.found) > before:
        return None
    return GatewayConfig(
        name=name,
        host=host,
        port=port,
        password=password,
        email=email,
        tls=tls,
        timeout_seconds=timeout,
        min_interval_seconds=min_interval,
        energy=energy,
        tedapi=tedapi,
    )


def _name(raw: Any, key: str) -> str:
    if not isinstance(raw, str) or not v.NAME_RE.match(raw):
        raise ConfigError(key, "required: letters, digits, '_', '.', '-' (becomes the label gateway=...)")
    return raw


def _email(raw: Any, key: str) -> str:
    if not isinstance(raw, str):
        raise ConfigError(key, "must be a string")
    return v.expand(raw or "", key)


def _password(g: Mapping[str, Any], key: str, base_dir: Path | None) -> Secret:
    return v.secret(g, key, "password", base_dir, "the gateway's customer password")


def _tls(raw: Any, key: str, base_dir: Path | None, problems: Problems) -> TLSConfig:
    if raw is None:
        return TLSConfig()
    before = len(problems.found)
    empty: Mapping[str, Any] = {}
    t = problems.get(lambda: v.mapping(raw, key), empty)
    problems.unknown(t, key, {"ca_file", "server_name", "fingerprint_sha256", "insecure_skip_verify"})
    ca_file = problems.get(lambda: _ca_file(t.get("ca_file"), f"{key}.ca_file", base_dir), None)
    server_name = problems.get(lambda: _server_name(t.get("server_name", DEFAULT_SERVER_NAME), key), "")
    fingerprint = problems.get(lambda: _fingerprint(t.get("fingerprint_sha256"), f"{key}.fingerprint_sha256"), None)
    insecure = t.get("insecure_skip_verify", False)
    if not isinstance(insecure, bool):
        problems.found.append(ConfigError(f"{key}.insecure_skip_verify", "must be true or false"))
        insecure = False
    if insecure and (fingerprint or ca_file):
        problems.found.append(
            ConfigError(f"{key}.insecure_skip_verify", "cannot be combined with ca_file or fingerprint_sha256")
        )
    if fingerprint and ca_file:
        problems.found.append(
            ConfigError(f"{key}.fingerprint_sha256", "set either ca_file or fingerprint_sha256, not both")
        )
    if len(problems.found) > before:
        return TLSConfig()
    return TLSConfig(ca_file, server_name, fingerprint, insecure)


def _ca_file(raw: Any, key: str, base_dir: Path | None) -> Path | None:
    """The pinned certificate file: it must exist, be readable and hold a PEM certificate."""
    if not raw:
        return None
    path = v.file_path(raw, key, base_dir)
    if not path.is_file():
        raise ConfigError(key, f"{path} does not exist")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(path))
    except OSError as exc:  # ssl.SSLError is an OSError too
        if isinstance(exc, ssl.SSLError):
            why = "is not a PEM certificate (get one with --tls.fetch-certificate)"
        else:
            why = f"cannot be read: {exc.strerror or exc.__class__.__name__}"
        raise ConfigError(key, f"{path} {why}") from None
    return path


def _server_name(raw: Any, key: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise ConfigError(f"{key}.server_name", "must be a non-empty host name, e.g. powerwall")
    return raw


def _fingerprint(raw: Any, key: str) -> str | None:
    if not raw:
        return None
    if not isinstance(raw, str):
        raise ConfigError(key, "must be a string of 64 hex digits")
    fingerprint = raw.replace(":", "").replace(" ", "").lower()
    if not _FINGERPRINT_RE.match(fingerprint):
        raise ConfigError(key, "must be 64 hex digits (SHA-256), colons optional")
    return fingerprint

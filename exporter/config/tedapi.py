"""A gateway's ``tedapi:`` block: its paths (WiFi, v1r or both), the signed queries, the cadence.

Present means TEDAPI is on. Two paths reach it (shared/docs/tedapi.md §1, §6):

* **WiFi**: the full gateway password (``gateway_password(_file)``) on the gateway's access point
  (``address``). The password is not the customer password: it opens the gateway's control messages
  too, so it is a :class:`~exporter.config.values.Secret` like the other.
* **v1r**: ``v1r_key_file``, the owner's registered RSA key, signs each request to the gateway's
  home-LAN address (the gateway's own ``address``); ``din`` spares the DIN read with the customer
  session. With only this path, no gateway password is needed and nothing goes to WiFi.

With both, the leader is read over v1r and followers over WiFi, and the leader falls back to WiFi
when the LAN fails; then ``address`` (the WiFi address) is required, since it cannot be the LAN one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporter.config import values as v
from exporter.config.address import address
from exporter.config.values import ConfigError, Problems, Secret

KEYS = {
    "v1r_key_file",
    "din",
    "gateway_password",
    "gateway_password_file",
    "address",
    "queries_file",
    "query_public_key_file",
    "min_interval_seconds",
}
DEFAULT_MIN_INTERVAL_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class TedapiConfig:
    gateway_password: Secret | None  # None: no WiFi path
    host: str  # the WiFi host (the gateway's own address when unset)
    port: int
    queries_file: Path | None = None  # None: the signed queries of an installed pypowerwall
    # Verify the queries against this key instead of Tesla's (a test rig signing its own queries):
    # the PEM, read when the config is loaded.
    query_public_key: bytes | None = None
    min_interval_seconds: float = DEFAULT_MIN_INTERVAL_SECONDS
    v1r_key_file: Path | None = None  # None: no v1r path
    din: str | None = None  # the leader's DIN, when given

    @property
    def wifi(self) -> bool:
        return self.gateway_password is not None

    @property
    def v1r(self) -> bool:
        return self.v1r_key_file is not None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"


def tedapi_config(
    raw: Any, key: str, gateway_address: tuple[str, int], base_dir: Path | None, problems: Problems
) -> TedapiConfig | None:
    before = len(problems.found)
    empty: Mapping[str, Any] = {}
    t = problems.get(lambda: v.mapping(raw, key), empty)
    problems.unknown(t, key, KEYS)
    key_file = problems.get(lambda: _existing_file(t, "v1r_key_file", key, base_dir), None)
    has_password = "gateway_password" in t or "gateway_password_file" in t
    # By value, not by presence: an empty or null v1r_key_file (a blanked template, a value commented
    # out) is no key, so it neither spares the password nor asks for the WiFi address.
    has_key = t.get("v1r_key_file") not in (None, "")
    password: Secret | None = None
    if has_password or not has_key:
        password = problems.get(
            lambda: v.secret(
                t,
                key,
                "gateway_password",
                base_dir,
                "the full gateway password from the QR sticker, or v1r_key_file for the signed LAN path",
            ),
            Secret(""),
        )
    din = problems.get(lambda: _din(t, key), None)
    host, port = gateway_address
    if "address" in t:
        host, port = problems.get(lambda: address(t["address"], f"{key}.address"), gateway_address)
    elif has_password and has_key:
        problems.found.append(
            ConfigError(
                f"{key}.address",
                "required with both v1r_key_file and a gateway password: the gateway's WiFi address "
                "(https://192.168.91.1); v1r uses the gateway's own address",
            )
        )
    queries = problems.get(lambda: _existing_file(t, "queries_file", key, base_dir), None)
    public_key = problems.get(lambda: _public_key(t, key, base_dir), None)
    interval = problems.get(
        lambda: v.number(
            t.get("min_interval_seconds", DEFAULT_MIN_INTERVAL_SECONDS), f"{key}.min_interval_seconds", 1, 3600
        ),
        DEFAULT_MIN_INTERVAL_SECONDS,
    )
    if len(problems.found) > before:
        return None
    return TedapiConfig(password, host, port, queries, public_key, interval, key_file, din)


def _din(t: Mapping[str, Any], key: str) -> str | None:
    raw = t.get("din")
    if raw in (None, ""):
        return None
    if not isinstance(raw, str) or not v.DIN_RE.match(raw.strip()):
        raise ConfigError(f"{key}.din", "not a DIN (like 1707000-30-L--TG1234567890AB)")
    return raw.strip()


def _public_key(t: Mapping[str, Any], key: str, base_dir: Path | None) -> bytes | None:
    path = _existing_file(t, "query_public_key_file", key, base_dir)
    if path is None:
        return None
    try:
        pem = path.read_bytes()[:16384]
    except OSError as exc:
        raise ConfigError(f"{key}.query_public_key_file", f"cannot read {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN PUBLIC KEY-----" not in pem:
        raise ConfigError(f"{key}.query_public_key_file", f"{path} is not a PEM public key")
    return pem


def _existing_file(t: Mapping[str, Any], name: str, key: str, base_dir: Path | None) -> Path | None:
    if t.get(name) in (None, ""):
        return None
    path = v.file_path(t[name], f"{key}.{name}", base_dir)
    if not path.is_file():
        raise ConfigError(f"{key}.{name}", f"{path} does not exist or is not a file")
    return path

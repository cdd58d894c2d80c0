"""A gateway's ``tedapi:`` block: the full gateway password, the TEDAPI host, the signed queries.

Present means TEDAPI is on. The gateway password is not the customer password: it opens the
gateway's control messages too, so it is a :class:`~exporter.config.values.Secret` like the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporter.config import values as v
from exporter.config.values import ConfigError, Problems, Secret

KEYS = {
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
    gateway_password: Secret
    host: str
    port: int
    queries_file: Path | None = None  # None: the signed queries of an installed pypowerwall
    # Verify the queries against this key instead of Tesla's (a test rig signing its own queries).
    query_public_key_file: Path | None = None
    min_interval_seconds: float = DEFAULT_MIN_INTERVAL_SECONDS

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"


def tedapi_config(
    raw: Any, key: str, gateway_address: tuple[str, int], base_dir: Path | None, problems: Problems
) -> TedapiConfig | None:
    from exporter.config.gateway import address  # the same address rules as the gateway's

    before = len(problems.found)
    empty: Mapping[str, Any] = {}
    t = problems.get(lambda: v.mapping(raw, key), empty)
    problems.unknown(t, key, KEYS)
    password = problems.get(
        lambda: v.secret(t, key, "gateway_password", base_dir, "the full gateway password from the QR sticker"),
        Secret(""),
    )
    host, port = gateway_address
    if "address" in t:
        host, port = problems.get(lambda: address(t["address"], f"{key}.address"), gateway_address)
    queries = problems.get(lambda: _existing_file(t, "queries_file", key, base_dir), None)
    public_key = problems.get(lambda: _existing_file(t, "query_public_key_file", key, base_dir), None)
    interval = problems.get(
        lambda: v.number(
            t.get("min_interval_seconds", DEFAULT_MIN_INTERVAL_SECONDS), f"{key}.min_interval_seconds", 1, 3600
        ),
        DEFAULT_MIN_INTERVAL_SECONDS,
    )
    if len(problems.found) > before:
        return None
    return TedapiConfig(password, host, port, queries, public_key, interval)


def _existing_file(t: Mapping[str, Any], name: str, key: str, base_dir: Path | None) -> Path | None:
    if t.get(name) in (None, ""):
        return None
    path = v.file_path(t[name], f"{key}.{name}", base_dir)
    if not path.is_file():
        raise ConfigError(f"{key}.{name}", f"{path} does not exist or is not a file")
    return path

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
    # Verify the queries against this key instead of Tesla's (a test rig signing its own queries):
    # the PEM, read when the config is loaded.
    query_public_key: bytes | None = None
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
    public_key = problems.get(lambda: _public_key(t, key, base_dir), None)
    interval = problems.get(
        lambda: v.number(
            t.get("min_interval_seconds", DEFAULT_MIN_INTERVAL_SECONDS), f"{key}.min_interval_seconds", 1, 3600
        ),
        DEFAULT_MIN_INTERVAL_SECONDS,
    )
    if queries is not None:
        problems.get(lambda: _usable_queries(queries, public_key, f"{key}.queries_file"), None)
    if len(problems.found) > before:
        return None
    return TedapiConfig(password, host, port, queries, public_key, interval)


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


def _usable_queries(path: Path, public_key: bytes | None, key: str) -> None:
    """A queries_file the user named must hold usable signed queries: a bad one fails at start.

    (Without queries_file, a missing pypowerwall only turns TEDAPI off, with a log line.)
    """
    from exporter.sources.tedapi import queries  # the loader's own rules, not a second copy

    keys = (public_key,) if public_key is not None else (queries.TESLA_PUBLIC_KEY,)
    report = queries.inspect(path, keys)
    if report.queries is None:
        raise ConfigError(key, report.off_reason or "no usable signed queries")


def _existing_file(t: Mapping[str, Any], name: str, key: str, base_dir: Path | None) -> Path | None:
    if t.get(name) in (None, ""):
        return None
    path = v.file_path(t[name], f"{key}.{name}", base_dir)
    if not path.is_file():
        raise ConfigError(f"{key}.{name}", f"{path} does not exist or is not a file")
    return path

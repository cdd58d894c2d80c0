"""``--web.config.file`` in the Prometheus exporter-toolkit format: TLS and basic auth for /metrics.

Same file format as Go exporters (``tls_server_config``, ``basic_auth_users`` with bcrypt hashes),
so one web config and one ``promtool check web-config`` serve a whole fleet. ``/healthz``, ``/-/healthy``
and ``/-/ready`` stay open for probes; everything else (``/-/reload`` too) requires auth when users are
configured.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import secrets
import ssl
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exporter.config import ConfigError

log = logging.getLogger(__name__)

_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}


@dataclass(frozen=True)
class TLSServerConfig:
    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None
    client_auth_type: str = "NoClientCert"
    min_version: str = "TLS12"


_MAX_CACHED = 256  # distinct good credentials remembered; Prometheus sends one header per job
_BCRYPT_MAX_PASSWORD = 72  # bcrypt ignores (bcrypt>=4.1: refuses) longer passwords


def _cost(hashed: bytes) -> int:
    """The work factor of a ``$2b$10$...`` hash, so the dummy hash can cost the same."""
    try:
        return min(31, max(4, int(hashed.split(b"$")[2])))
    except (IndexError, ValueError):
        return 10


@dataclass
class WebConfig:
    tls: TLSServerConfig | None = None
    users: Mapping[str, bytes] = field(default_factory=dict)  # user -> bcrypt hash
    _ok_cache: OrderedDict[bytes, None] = field(default_factory=OrderedDict, repr=False)
    _cache_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    _dummy_hash: bytes | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.users and self._dummy_hash is None:
            import bcrypt  # optional dependency, checked at load time

            # An unknown user is checked against this, at the cost of the dearest configured hash, so
            # that answering "no such user" takes as long as "wrong password" (as exporter-toolkit does).
            cost = max(_cost(h) for h in self.users.values())
            self._dummy_hash = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=cost))

    def authorize(self, header: str | None) -> bool:
        """Whether ``header`` (an ``Authorization`` value) passes; never raises.

        Anything unexpected counts as a refusal: an auth bug must give the client a 401, not a 500.
        """
        if not self.users:
            return True
        try:
            return self._check(header)
        except Exception as exc:
            log.warning("basic auth check failed (%s); refusing the request", exc.__class__.__name__)
            return False

    def _check(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, credentials = header.strip().partition(" ")
        if scheme.lower() != "basic":  # auth schemes are case-insensitive (RFC 9110 11.1)
            return False
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, colon, password = decoded.partition(":")
        if not colon:
            return False
        # bcrypt is deliberately slow; Prometheus sends the same header every scrape, so successful
        # verifications are remembered by a keyed digest (never the password itself). Failures are
        # not cached: that would let a guesser fill the cache and evict the real scraper.
        key = hmac.digest(self._cache_key, decoded.encode("utf-8"), "sha256")
        with self._lock:
            if key in self._ok_cache:
                self._ok_cache.move_to_end(key)
                return True
        secret = password.encode("utf-8")
        if len(secret) > _BCRYPT_MAX_PASSWORD:
            return False  # the length is the client's own knowledge: answering fast reveals nothing
        import bcrypt  # optional dependency, checked at load time

        hashed = self.users.get(user)
        if hashed is None:
            assert self._dummy_hash is not None
            bcrypt.checkpw(secret, self._dummy_hash)
            return False
        if not bcrypt.checkpw(secret, hashed):
            return False
        with self._lock:
            self._ok_cache[key] = None
            while len(self._ok_cache) > _MAX_CACHED:
                self._ok_cache.popitem(last=False)
        return True

    def server_ssl_context(self) -> ssl.SSLContext | None:
        if self.tls is None:
            return None
        t = self.tls
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = _TLS_VERSIONS[t.min_version]
        ctx.load_cert_chain(str(t.cert_file), str(t.key_file))
        ctx.verify_mode = _CLIENT_AUTH[t.client_auth_type]
        if t.client_ca_file is not None:
            ctx.load_verify_locations(cafile=str(t.client_ca_file))
        return ctx


def load_web_config(path: str | Path | None) -> WebConfig:
    if path is None:
        return WebConfig()
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError("web.config.file", f"cannot read {p}: {exc.strerror or exc}") from None
    except yaml.YAMLError:
        raise ConfigError("web.config.file", f"{p} is not valid YAML") from None
    if not isinstance(data, Mapping):
        raise ConfigError("web.config.file", "must be a mapping")
    for key in data:
        if key not in ("tls_server_config", "basic_auth_users", "http_server_config"):
            raise ConfigError(f"web.config.file: {key}", "unknown key")
    tls = _tls(data.get("tls_server_config"), p.parent)
    users = _users(data.get("basic_auth_users"))
    web = WebConfig(tls=tls, users=users)
    try:
        web.server_ssl_context()
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("tls_server_config", f"cannot load certificate/key: {exc}") from None
    return web


def _tls(raw: Any, base: Path) -> TLSServerConfig | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError("tls_server_config", "must be a mapping")
    allowed = {
        "cert_file",
        "key_file",
        "client_ca_file",
        "client_auth_type",
        "min_version",
        "cipher_suites",
        "max_version",
        "prefer_server_cipher_suites",
        "curve_preferences",
    }
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"tls_server_config.{key}", "unknown key")

    def path(key: str, required: bool) -> Path | None:
        v = raw.get(key)
        if not v:
            if required:
                raise ConfigError(f"tls_server_config.{key}", "required")
            return None
        if not isinstance(v, str):
            raise ConfigError(f"tls_server_config.{key}", "must be a file path")
        p = Path(v)
        return p if p.is_absolute() else base / p

    cert, key = path("cert_file", True), path("key_file", True)
    assert cert is not None and key is not None
    auth = raw.get("client_auth_type", "NoClientCert")
    if auth not in _CLIENT_AUTH:
        raise ConfigError("tls_server_config.client_auth_type", f"one of {', '.join(_CLIENT_AUTH)}")
    ca = path("client_ca_file", False)
    if auth in ("RequireAndVerifyClientCert", "VerifyClientCertIfGiven") and ca is None:
        raise ConfigError("tls_server_config.client_ca_file", f"required with client_auth_type {auth}")
    version = raw.get("min_version", "TLS12")
    if version not in _TLS_VERSIONS:
        raise ConfigError("tls_server_config.min_version", f"one of {', '.join(_TLS_VERSIONS)}")
    return TLSServerConfig(cert, key, ca, auth, version)


def _users(raw: Any) -> dict[str, bytes]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError("basic_auth_users", "must map user names to bcrypt hashes")
    users: dict[str, bytes] = {}
    for user, hashed in raw.items():
        if not isinstance(user, str) or not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise ConfigError(f"basic_auth_users.{user}", "must be a bcrypt hash ($2y$...)")
        users[user] = hashed.encode()
    if users:
        try:
            import bcrypt  # noqa: F401
        except ImportError:
            raise ConfigError(
                "basic_auth_users", "needs the bcrypt package: pip install 'powerwall-exporter[web]'"
            ) from None
    return users

"""The address of a gateway (or of its WiFi access point): an HTTPS URL, host or host:port.

Apart from the gateway block because the ``tedapi:`` block's WiFi address follows the same rules,
and both blocks import it from here instead of from each other.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from exporter.config.values import ConfigError

DEFAULT_PORT = 443
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def address(raw: Any, key: str) -> tuple[str, int]:
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
    if not _is_host(parts.hostname):
        raise ConfigError(key, f"{parts.hostname!r} is not a host name or IP address")
    return parts.hostname, port


def _is_host(host: str) -> bool:
    """An IP address, or a DNS name whose labels are letters, digits and inner hyphens (RFC 1123)."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return len(host) <= 253 and all(_HOST_LABEL.match(label) for label in labels) and not labels[-1].isdigit()

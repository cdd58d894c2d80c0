"""TLS to the gateway: pin its self-signed certificate, send the SNI name it accepts.

The gateway's certificate never names the LAN address the user types, and the gateway aborts
handshakes whose SNI is not a name it knows. So we connect to the configured address but send and
verify ``server_name`` (default ``powerwall``). ``requests`` has no switch for that: a transport
adapter configures urllib3's pool directly and ignores the per-request ``verify`` plumbing, which is
also what makes ``REQUESTS_CA_BUNDLE`` in the environment unable to silently replace the pin.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
from typing import Any

from requests.adapters import HTTPAdapter

from exporter.config import TLSConfig


def build_ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # urllib3 matches the host name itself against ``assert_hostname``; the context must not also try
    # to match the connect address.
    ctx.check_hostname = False
    if tls.mode in ("fingerprint", "insecure"):
        # Fingerprint: urllib3 compares the peer certificate's SHA-256 after the handshake, which is a
        # stronger pin than a chain; the chain itself is not evaluated.
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx.verify_mode = ssl.CERT_REQUIRED
    if tls.mode == "ca_file":
        ctx.load_verify_locations(cafile=str(tls.ca_file))
        # The pinned certificate is a self-signed leaf: allow it as trust anchor, and do not demand
        # the RFC 5280 extensions that strict mode wants and the gateway's certificate lacks.
        ctx.verify_flags |= getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)
        ctx.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
    else:
        ctx.load_default_certs()
    return ctx


class GatewayAdapter(HTTPAdapter):
    """An HTTPS adapter bound to one gateway's TLS settings."""

    def __init__(self, tls: TLSConfig, pool_maxsize: int = 4) -> None:
        self._tls = tls
        self._ctx = build_ssl_context(tls)
        super().__init__(pool_connections=1, pool_maxsize=pool_maxsize, max_retries=0, pool_block=False)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **kw: Any) -> None:
        kw["ssl_context"] = self._ctx
        kw["server_hostname"] = self._tls.server_name
        if self._tls.mode == "fingerprint":
            kw["assert_fingerprint"] = self._tls.fingerprint_sha256
            kw["cert_reqs"] = "CERT_NONE"
        elif self._tls.mode == "insecure":
            kw["cert_reqs"] = "CERT_NONE"
            kw["assert_hostname"] = False
        else:
            kw["cert_reqs"] = "CERT_REQUIRED"
            kw["assert_hostname"] = self._tls.server_name
        super().init_poolmanager(connections, maxsize, block, **kw)

    def build_connection_pool_key_attributes(self, request: Any, verify: Any, cert: Any = None) -> Any:
        # Drop requests' verify/CA-bundle pool kwargs: the pool's own TLS settings are the only truth.
        host_params, _ = super().build_connection_pool_key_attributes(request, verify, cert)
        return host_params, {}

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Intentionally empty: see build_connection_pool_key_attributes."""


def fetch_certificate(host: str, port: int, server_name: str, timeout: float = 10.0) -> tuple[str, str]:
    """Fetch the gateway's certificate for pinning: (PEM text, SHA-256 fingerprint with colons).

    Used by the ``--tls.fetch-certificate`` helper: trust on first use, done explicitly by the user.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((host, port), timeout=timeout) as sock,
        ctx.wrap_socket(sock, server_hostname=server_name) as tls_sock,
    ):
        der = tls_sock.getpeercert(binary_form=True)
    if der is None:
        raise ssl.SSLError("the gateway sent no certificate")
    return ssl.DER_cert_to_PEM_cert(der), fingerprint_of(der)


def fingerprint_of(der: bytes) -> str:
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))

"""TLS to the gateway: pin its self-signed certificate, send the SNI name it accepts.

The gateway's certificate never names the LAN address the user types, and the gateway aborts
handshakes whose SNI is not a name it knows. So we connect to the configured address but send and
verify ``server_name`` (default ``powerwall``). :func:`connection_pool` builds urllib3's pool with
exactly these settings and nothing else: no CA bundle, proxy or other setting is ever read from the
environment (``REQUESTS_CA_BUNDLE``, ``HTTPS_PROXY``), so none can silently replace the pin.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
from typing import Any

from urllib3 import HTTPSConnectionPool

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


def connection_pool(tls: TLSConfig, ctx: ssl.SSLContext, host: str, port: int, maxsize: int) -> HTTPSConnectionPool:
    """A keep-alive pool of at most ``maxsize`` idle connections to ``host:port`` with ``tls``'s pin.

    ``block=False``: a request beyond ``maxsize`` opens a connection of its own (closed after use);
    the callers bound their concurrency themselves (:mod:`exporter.gateway.bounded_domain`).
    """
    kw: dict[str, Any] = {"ssl_context": ctx, "server_hostname": tls.server_name}
    if tls.mode == "fingerprint":
        kw["assert_fingerprint"] = tls.fingerprint_sha256
        kw["cert_reqs"] = "CERT_NONE"
    elif tls.mode == "insecure":
        kw["cert_reqs"] = "CERT_NONE"
        kw["assert_hostname"] = False
    else:
        kw["cert_reqs"] = "CERT_REQUIRED"
        kw["assert_hostname"] = tls.server_name
    return HTTPSConnectionPool(host, port, maxsize=maxsize, block=False, retries=False, **kw)


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

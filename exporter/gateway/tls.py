"""TLS to the gateway: pin its self-signed certificate, send the SNI name it accepts.

The gateway's certificate never names the LAN address the user types, and the gateway aborts
handshakes whose SNI is not a name it knows. So we connect to the configured address but send and
verify ``server_name`` (default ``powerwall``): :mod:`exporter.gateway.wire` wraps every socket with
``server_hostname=server_name`` and compares a fingerprint pin itself. The contexts built here load
exactly the configured trust and nothing else: no CA bundle, proxy or other setting is ever read
from the environment (``REQUESTS_CA_BUNDLE``, ``HTTPS_PROXY``), so none can silently replace the pin.
The one exception is the ``system`` mode, whose trust is by definition the machine's: it asks
OpenSSL for its default locations, which OpenSSL's own ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` move,
as they do for every OpenSSL program on the machine. A pin (``fingerprint``, ``ca_file``) never
looks there.

Channels with equal TLS settings share one context (:func:`shared_ssl_context`): a replica watching
1,000 gateways pinned by fingerprint needs one context, not 1,000 (each holds its own OpenSSL state).
"""

from __future__ import annotations

import hashlib
import ssl
import threading
import time
import weakref
from pathlib import Path

from exporter.config import TLSConfig
from exporter.gateway.resolve import RESOLVER, Resolver
from exporter.gateway.wire import tcp_connect

# Contexts in use, by what makes them differ (see _context_key); one goes when no channel holds it.
_SHARED: weakref.WeakValueDictionary[tuple[str, ...], ssl.SSLContext] = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()


def build_ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    """A fresh client context for ``tls``'s mode (see :func:`shared_ssl_context` for the one to use)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.mode in ("fingerprint", "insecure"):
        # Fingerprint: the wire compares the peer certificate's SHA-256 after the handshake, which is
        # a stronger pin than a chain; the chain itself is not evaluated.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    # The chain and the host name (``server_name``, which the wire passes as server_hostname).
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = True
    if tls.mode == "ca_file":
        ctx.load_verify_locations(cafile=str(tls.ca_file))
        # The pinned certificate is a self-signed leaf: allow it as trust anchor, and do not demand
        # the RFC 5280 extensions that strict mode wants and the gateway's certificate lacks.
        ctx.verify_flags |= getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)
        ctx.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
    else:
        ctx.load_default_certs()
    return ctx


def shared_ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    """The context for ``tls``, shared with every channel whose TLS settings build the same one."""
    key = _context_key(tls)
    with _SHARED_LOCK:
        ctx = _SHARED.get(key)
        if ctx is None:
            ctx = _SHARED[key] = build_ssl_context(tls)
        return ctx


def _context_key(tls: TLSConfig) -> tuple[str, ...]:
    """What makes two contexts differ. Not the fingerprint (checked per connection, not by the
    context) nor ``server_name`` (passed per connection). A CA file by its content as well as its
    path: a file replaced with a new pin (and a reload) must not find the old context."""
    mode = tls.mode
    if mode in ("fingerprint", "insecure"):
        return ("unverified",)
    if mode == "ca_file":
        path = Path(str(tls.ca_file))
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            digest = ""  # build_ssl_context reports the unreadable file
        return (mode, str(path), digest)
    return (mode,)


def fetch_certificate(
    host: str, port: int, server_name: str, timeout: float = 10.0, resolver: Resolver = RESOLVER
) -> tuple[str, str]:
    """Fetch the gateway's certificate for pinning: (PEM text, SHA-256 fingerprint with colons).

    Used by the ``--tls.fetch-certificate`` helper: trust on first use, done explicitly by the user.
    Lookup, connection and handshake end within ``timeout`` together: ``socket.create_connection``
    bounded the connection only, and a name server that did not answer held the command for as
    long as the system resolver tried (:mod:`exporter.gateway.resolve`).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    until = time.monotonic() + timeout
    addresses = resolver.addresses(host, port, timeout)
    with (
        tcp_connect(addresses, time.monotonic, until) as sock,  # its timeout: the time left, for the handshake too
        ctx.wrap_socket(sock, server_hostname=server_name) as tls_sock,
    ):
        der = tls_sock.getpeercert(binary_form=True)
    if der is None:
        raise ssl.SSLError("the gateway sent no certificate")
    return ssl.DER_cert_to_PEM_cert(der), fingerprint_of(der)


def fingerprint_of(der: bytes) -> str:
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))

"""The simulated gateway's TLS identity: its self-signed certificate on disk, the server context
new connections are wrapped in, and the SNI check a real gateway makes.

Why a module of its own: the certificate outlives connections and can be replaced (a rotation, as
after a firmware update) while the gateway serves; that life cycle, and the files ``ssl`` insists on
reading, have nothing to do with answering requests (:mod:`exporter.simulator.server`) or with
running a TLS handshake per connection (:mod:`exporter.simulator.handler`).
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

from exporter.simulator.certs import CertBundle
from exporter.simulator.handler import SNI_NAMES

logger = logging.getLogger(__name__)


class GatewayTls:
    """The current certificate (and its files in ``directory``) and the server context using it."""

    def __init__(self, directory: Path, bundle: CertBundle) -> None:
        self._directory = directory
        self._generation = 0
        self.install(bundle)

    def install(self, bundle: CertBundle) -> None:
        """Serve ``bundle`` to new connections. Each certificate gets files of its own, so the old
        file keeps the old certificate."""
        self._generation += 1
        cert_path = self._directory / f"gateway-cert-{self._generation}.pem"
        key_path = self._directory / f"gateway-key-{self._generation}.pem"
        cert_path.write_bytes(bundle.cert_pem)
        key_path.touch(mode=0o600)
        key_path.write_bytes(bundle.key_pem)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert_path, key_path)
        ctx.sni_callback = _sni_check
        self._bundle = bundle
        self._cert_path = cert_path
        self._context = ctx

    @property
    def context(self) -> ssl.SSLContext:
        """The server-side context new connections are wrapped in (:meth:`install` replaces it)."""
        return self._context

    @property
    def bundle(self) -> CertBundle:
        return self._bundle

    @property
    def cert_path(self) -> Path:
        return self._cert_path

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting exactly this certificate; connect with server_hostname="powerwall"."""
        ctx = ssl.create_default_context(cafile=str(self._cert_path))
        return ctx


def _sni_check(sslobj: ssl.SSLObject, server_name: str | None, ctx: ssl.SSLContext) -> int | None:
    """Abort a handshake whose SNI names none of the gateway's names (a bare IP sends no SNI: fine)."""
    if server_name is not None and server_name.lower() not in SNI_NAMES:
        logger.debug("aborting handshake: unexpected SNI %r", server_name)
        return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
    return None

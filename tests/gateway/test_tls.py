"""TLS settings against the real gateway certificate from the shared captures."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from exporter.config import TLSConfig, parse_config
from exporter.gateway.tls import build_ssl_context, fingerprint_of
from tests.conftest import require_fixtures


@pytest.fixture
def gateway_pem() -> Path:
    return require_fixtures() / "tls" / "gateway-selfsigned-example.pem"


def test_real_gateway_certificate_loads_as_a_pin(gateway_pem: Path) -> None:
    cfg = parse_config(
        {"gateways": [{"name": "g", "address": "192.0.2.1", "password": "x", "tls": {"ca_file": str(gateway_pem)}}]}
    )
    ctx = build_ssl_context(cfg.gateways[0].tls)
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.get_ca_certs(), "the pinned certificate is the only trust anchor"
    assert len(ctx.get_ca_certs()) == 1
    assert ctx.verify_flags & ssl.VERIFY_X509_PARTIAL_CHAIN
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_fingerprint_matches_an_independent_computation(gateway_pem: Path) -> None:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes

    pem = gateway_pem.read_bytes()
    block = pem.decode()[pem.decode().index("-----BEGIN CERTIFICATE-----") :]
    der = ssl.PEM_cert_to_DER_cert(block.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n")
    expected = x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA256()).hex().upper()
    assert fingerprint_of(der).replace(":", "") == expected
    # The printed form is accepted by the config as a pin.
    tls = (
        parse_config(
            {
                "gateways": [
                    {
                        "name": "g",
                        "address": "192.0.2.1",
                        "password": "x",
                        "tls": {"fingerprint_sha256": fingerprint_of(der)},
                    }
                ]
            }
        )
        .gateways[0]
        .tls
    )
    assert tls.fingerprint_sha256 == expected.lower()


def test_modes() -> None:
    assert build_ssl_context(TLSConfig(insecure_skip_verify=True)).verify_mode == ssl.CERT_NONE
    assert build_ssl_context(TLSConfig(fingerprint_sha256="ab" * 32)).verify_mode == ssl.CERT_NONE
    assert build_ssl_context(TLSConfig()).verify_mode == ssl.CERT_REQUIRED

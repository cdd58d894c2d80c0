"""Self-signed certificate shaped like the gateway's own.

The real one (shared/fixtures/tls/gateway-selfsigned-example.pem) is an EC P-256, CA:TRUE,
self-signed certificate with Tesla subject fields, a random hex CN, a 25-year validity, SANs
``teg``/``powerwall``/``powerpack``/192.168.90.1/192.168.90.2/192.168.91.1 and no key identifiers.
We mirror those properties, in particular *not* 127.0.0.1, so that the exporter's TLS code is tested
against the same verification failures a real LAN IP produces.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import secrets
import ssl
from dataclasses import dataclass

SAN_DNS = ("teg", "powerwall", "powerpack")
SAN_IPS = ("192.168.90.1", "192.168.90.2", "192.168.91.1")


class CryptographyMissingError(ImportError):
    """Raised when the optional ``cryptography`` dependency (extra ``demo``/``test``) is absent."""


@dataclass(frozen=True, slots=True)
class CertBundle:
    cert_pem: bytes
    key_pem: bytes

    @property
    def fingerprint_sha256(self) -> str:
        der = ssl.PEM_cert_to_DER_cert(self.cert_pem.decode("ascii"))
        return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def generate_certificate() -> CertBundle:
    """New key and self-signed certificate (a few milliseconds: EC keys are cheap)."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise CryptographyMissingError(
            "the simulated gateway needs the 'cryptography' package to make its self-signed "
            "certificate; install the extra: pip install 'powerwall-exporter[demo]'"
        ) from exc

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "California"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Palo Alto"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tesla"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Tesla Energy Products"),
            x509.NameAttribute(NameOID.COMMON_NAME, secrets.token_hex(16)),
        ]
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in SAN_DNS]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SAN_IPS]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365 * 25))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertBundle(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )

"""Signed GraphQL queries as the simulated gateway checks them (shared/docs/tedapi.md §2, §3).

Why here and not the exporter's loader: the simulator decides whether a query's signature is good
(a bad one is answered UNAUTHORIZED), and must decide it by its own reading of the docs. The facts:
the signature covers the serialised ``SignedGraphQLQuery{version(1) uint32, query(2) bytes}`` and
nothing else (not the variables); the format is ``SIGNED_SHA256_ECDSA_ASN1``, a DER ECDSA signature
with SHA-256, by a P-521 key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from exporter.simulator.tedapi.wire import bytes_field, int_field

logger = logging.getLogger(__name__)

CURVE = "secp521r1"  # P-521 (§3)


def signed_bytes(version: int, text: bytes) -> bytes:
    """``SignedGraphQLQuery{version, text}`` as a proto3 encoder writes it: field 1 (uint32) then
    field 2 (bytes), each left out at its default (0, empty). What the signature covers and what
    goes in the request's ``query`` field, byte for byte."""
    if not 0 <= version < 1 << 32:
        raise ValueError("version is a uint32")
    return (int_field(1, version) if version else b"") + (bytes_field(2, text) if text else b"")


def verify(signed: bytes, signature: bytes, keys: Sequence[bytes]) -> bool:
    """Whether ``signature`` (DER ECDSA, SHA-256) over ``signed`` verifies under one of the PEM
    public ``keys`` on P-521. False without ``cryptography``, for a key on another curve or one
    that is no EC key: the gateway trusts one P-521 key and nothing else."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_pem_public_key
    except ImportError:  # pragma: no cover - the demo/test extras bring it
        logger.warning("cryptography is not installed: every signed query is UNAUTHORIZED")
        return False
    for pem in keys:
        key = load_pem_public_key(pem)
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != CURVE:
            logger.debug("ignoring a trusted query key that is not on %s", CURVE)
            continue
        try:
            key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):  # ValueError: a signature that is no DER at all
            continue
        return True
    return False

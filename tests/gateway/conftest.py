"""Fixtures shared by the gateway tests that run the scripted TLS server (``test_wire``, ``test_resolve``)."""

from __future__ import annotations

import pytest

from exporter.simulator.certs import CertBundle, generate_certificate


@pytest.fixture(scope="module")
def bundle() -> CertBundle:
    """A throwaway certificate and key for the scripted server (one per module: making one takes a while)."""
    return generate_certificate()

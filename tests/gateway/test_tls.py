"""TLS to the gateway: settings against the real gateway certificate, and every pin mode against the simulator."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from exporter.config import TLSConfig, parse_config
from exporter.gateway.outcomes import Fetched, FetchError
from exporter.gateway.tls import build_ssl_context, fingerprint_of
from exporter.simulator import SimulatedGateway
from exporter.simulator.certs import generate_certificate
from exporter.sources.json_api import endpoints as ep
from tests.support.net import free_port
from tests.support.prereqs import require_fixtures
from tests.support.wiring import deadline, gateway_config, make_collector, make_transport


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


# ------------------------------------------------------------ pins against the simulated gateway
def test_fingerprint_pin_accepts_the_right_certificate(sim: SimulatedGateway) -> None:
    client = make_transport(gateway_config(sim, tls=TLSConfig(fingerprint_sha256=_fp(sim.fingerprint_sha256))))
    assert isinstance(client.fetch(ep.SOE, deadline()), Fetched)
    client.close()


def test_changed_certificate_is_a_clear_error(sim: SimulatedGateway, tmp_path: Path) -> None:
    fp = sim.fingerprint_sha256.replace(":", "").lower()
    old_ca = tmp_path / "old.pem"
    old_ca.write_bytes(sim.cert_pem)
    client = make_transport(gateway_config(sim, tls=TLSConfig(fingerprint_sha256=fp)))
    ca_client = make_transport(gateway_config(sim, tls=TLSConfig(ca_file=old_ca)))
    assert isinstance(ca_client.fetch(ep.SOE, deadline()), Fetched)
    sim.rotate_certificate()
    r = client.fetch(ep.SOE, deadline())
    assert isinstance(r, FetchError) and r.reason == "tls_pin_mismatch"
    assert "pinned fingerprint" in str(r)
    # A CA-file pin of the old certificate fails too: the new chain no longer verifies.
    ca_client.close()  # drop the kept-alive connection made with the old certificate
    r = ca_client.fetch(ep.OPERATION, deadline())
    assert isinstance(r, FetchError) and r.reason == "tls"
    client.close()
    ca_client.close()


CA_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
PROXY_ENV = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def _fp(colons: str) -> str:
    """TLSConfig wants the normalised form (the config loader normalises what users write)."""
    return colons.replace(":", "").lower()


def _pins(sim: SimulatedGateway) -> dict[str, TLSConfig]:
    return {
        "ca_file": TLSConfig(ca_file=Path(sim.cert_path)),
        "fingerprint": TLSConfig(fingerprint_sha256=_fp(sim.fingerprint_sha256)),
    }


@pytest.mark.parametrize("pin", ["ca_file", "fingerprint"])
def test_a_hostile_environment_does_not_break_the_pin(
    pin: str, sim: SimulatedGateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """CA-bundle and proxy variables a host may carry (meant for other programs) change nothing.

    They point at a bundle that does not exist and at a proxy nobody listens on: a client that let
    requests merge the environment (a Session's ``trust_env``) would fail every request here.
    """
    for name in CA_ENV:
        monkeypatch.setenv(name, str(tmp_path / "no-such-bundle.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    for name in PROXY_ENV:
        monkeypatch.setenv(name, f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    collector = make_collector(gateway_config(sim, tls=_pins(sim)[pin]))
    try:
        ms = collector.scrape()
    finally:
        collector.close()
    assert ms.get("powerwall_up") == 1
    success = ms.samples("powerwall_scrape_endpoint_success")
    assert success and set(success.values()) == {1.0}, success
    assert sim.requests and all(r.path.startswith("/api/") for r in sim.requests)


@pytest.mark.parametrize("pin", ["ca_file", "fingerprint"])
def test_the_environment_cannot_replace_the_pin(
    pin: str, sim: SimulatedGateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A CA bundle in the environment that *does* trust the gateway cannot stand in for a wrong pin."""
    own = tmp_path / "gateway.pem"
    own.write_bytes(sim.cert_pem)
    for name in CA_ENV:
        monkeypatch.setenv(name, str(own))
    other = generate_certificate()
    other_ca = tmp_path / "other.pem"
    other_ca.write_bytes(other.cert_pem)
    wrong = {
        "ca_file": TLSConfig(ca_file=other_ca),
        "fingerprint": TLSConfig(fingerprint_sha256=_fp(other.fingerprint_sha256)),
    }
    client = make_transport(gateway_config(sim, tls=wrong[pin]))
    try:
        r = client.fetch(ep.SOE, deadline())
    finally:
        client.close()
    assert isinstance(r, FetchError), r
    assert r.reason == ("tls" if pin == "ca_file" else "tls_pin_mismatch"), r
    assert sim.login_count == 0


def test_system_trust_does_not_trust_the_gateway(sim: SimulatedGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a pin the gateway's self-signed certificate fails, also with the system bundle in the environment."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    system = make_transport(gateway_config(sim, tls=TLSConfig()))
    r = system.fetch(ep.SOE, deadline())
    system.close()
    assert isinstance(r, FetchError) and r.reason == "tls"


def test_wrong_server_name_is_rejected(sim: SimulatedGateway) -> None:
    client = make_transport(gateway_config(sim, tls=TLSConfig(ca_file=Path(sim.cert_path), server_name="example.org")))
    r = client.fetch(ep.SOE, deadline())
    assert isinstance(r, FetchError) and r.reason in ("tls", "connection")
    client.close()


def test_insecure_mode_connects(sim: SimulatedGateway) -> None:
    client = make_transport(gateway_config(sim, tls=TLSConfig(insecure_skip_verify=True)))
    assert isinstance(client.fetch(ep.SOE, deadline()), Fetched)
    client.close()

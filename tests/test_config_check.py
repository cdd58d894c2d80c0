"""``--config.check`` catches everything start-up would, all at once, each problem naming its key."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization

from exporter.sources.tedapi import v1r_key
from tests.support.exporter import run_exporter, start_exporter


def run_check(tmp_path: Path, config: dict[str, Any] | str) -> subprocess.CompletedProcess[str]:
    """Run ``--config.check`` on ``config`` (a dict, or YAML text written as it is); never a traceback."""
    path = tmp_path / "config.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    proc = run_exporter(f"--config.file={path}", "--config.check", timeout=30)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def check(tmp_path: Path, config: dict[str, Any] | str) -> tuple[int, list[str]]:
    """``--config.check``'s exit code and its "invalid configuration" lines."""
    proc = run_check(tmp_path, config)
    return proc.returncode, [line for line in proc.stderr.splitlines() if "invalid configuration" in line]


def gateway(**kw: Any) -> dict[str, Any]:
    return {"name": "home", "address": "https://192.0.2.10", "password": "x", **kw}


def test_a_ca_file_that_is_not_pem(tmp_path: Path) -> None:
    bogus = tmp_path / "gateway.pem"
    bogus.write_text("this is not a certificate\n")
    code, errors = check(tmp_path, {"state_file": None, "gateways": [gateway(tls={"ca_file": str(bogus)})]})
    assert code == 2
    assert len(errors) == 1 and "gateways[0].tls.ca_file" in errors[0] and "not a PEM certificate" in errors[0]


def test_an_address_that_is_not_a_host(tmp_path: Path) -> None:
    code, errors = check(tmp_path, {"state_file": None, "gateways": [gateway(address="https://my gateway!")]})
    assert code == 2
    assert len(errors) == 1 and "gateways[0].address" in errors[0]


def test_a_number_yaml_reads_as_text(tmp_path: Path) -> None:
    # Written by hand: PyYAML (YAML 1.1) reads an unquoted 1e9 as the string "1e9".
    text = "state_file: null\ngateways:\n  - {name: home, address: 192.0.2.10, password: x, timeout_seconds: 1e9}\n"
    code, errors = check(tmp_path, text)
    assert code == 2
    assert len(errors) == 1 and "gateways[0].timeout_seconds" in errors[0] and "YAML read '1e9' as text" in errors[0]


def test_three_typos_give_three_messages(tmp_path: Path) -> None:
    config = {
        "state_file": None,
        "max_concurent_requests": 4,
        "gateways": [gateway(pasword="x", tls={"server_nam": "teg"})],
    }
    code, errors = check(tmp_path, config)
    assert code == 2
    keys = sorted(e.split("invalid configuration: ")[1].split(":")[0] for e in errors)
    assert keys == ["gateways[0].pasword", "gateways[0].tls.server_nam", "max_concurent_requests"], errors


def test_unreadable_password_file(tmp_path: Path) -> None:
    code, errors = check(tmp_path, {"state_file": None, "gateways": [gateway_without_password(tmp_path)]})
    assert code == 2 and len(errors) == 1 and "gateways[0].password_file" in errors[0]


def gateway_without_password(tmp_path: Path) -> dict[str, Any]:
    g = gateway(password_file=str(tmp_path / "missing-password"))
    del g["password"]
    return g


def test_a_valid_config_passes(tmp_path: Path) -> None:
    code, errors = check(tmp_path, {"state_file": None, "gateways": [gateway(tls={"insecure_skip_verify": True})]})
    assert code == 0 and not errors


# --------------------------------------------------------------------------- v1r keys
def _v1r_key(tmp_path: Path, mode: int = 0o600) -> tuple[Path, str]:
    """A key keygen would write (2048 bits, for speed), with ``mode``; its path and fingerprint."""
    pair = v1r_key.generate(tmp_path / "v1r", bits=2048)
    pair.private_path.chmod(mode)
    return pair.private_path, pair.fingerprint


def _secret_texts(private_path: Path) -> list[str]:
    """Every form the private key could leak in: each base64 line of the PEM, the whole body, its DER."""
    pem = private_path.read_text()
    lines = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return [*lines, "".join(lines), base64.b64encode(pkcs8).decode()[64:128], pkcs8.hex()[200:264]]


def test_the_check_shows_the_v1r_key_fingerprint_and_never_the_key(tmp_path: Path) -> None:
    path, fingerprint = _v1r_key(tmp_path)
    proc = run_check(tmp_path, {"state_file": None, "gateways": [gateway(tedapi={"v1r_key_file": str(path)})]})
    assert proc.returncode == 0, proc.stderr
    shown = [line for line in proc.stderr.splitlines() if fingerprint in line]
    assert len(shown) == 1 and "level=info" in shown[0], proc.stderr
    assert "gateway home: v1r key " + fingerprint in shown[0] and "register this key" in shown[0]
    assert "v1r only" in proc.stderr and "follower" in proc.stderr  # what v1r alone cannot read
    assert "readable by group or others" not in proc.stderr  # 0600: nothing to warn about
    out = proc.stdout + proc.stderr
    for secret in _secret_texts(path):
        assert secret not in out


def test_the_check_warns_about_a_key_others_can_read(tmp_path: Path) -> None:
    path, fingerprint = _v1r_key(tmp_path, 0o644)
    block = {"v1r_key_file": str(path), "gateway_password": "GW", "address": "https://192.168.91.1"}
    proc = run_check(tmp_path, {"state_file": None, "gateways": [gateway(tedapi=block)]})
    assert proc.returncode == 0, proc.stderr  # a warning, not an error
    warnings = [line for line in proc.stderr.splitlines() if "readable by group or others" in line]
    assert len(warnings) == 1 and "level=warn" in warnings[0], proc.stderr
    assert str(path) in warnings[0] and "0644" in warnings[0] and "chmod 600" in warnings[0]
    assert fingerprint in proc.stderr
    assert "v1r only" not in proc.stderr  # WiFi reads the followers
    out = proc.stdout + proc.stderr
    for secret in _secret_texts(path):
        assert secret not in out


def test_a_group_readable_key_is_warned_about_too(tmp_path: Path) -> None:
    path, _ = _v1r_key(tmp_path, 0o640)
    proc = run_check(tmp_path, {"state_file": None, "gateways": [gateway(tedapi={"v1r_key_file": str(path)})]})
    assert proc.returncode == 0 and "readable by group or others (mode 0640)" in proc.stderr, proc.stderr


def test_start_up_warns_about_a_key_others_can_read(tmp_path: Path) -> None:
    path, _ = _v1r_key(tmp_path, 0o644)
    # Nothing is scraped, so nothing dials the (documentation-range) address.
    config = {"state_file": None, "gateways": [gateway(tedapi={"v1r_key_file": str(path)})]}
    exp = start_exporter(config, tmp_path)
    log = exp.stop()
    warnings = [line for line in log.splitlines() if "readable by group or others" in line]
    assert len(warnings) == 1 and "level=warn" in warnings[0] and str(path) in warnings[0], log
    for secret in _secret_texts(path):
        assert secret not in log

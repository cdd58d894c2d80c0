"""``--config.check`` catches everything start-up would, all at once, each problem naming its key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO


def run_check(tmp_path: Path, config: dict[str, Any] | str) -> subprocess.CompletedProcess[str]:
    """Run ``--config.check`` on ``config`` (a dict, or YAML text written as it is); never a traceback."""
    path = tmp_path / "config.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    proc = subprocess.run(
        [sys.executable, "-m", "exporter", f"--config.file={path}", "--config.check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
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

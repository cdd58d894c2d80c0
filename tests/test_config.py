"""Configuration: every problem fails at start, non-zero, naming the key; secrets never leak."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.config import ConfigError, Secret, load_config, parse_config
from tests.support.exporter import run_exporter
from tests.support.paths import REPO

GOOD = {"gateways": [{"name": "home", "address": "https://192.0.2.10", "password": "s3cret-pw-xyz"}]}


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.yaml"
    p.write_text(text)
    return p


def test_minimal_config_defaults() -> None:
    cfg = parse_config(GOOD)
    g = cfg.gateways[0]
    assert (g.name, g.host, g.port, g.base_url) == ("home", "192.0.2.10", 443, "https://192.0.2.10:443")
    assert g.tls.server_name == "powerwall" and g.tls.mode == "system"
    assert g.timeout_seconds == 10 and g.password.reveal() == "s3cret-pw-xyz"
    assert "s3cret" not in repr(cfg)


@pytest.mark.parametrize(
    ("address", "host", "port"),
    [
        ("192.0.2.1", "192.0.2.1", 443),
        ("192.0.2.1:8443", "192.0.2.1", 8443),
        ("https://teg.local/", "teg.local", 443),
        ("https://[2001:db8::1]:444", "2001:db8::1", 444),
    ],
)
def test_address_forms(address: str, host: str, port: int) -> None:
    g = parse_config({"gateways": [{**GOOD["gateways"][0], "address": address}]}).gateways[0]
    assert (g.host, g.port) == (host, port)


@pytest.mark.parametrize(
    ("mutation", "key"),
    [
        ({"password": None}, "gateways[0].password"),
        ({"password": ""}, "gateways[0].password"),
        ({"name": None}, "gateways[0].name"),
        ({"name": "bad name!"}, "gateways[0].name"),
        ({"address": None}, "gateways[0].address"),
        ({"address": "http://192.0.2.1"}, "gateways[0].address"),
        ({"address": "https://192.0.2.1/api"}, "gateways[0].address"),
        ({"timeout_seconds": "10"}, "gateways[0].timeout_seconds"),
        ({"timeout_seconds": 0}, "gateways[0].timeout_seconds"),
        ({"paswsord": "x"}, "gateways[0].paswsord"),
        ({"tls": {"fingerprint_sha256": "abc"}}, "gateways[0].tls.fingerprint_sha256"),
        ({"tls": {"insecure_skip_verify": "yes"}}, "gateways[0].tls.insecure_skip_verify"),
        ({"tls": {"ca_file": "/nonexistent/ca.pem"}}, "gateways[0].tls.ca_file"),
        ({"tls": {"server_name": ""}}, "gateways[0].tls.server_name"),
        ({"password_file": "/nonexistent/pw"}, "gateways[0].password"),
    ],
)
def test_errors_name_the_key(mutation: dict[str, object], key: str) -> None:
    gw = {**GOOD["gateways"][0], **mutation}
    gw = {k: v for k, v in gw.items() if v is not None}
    with pytest.raises(ConfigError) as err:
        parse_config({"gateways": [gw]})
    assert err.value.key == key
    assert "s3cret-pw-xyz" not in str(err.value)


def test_empty_and_duplicate_gateways() -> None:
    with pytest.raises(ConfigError, match="gateways"):
        parse_config({})
    with pytest.raises(ConfigError, match="duplicate"):
        parse_config({"gateways": [GOOD["gateways"][0], GOOD["gateways"][0]]})


def test_password_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pw = tmp_path / "pw"
    pw.write_text("from-file\n")
    cfg = parse_config({"gateways": [{"name": "a", "address": "192.0.2.1", "password_file": str(pw)}]})
    assert cfg.gateways[0].password == Secret("from-file")
    monkeypatch.setenv("PW_PASSWORD", "from-env")
    cfg = parse_config({"gateways": [{"name": "a", "address": "192.0.2.1", "password": "${PW_PASSWORD}"}]})
    assert cfg.gateways[0].password.reveal() == "from-env"
    with pytest.raises(ConfigError, match="PW_UNSET"):
        parse_config({"gateways": [{"name": "a", "address": "192.0.2.1", "password": "${PW_UNSET}"}]})


def test_fingerprint_is_normalised() -> None:
    fp = ":".join(["AB"] * 32)
    g = parse_config({"gateways": [{**GOOD["gateways"][0], "tls": {"fingerprint_sha256": fp}}]}).gateways[0]
    assert g.tls.fingerprint_sha256 == "ab" * 32 and g.tls.mode == "fingerprint"


def test_invalid_yaml_names_the_file_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "gateways: [\n"))
    assert err.value.key == "config.file" and "line" in str(err.value)


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERWALL_PASSWORD", "example")
    example = REPO / "config.example.yaml"
    cfg = load_config(example)
    assert cfg.gateways[0].name == "home"


def test_cli_missing_password_fails_naming_password(tmp_path: Path) -> None:
    cfg = write(tmp_path, "gateways:\n  - name: home\n    address: https://192.0.2.1\n")
    proc = run_exporter("--config.file", str(cfg), "--web.listen-address", "127.0.0.1:0")
    assert proc.returncode != 0
    assert "gateways[0].password" in proc.stderr


def test_cli_config_check(tmp_path: Path) -> None:
    cfg = write(tmp_path, "gateways:\n  - name: home\n    address: 192.0.2.1\n    password: hunter2-unique\n")
    proc = run_exporter("--config.file", str(cfg), "--config.check")
    assert proc.returncode == 0, proc.stderr
    assert "configuration OK" in proc.stderr
    assert "hunter2-unique" not in proc.stderr + proc.stdout
    bad = write(tmp_path, "gateways:\n  - name: home\n    address: 192.0.2.1\n    password: x\n    tls: {bogus: 1}\n")
    proc = run_exporter("--config.file", str(bad), "--config.check")
    assert proc.returncode == 2 and "gateways[0].tls.bogus" in proc.stderr


def test_cli_version() -> None:
    proc = run_exporter("--version")
    assert proc.returncode == 0 and "powerwall-exporter" in proc.stdout


def test_default_pool_scales_with_gateways() -> None:
    from exporter.config import parse_config

    many = [{"name": f"g{i}", "address": "192.0.2.1", "password": "x"} for i in range(50)]
    assert parse_config({"gateways": many}).max_concurrent_requests == 512
    assert parse_config({"gateways": many[:3]}).max_concurrent_requests == 36
    assert parse_config({"gateways": many[:1]}).max_concurrent_requests == 16

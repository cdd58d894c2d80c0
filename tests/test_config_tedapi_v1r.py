"""The ``tedapi:`` block's v1r keys: ``v1r_key_file`` and ``din``, alone and beside the WiFi password.

Why these checks: the key file is read when the config is loaded for use (the TEDAPI source's check,
run at start-up, by ``--config.check`` and on reload), so a key the exporter cannot use
fails ``--config.check`` and start-up with the key's name, not the first scrape with a signature
fault; and a v1r-only block needs no gateway password, the reason owners choose v1r at all. Keys are
made by the exporter's own keygen code (2048 bits: quick, and no different here).
"""

from __future__ import annotations

import os
import pathlib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from exporter.config import ConfigError, parse_config
from exporter.config.tedapi import TedapiConfig
from exporter.sources.registry import check_gateway
from exporter.sources.tedapi import v1r_key
from tests.test_config_check import check, gateway

DIN = "1707000-30-L--TG1234567890AB"
KEY = "gateways[0].tedapi.v1r_key_file"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> v1r_key.KeyPair:
    return v1r_key.generate(tmp_path_factory.mktemp("v1r"), bits=2048)


def _parse(tedapi: object, **kw: Any) -> TedapiConfig | None:
    """The block as loaded for use: parsed, then checked by the sources (the key file is read there)."""
    config = parse_config({"state_file": None, "gateways": [gateway(tedapi=tedapi, **kw)]}, check=check_gateway)
    return config.gateways[0].tedapi


def _problems(tedapi: object) -> list[ConfigError]:
    with pytest.raises(ConfigError) as err:
        _parse(tedapi)
    return list(err.value.problems)


def _keys(problems: list[ConfigError]) -> list[str]:
    return sorted(p.key for p in problems)


# --------------------------------------------------------------------------- valid blocks
def test_a_key_file_alone_is_a_v1r_only_block(pair: v1r_key.KeyPair) -> None:
    t = _parse({"v1r_key_file": str(pair.private_path)})
    assert t is not None
    assert (t.v1r, t.wifi, t.gateway_password) == (True, False, None)
    assert t.v1r_key_file == pair.private_path
    assert v1r_key.load(t.v1r_key_file).fingerprint == pair.fingerprint  # the same key keygen printed
    assert (t.host, t.port, t.din) == ("192.0.2.10", 443, None)  # v1r goes to the gateway's own address


def test_a_din_spares_the_din_read(pair: v1r_key.KeyPair) -> None:
    t = _parse({"v1r_key_file": str(pair.private_path), "din": f"  {DIN}\n"})
    assert t is not None and t.din == DIN


def test_both_paths_with_the_wifi_address(pair: v1r_key.KeyPair) -> None:
    t = _parse({"v1r_key_file": str(pair.private_path), "gateway_password": "GW", "address": "https://192.168.91.1"})
    assert t is not None and t.gateway_password is not None
    assert (t.v1r, t.wifi, t.gateway_password.reveal(), t.base_url) == (True, True, "GW", "https://192.168.91.1:443")


def test_a_pkcs8_rsa_key_is_accepted_too(tmp_path: Path) -> None:
    # The loader takes PKCS#8 as well as keygen's PKCS#1: other tools write either.
    key = rsa.generate_private_key(65537, 2048)
    path = tmp_path / "pkcs8.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    t = _parse({"v1r_key_file": str(path)})
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    assert t is not None and t.v1r_key_file is not None
    assert v1r_key.load(t.v1r_key_file).fingerprint == v1r_key.fingerprint(der)


# --------------------------------------------------------------------------- which path, which keys
def test_both_paths_without_the_wifi_address_name_it(pair: v1r_key.KeyPair) -> None:
    problems = _problems({"v1r_key_file": str(pair.private_path), "gateway_password": "GW"})
    assert _keys(problems) == ["gateways[0].tedapi.address"]
    assert "WiFi address" in str(problems[0])


@pytest.mark.parametrize("block", [{}, {"din": DIN}, {"v1r_key_file": ""}, {"v1r_key_file": None}])
def test_neither_path_names_the_gateway_password(block: dict[str, Any]) -> None:
    # An empty or null v1r_key_file (a commented-out value, a template left blank) is no key: without
    # a password too, the block reads nothing, which must be an error and not a silent no-op.
    problems = _problems(block)
    assert _keys(problems) == ["gateways[0].tedapi.gateway_password"], problems
    assert "v1r_key_file" in str(problems[0])  # the message offers the other path


def test_an_empty_key_file_value_beside_a_password_is_a_wifi_only_block() -> None:
    t = _parse({"v1r_key_file": "", "gateway_password": "GW"})
    assert t is not None and (t.wifi, t.v1r) == (True, False)


# --------------------------------------------------------------------------- key files that cannot sign
def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def _bad_key_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, a word its error must say)."""
    rsa_key = rsa.generate_private_key(65537, 2048)
    encrypted = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    der = rsa_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    (tmp_path / "a-directory").mkdir()
    return {
        "missing": (tmp_path / "missing.pem", "does not exist"),
        "a directory": (tmp_path / "a-directory", "not a file"),
        "not PEM": (_write(tmp_path, "text.pem", b"this is not a key\n"), "not a PEM private key"),
        "empty": (_write(tmp_path, "empty.pem", b""), "not a PEM private key"),
        "DER, not PEM": (_write(tmp_path, "key.der", der), "not a PEM private key"),
        "a public key": (_write(tmp_path, "public.pem", public_pem), "not a PEM private key"),
        "encrypted": (_write(tmp_path, "encrypted.pem", encrypted), "encrypted"),
        "EC, not RSA": (_write(tmp_path, "ec.pem", ec_pem), "not RSA"),
        "too large": (_write(tmp_path, "huge.pem", b"A" * (v1r_key.MAX_KEY_FILE_BYTES + 1)), "too large"),
    }


@pytest.mark.parametrize(
    "name",
    [
        "missing",
        "a directory",
        "not PEM",
        "empty",
        "DER, not PEM",
        "a public key",
        "encrypted",
        "EC, not RSA",
        "too large",
    ],
)
def test_a_key_file_that_cannot_sign_is_named(tmp_path: Path, name: str) -> None:
    path, why = _bad_key_files(tmp_path)[name]
    problems = _problems({"v1r_key_file": str(path)})
    assert _keys(problems) == [KEY], problems  # and no "gateway_password required" beside it
    assert why in str(problems[0]) and str(path) in str(problems[0])
    if path.is_file() and path.stat().st_size:
        head = path.read_bytes()[:200]
        body = b"".join(head.splitlines()[1:2])
        assert not body or body.decode(errors="replace") not in str(problems[0])  # what the file holds never shows


def test_an_unreadable_key_file_is_named(
    tmp_path: Path, pair: v1r_key.KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, "locked.pem", pair.private_path.read_bytes())
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: make the open fail as it would for the exporter's user
        real_open = pathlib.Path.open

        def refusing_open(self: Path, *args: Any, **kwargs: Any) -> Any:
            if self == path:
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(pathlib.Path, "open", refusing_open)
    problems = _problems({"v1r_key_file": str(path)})
    assert _keys(problems) == [KEY]
    assert "cannot read" in str(problems[0]) and "Permission denied" in str(problems[0])


@pytest.mark.parametrize("din", ["x", "1707000-30-l--TG1234567890AB", f"{DIN}/..", 1707000, ["a"], f"{DIN}\nX"])
def test_a_din_that_is_not_a_din_is_named(pair: v1r_key.KeyPair, din: object) -> None:
    problems = _problems({"v1r_key_file": str(pair.private_path), "din": din})
    assert _keys(problems) == ["gateways[0].tedapi.din"], problems
    assert "not a DIN" in str(problems[0])


def test_a_relative_key_file_is_found_beside_the_config(tmp_path: Path, pair: v1r_key.KeyPair) -> None:
    (tmp_path / "keys").mkdir()
    _write(tmp_path / "keys", "v1r.pem", pair.private_path.read_bytes())
    block = {"v1r_key_file": "keys/v1r.pem"}
    code, errors = check(tmp_path, {"state_file": None, "gateways": [gateway(tedapi=block)]})
    assert code == 0 and not errors, errors


def test_several_bad_keys_are_all_reported_one_line_each(tmp_path: Path) -> None:
    block = {
        "v1r_key_file": str(tmp_path / "missing.pem"),
        "din": "not-a-din",
        "address": "http://192.168.91.1",
        "min_interval_seconds": 0,
        "v1r_keyfile": "typo",
    }
    problems = _problems(block)
    want = [
        "gateways[0].tedapi.address",
        "gateways[0].tedapi.din",
        "gateways[0].tedapi.min_interval_seconds",
        "gateways[0].tedapi.v1r_key_file",
        "gateways[0].tedapi.v1r_keyfile",
    ]
    assert _keys(problems) == want, problems
    # --config.check: the same problems, one log line each, exit code 2.
    code, lines = check(tmp_path, {"state_file": None, "gateways": [gateway(tedapi=block)]})
    assert code == 2
    assert sorted(line.split("invalid configuration: ")[1].split(":")[0] for line in lines) == want, lines

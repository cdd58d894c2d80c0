"""``powerwall-exporter tedapi keygen DIR``: the v1r client key an owner registers (docs/tedapi.md §6).

Why these checks: the key is registered once and verified by someone at the unit, so a key the
registration tool cannot reuse, a public half in the wrong form, a fingerprint that does not match
the tool's, or an overwritten registered key all cost the owner a trip to the Powerwall. The public
key is read back with the simulated gateway's own DER reader, which shares nothing with the code
that wrote it. 2048 bits (the hidden ``--bits``) keeps the tests quick; the default is 4096.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from exporter.simulator.tedapi.v1r_keys import parse_pkcs1
from exporter.sources.tedapi.command import main
from tests.support.exporter import run_exporter
from tests.support.paths import REPO
from tests.support.processes import run_python

PRIVATE = "tedapi_rsa_private.pem"
PUBLIC = "tedapi_rsa_public.der"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def output(stdout: str) -> dict[str, str]:
    pairs = [line.split(": ", 1) for line in stdout.splitlines()]
    return {k: v for k, v in pairs}


def test_writes_a_pkcs1_key_pair_and_prints_its_fingerprint(tmp_path: Path) -> None:
    keydir = tmp_path / "new" / "keys"
    proc = run_exporter("tedapi", "keygen", str(keydir), "--bits", "2048")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in keydir.iterdir()) == [PRIVATE, PUBLIC]  # no temporary files left
    assert (mode(keydir), mode(keydir / PRIVATE), mode(keydir / PUBLIC)) == (0o700, 0o600, 0o644)

    pem = (keydir / PRIVATE).read_bytes()
    assert pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----\n")  # PKCS#1, as pypowerwall writes it
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    der = (keydir / PUBLIC).read_bytes()
    n, e = parse_pkcs1(der)  # a bare RSAPublicKey, not a SubjectPublicKeyInfo
    numbers = key.public_key().public_numbers()
    assert (n, e) == (numbers.n, numbers.e) == (numbers.n, 65537)

    printed = output(proc.stdout)
    assert printed == {
        "fingerprint_sha256": hashlib.sha256(der).hexdigest(),
        "public_key_pkcs1_base64": base64.b64encode(der).decode(),
    }
    body = b"".join(pem.splitlines()[1:-1]).decode()
    assert body[:40] not in proc.stdout + proc.stderr  # the private key is never echoed
    assert f"python -m pypowerwall register -authpath {keydir}" in proc.stderr


def test_the_default_is_4096_bits(tmp_path: Path) -> None:
    assert main(["keygen", str(tmp_path)]) == 0
    key = serialization.load_pem_private_key((tmp_path / PRIVATE).read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 4096


def test_modes_do_not_depend_on_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        assert main(["keygen", str(tmp_path / "keys"), "--bits", "2048"]) == 0
    finally:
        os.umask(old)
    keydir = tmp_path / "keys"
    assert (mode(keydir), mode(keydir / PRIVATE), mode(keydir / PUBLIC)) == (0o700, 0o600, 0o644)


def test_an_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    tmp_path.chmod(0o750)
    assert main(["keygen", str(tmp_path), "--bits", "2048"]) == 0
    assert mode(tmp_path) == 0o750


@pytest.mark.parametrize("present", [PRIVATE, PUBLIC])
def test_never_overwrites_either_file(tmp_path: Path, present: str, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / present).write_bytes(b"registered key")
    with caplog.at_level(logging.ERROR):
        assert main(["keygen", str(tmp_path), "--bits", "2048"]) == 2
    assert (tmp_path / present).read_bytes() == b"registered key"
    assert [p.name for p in tmp_path.iterdir()] == [present]  # the other half was not written either
    errors = [r.getMessage() for r in caplog.records]
    assert any(str(tmp_path / present) in line and "already exists" in line for line in errors), errors
    assert "nothing written" in errors[-1]


def test_a_symlink_in_the_way_is_not_written_through(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.pem"
    (tmp_path / PRIVATE).symlink_to(target)  # dangling
    assert main(["keygen", str(tmp_path), "--bits", "2048"]) == 2
    assert not target.exists()


def test_a_file_where_the_directory_should_be_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keys").write_text("not a directory")
    assert main(["keygen", str(tmp_path / "keys"), "--bits", "2048"]) == 2


def test_without_the_extra_names_the_extra(tmp_path: Path) -> None:
    keydir = tmp_path / "keys"
    code = (
        "import sys; sys.modules['cryptography'] = None\n"
        "from exporter.cli import main\n"
        f"sys.exit(main(['tedapi', 'keygen', {str(keydir)!r}]))\n"
    )
    proc = run_python("-c", code, cwd=REPO)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "the 'tedapi' extra" in line and "pip install -e '.[tedapi]'" in line
    assert not keydir.exists()


def test_help_says_what_is_written_and_how_to_register() -> None:
    proc = run_exporter("tedapi", "keygen", "--help")
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    for phrase in (PRIVATE, PUBLIC, "PKCS#1 DER", "Never overwrites", "python -m pypowerwall register -authpath DIR"):
        assert phrase in text, phrase
    assert "--bits" not in text  # for the tests only
    top = " ".join(run_exporter("--help").stdout.split())
    assert "powerwall-exporter tedapi keygen DIR" in top


def test_a_usage_error_is_exit_2() -> None:
    assert run_exporter("tedapi").returncode == 2
    assert run_exporter("tedapi", "keygen").returncode == 2

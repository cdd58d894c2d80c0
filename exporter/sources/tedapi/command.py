"""``powerwall-exporter tedapi keygen DIR``: make the RSA client key a Powerwall 3 owner registers for v1r.

Contract: writes ``DIR/tedapi_rsa_private.pem`` (0600) and ``DIR/tedapi_rsa_public.der`` (PKCS#1 DER,
0644), creating DIR (0700) if missing, and prints the key's fingerprint and base64 public key on stdout
(the command's output, for comparing with the registration tool's). Never overwrites: if either file
exists nothing is generated or written. Registration itself happens outside the exporter, which never
talks to Tesla's cloud (README, "Powerwall 3 over the home LAN (v1r): the client key"). Exit status 0
on success, 1 when a file cannot be written, 2 on a usage error, an existing key file or a missing extra.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from exporter.sources.tedapi import v1r_key

log = logging.getLogger("exporter.tedapi")

MIN_BITS = 2048  # below this RSA is not worth registering; the simulator refuses under 1024


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="powerwall-exporter tedapi",
        description="TEDAPI tools. The exporter never talks to Tesla's cloud: register keys with another tool.",
    )
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    k = sub.add_parser(
        "keygen",
        help="make the RSA client key for v1r (Powerwall 3 over the home LAN)",
        description=f"Write {v1r_key.PRIVATE_KEY_FILE} (0600) and {v1r_key.PUBLIC_KEY_FILE} (PKCS#1 DER) "
        "into DIR (created 0700 if missing) and print the key's SHA-256 fingerprint and base64 public key. "
        "Never overwrites an existing key. Register the key with "
        "'python -m pypowerwall register -authpath DIR' (it reuses the key) or another registration tool, "
        "then toggle the Powerwall's On/Off switch to verify it.",
    )
    k.add_argument("dir", metavar="DIR", type=Path)
    k.add_argument("--bits", type=_bits, default=v1r_key.DEFAULT_BITS, help=argparse.SUPPRESS)  # tests: 2048
    return p


def _bits(text: str) -> int:
    try:
        bits = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if bits < MIN_BITS or bits % 256:
        raise argparse.ArgumentTypeError(f"{bits}: use a multiple of 256, at least {MIN_BITS}")
    return bits


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    return keygen(args.dir, args.bits)


def keygen(directory: Path, bits: int = v1r_key.DEFAULT_BITS) -> int:
    """Write the key pair and print what the owner compares and registers."""
    if directory.exists() and not directory.is_dir():
        log.error("%s: exists and is not a directory", directory)
        return 2
    try:
        pair = v1r_key.generate(directory, bits)
    except v1r_key.CryptographyMissingError as exc:
        log.error("%s", exc)
        return 2
    except v1r_key.KeyFilesExistError as exc:
        for path in exc.paths:
            log.error("%s: already exists; keygen never overwrites a key (a registered key would be lost)", path)
        log.error("nothing written; to keep that key register it as it is, or choose another DIR for a new one")
        return 2
    except OSError as exc:
        log.error("%s: cannot write the key: %s", directory, exc.strerror or exc)
        return 1
    log.info("wrote %s (0600) and %s", pair.private_path, pair.public_path)
    # The command's output, not log lines: the values the owner pastes or compares.
    sys.stdout.write(f"fingerprint_sha256: {pair.fingerprint}\n")
    sys.stdout.write(f"public_key_pkcs1_base64: {pair.public_base64}\n")
    log.info(
        "next: register the key with 'python -m pypowerwall register -authpath %s' (it reuses this key) or "
        "another registration tool, then switch the Powerwall 3 OFF for about 15 s and ON again within about "
        "10 minutes; the fingerprint the tool prints must match the one above",
        directory,
    )
    return 0

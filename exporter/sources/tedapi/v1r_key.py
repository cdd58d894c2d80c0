"""The v1r client key on disk: made once by ``powerwall-exporter tedapi keygen``, registered by the owner.

Why these names and formats (shared/docs/tedapi.md §6): ``python -m pypowerwall register -authpath DIR``
reuses an existing ``DIR/tedapi_rsa_private.pem``, so a key made here can be registered with it without the
exporter ever talking to Tesla's cloud. The private key is an unencrypted PEM, PKCS#1 (``RSA PRIVATE KEY``):
the docs only say "PEM", and PKCS#1 is what pypowerwall itself writes, so every tool that reads pypowerwall's
key file (some accept only that form) reads ours. The public key is the PKCS#1 DER ``RSAPublicKey`` that
registration sends and a v1r request names as its signer; its SHA-256 (hex) is the fingerprint users
compare against the registration tool's output.

Files are never overwritten: a registered key replaced by a fresh one locks the exporter out until the
new key is registered and verified at the unit, which needs someone standing at the Powerwall.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PRIVATE_KEY_FILE = "tedapi_rsa_private.pem"
PUBLIC_KEY_FILE = "tedapi_rsa_public.der"
DEFAULT_BITS = 4096  # what pypowerwall registers; the gateway's limits are not documented
PUBLIC_EXPONENT = 65537
PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644
DIR_MODE = 0o700


class CryptographyMissingError(RuntimeError):
    """The optional ``cryptography`` package (extra ``tedapi``) is not installed."""


class KeyFilesExistError(FileExistsError):
    """DIR already holds a key file; ``paths`` names every one of them."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        super().__init__(", ".join(str(p) for p in paths))


@dataclass(frozen=True)
class KeyPair:
    """What keygen wrote: both paths and the public key users register and compare."""

    private_path: Path
    public_path: Path
    public_der: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_der)

    @property
    def public_base64(self) -> str:
        """The PKCS#1 DER public key in base64: what registration tools and key lists show."""
        return base64.b64encode(self.public_der).decode("ascii")


def fingerprint(public_der: bytes) -> str:
    """SHA-256 (hex) of the PKCS#1 DER public key (docs §6)."""
    return hashlib.sha256(public_der).hexdigest()


def missing_extra_message() -> str:
    """One line naming the extra to install; the same advice the demo gives for its own extra."""
    return (
        "tedapi keygen needs the 'tedapi' extra (cryptography): pip install -e '.[tedapi]' in a clone of the "
        "repository, or add 'powerwall-exporter[tedapi]' to the wheel's pip install (README, \"Without a clone\")"
    )


def existing_key_files(directory: Path) -> list[Path]:
    """The key files already in ``directory`` (symlinks too, dangling or not: they would be written through)."""
    paths = (directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE)
    return [p for p in paths if p.is_symlink() or p.exists()]


def generate(directory: Path, bits: int = DEFAULT_BITS) -> KeyPair:
    """Make an RSA key pair and write it into ``directory`` (created 0700 if missing).

    Raises KeyFilesExistError before generating anything if either file is there, CryptographyMissingError
    without the extra, OSError when the files cannot be written (nothing half-written is left behind).
    """
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError:
        raise CryptographyMissingError(missing_extra_message()) from None

    existing = existing_key_files(directory)
    if existing:
        raise KeyFilesExistError(existing)
    _make_dir(directory)
    key = rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    public_der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    private_path = directory / PRIVATE_KEY_FILE
    public_path = directory / PUBLIC_KEY_FILE
    _write_new(private_path, pem, PRIVATE_MODE)
    try:
        _write_new(public_path, public_der, PUBLIC_MODE)
    except BaseException:
        # Without its public half the private key is still usable, but a later run would refuse to
        # replace it while the user has nothing to register: leave DIR as it was.
        private_path.unlink(missing_ok=True)
        raise
    return KeyPair(private_path, public_path, public_der)


def _make_dir(directory: Path) -> None:
    """Create ``directory`` owner-only when it is new; an existing one is the user's and left alone."""
    if directory.is_dir():
        return
    directory.parent.mkdir(parents=True, exist_ok=True)
    os.mkdir(directory, DIR_MODE)
    os.chmod(directory, DIR_MODE)  # mkdir's mode is cut by the umask; 0700 is the point here


def _write_new(dest: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``dest``, which must not exist, all or nothing, with ``mode`` from the first byte.

    A temporary file is made with O_CREAT|O_EXCL and ``mode`` (so the private key is never readable by
    others, not even for a moment), filled, flushed to disk and then hard-linked to ``dest``: the link
    fails if ``dest`` appeared meanwhile (never an overwrite, unlike a rename), and a crash leaves either
    no ``dest`` or a complete one.
    """
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        try:
            if hasattr(os, "fchmod"):  # not on Windows before 3.13, where the mode bits mean little anyway
                os.fchmod(fd, mode)  # exactly ``mode``: os.open's is cut by the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, dest)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                raise KeyFilesExistError([dest]) from None
            raise
    finally:
        tmp.unlink(missing_ok=True)


class KeyFileError(ValueError):
    """A v1r key file that cannot be used (the message says why, never what the file holds)."""


@dataclass(frozen=True)
class ClientKey:
    """The owner's registered private key, loaded: what signs every v1r request.

    ``repr`` names the fingerprint only, so a log line or traceback that shows it leaks nothing.
    """

    private: Any = field(repr=False)
    public_der: bytes = field(repr=False)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_der)

    def sign(self, data: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 with SHA-512 (§6)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        return bytes(self.private.sign(data, padding.PKCS1v15(), hashes.SHA512()))

    def __repr__(self) -> str:
        return f"ClientKey(fingerprint={self.fingerprint})"


MAX_KEY_FILE_BYTES = 65536


def load(path: Path) -> ClientKey:
    """Read an unencrypted PEM RSA private key (PKCS#1 or PKCS#8); raises KeyFileError or CryptographyMissingError."""
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError:
        raise CryptographyMissingError(
            "tedapi.v1r_key_file needs the 'tedapi' extra (cryptography): pip install 'powerwall-exporter[tedapi]'"
        ) from None
    try:
        with path.open("rb") as f:
            data = f.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror or exc.__class__.__name__}") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"{path} is too large to be a key file")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyFileError(f"{path} is encrypted; the exporter needs an unencrypted key (0600)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError(f"{path} is not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFileError(f"{path} holds a private key that is not RSA")
    public_der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return ClientKey(key, public_der)


def loose_permissions(path: Path) -> bool:
    """Whether the group or others may read the key file (a warning, not an error)."""
    try:
        return bool(path.stat().st_mode & 0o044)
    except OSError:
        return False

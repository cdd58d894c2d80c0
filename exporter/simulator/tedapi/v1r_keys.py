"""The simulated gateway's v1r key ring: which RSA client keys it knows, and in which state.

Why: on a real gateway a key is registered once through Tesla's cloud and then verified by a switch
toggle at the unit (shared/docs/tedapi.md §6); the most common v1r support threads are keys that are
pending, timed out, removed or never registered. Tests of a v1r client need every one of those
states on demand::

    gw.v1r_keys.add(pub_der)                       # PKCS#1 DER, VERIFIED
    gw.v1r_keys.add(other_der, state="pending")    # registered, switch not yet toggled
    gw.v1r_keys.set_state(pub_der, "removed")

States are the docs' (1 PENDING_VERIFICATION, 2 PENDING_VERIFICATION_TIMEOUT, 3 VERIFIED, 4 REMOVED),
by name or number. Keys are matched by their exact PKCS#1 DER bytes, as the signer identity in a
request carries them: a client that sends the SubjectPublicKeyInfo form of the same key is not
recognised (UNKNOWN_KEY_ID), which is the point.

The DER is read here with a few lines of our own (a SEQUENCE of two INTEGERs); ``cryptography``
only builds the key object that checks signatures.
"""

from __future__ import annotations

import enum
import hashlib
import threading
from pathlib import Path
from typing import Any


class KeyState(enum.IntEnum):
    """A client key's state, numbered as the docs (and Tesla's ``authorization`` messages) number them."""

    PENDING_VERIFICATION = 1
    PENDING_VERIFICATION_TIMEOUT = 2
    VERIFIED = 3
    REMOVED = 4


STATE_NAMES: dict[str, KeyState] = {
    "pending": KeyState.PENDING_VERIFICATION,
    "pending_timeout": KeyState.PENDING_VERIFICATION_TIMEOUT,
    "verified": KeyState.VERIFIED,
    "removed": KeyState.REMOVED,
}


def key_state(state: KeyState | str | int) -> KeyState:
    """``state`` by name (``pending``, ``pending_timeout``, ``verified``, ``removed``, or the enum
    member name) or by number."""
    if isinstance(state, KeyState):
        return state
    if isinstance(state, int):
        return KeyState(state)
    name = state.strip()
    if name.lower() in STATE_NAMES:
        return STATE_NAMES[name.lower()]
    try:
        return KeyState[name.upper()]
    except KeyError:
        raise ValueError(f"unknown key state {state!r}; known: {', '.join(STATE_NAMES)}") from None


def fingerprint(pub_der: bytes) -> str:
    """SHA-256 (hex) of the PKCS#1 DER public key: the fingerprint users compare (docs §6)."""
    return hashlib.sha256(pub_der).hexdigest()


# --------------------------------------------------------------------------- PKCS#1 DER
def _der_item(data: bytes, pos: int, tag: int) -> tuple[bytes, int]:
    """The content of the DER item with ``tag`` at ``pos``, and the position after it."""
    if pos + 2 > len(data) or data[pos] != tag:
        raise ValueError(f"expected DER tag 0x{tag:02x}")
    length, pos = data[pos + 1], pos + 2
    if length & 0x80:
        n = length & 0x7F
        if not 1 <= n <= 4 or pos + n > len(data):
            raise ValueError("bad DER length")
        length, pos = int.from_bytes(data[pos : pos + n], "big"), pos + n
    if pos + length > len(data):
        raise ValueError("DER item runs past the end")
    return data[pos : pos + length], pos + length


def parse_pkcs1(pub_der: bytes) -> tuple[int, int]:
    """``(n, e)`` of a PKCS#1 ``RSAPublicKey`` (SEQUENCE { INTEGER n, INTEGER e }); ValueError for
    anything else (a SubjectPublicKeyInfo included: its first item is a SEQUENCE, not an INTEGER)."""
    body, end = _der_item(pub_der, 0, 0x30)
    if end != len(pub_der):
        raise ValueError("bytes after the RSAPublicKey")
    n_bytes, pos = _der_item(body, 0, 0x02)
    e_bytes, pos = _der_item(body, pos, 0x02)
    if pos != len(body) or not n_bytes or not e_bytes or n_bytes[0] & 0x80 or e_bytes[0] & 0x80:
        raise ValueError("not an RSAPublicKey (two positive INTEGERs)")
    n, e = int.from_bytes(n_bytes, "big"), int.from_bytes(e_bytes, "big")
    if n.bit_length() < 1024 or e < 3 or not e & 1:
        raise ValueError("implausible RSA key")
    return n, e


def rsa_public_key(pub_der: bytes) -> Any:
    """A ``cryptography`` RSA public key for PKCS#1 DER bytes (ValueError if they are none)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    n, e = parse_pkcs1(pub_der)
    return rsa.RSAPublicNumbers(e, n).public_key()


def pkcs1_der_from_file(path: Path) -> bytes:
    """The PKCS#1 DER public key in ``path``: a PEM public key (``PUBLIC KEY`` or ``RSA PUBLIC KEY``),
    a PEM private key (its public half; the private key is not kept), or PKCS#1 DER as is. For the
    simulator's ``--v1r-key`` option, so whatever a registration tool wrote can be given."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    data = path.read_bytes()
    if b"-----BEGIN" not in data:
        parse_pkcs1(data)
        return data
    key: Any
    if b"PRIVATE KEY-----" in data:
        key = serialization.load_pem_private_key(data, password=None).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{path}: not an RSA key")
    return bytes(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1))


# --------------------------------------------------------------------------- the ring
class KeyRing:
    """Thread-safe map PKCS#1 DER → state (see the module docstring). A removed key stays listed as
    REMOVED; :meth:`forget` drops it entirely (then it is as unknown as a key never registered)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[bytes, KeyState] = {}
        self._keys: dict[bytes, Any] = {}

    def add(self, pub_der: bytes, state: KeyState | str | int = KeyState.VERIFIED) -> str:
        """Register ``pub_der`` (PKCS#1 DER; ValueError otherwise) in ``state``; returns its fingerprint."""
        public = rsa_public_key(bytes(pub_der))
        with self._lock:
            self._states[bytes(pub_der)] = key_state(state)
            self._keys[bytes(pub_der)] = public
        return fingerprint(pub_der)

    def set_state(self, pub_der: bytes, state: KeyState | str | int) -> None:
        with self._lock:
            if bytes(pub_der) not in self._states:
                raise KeyError("key not registered")
            self._states[bytes(pub_der)] = key_state(state)

    def remove(self, pub_der: bytes) -> None:
        """The owner removed the key (state REMOVED)."""
        self.set_state(pub_der, KeyState.REMOVED)

    def forget(self, pub_der: bytes) -> None:
        with self._lock:
            self._states.pop(bytes(pub_der), None)
            self._keys.pop(bytes(pub_der), None)

    def state(self, pub_der: bytes) -> KeyState | None:
        with self._lock:
            return self._states.get(bytes(pub_der))

    def public_key(self, pub_der: bytes) -> Any:
        """The ``cryptography`` key object of a registered key, or None."""
        with self._lock:
            return self._keys.get(bytes(pub_der))

    def fingerprints(self) -> dict[str, KeyState]:
        with self._lock:
            return {fingerprint(k): s for k, s in self._states.items()}

    def __contains__(self, pub_der: object) -> bool:
        with self._lock:
            return isinstance(pub_der, bytes) and pub_der in self._states

    def __len__(self) -> int:
        with self._lock:
            return len(self._states)

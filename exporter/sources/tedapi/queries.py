"""Tesla's signed GraphQL queries: found at run time, checked, never part of this repository.

The gateway runs only query texts Tesla signed, byte for byte. The texts and signatures are Tesla's,
so they are loaded from a file the user names (``tedapi.queries_file``) or from the data files of
an installed ``pypowerwall`` distribution, located through ``importlib.metadata`` without importing
the package (that would import hundreds of modules). Both use the same JSON shape::

    {key: {"text": str, "code": hex DER signature, "b_value": variables JSON, "version": int,
           "signed_bytes": hex (newer sets only)}}

Keys are either roles (``device_controller_full``, ``components`` ...) or Tesla operation names
(``DeviceControllerQuery``, ``PW3Query`` ...). Each entry is validated before it is used: the text
is a ``query`` (never a ``mutation``/``subscription``) whose operation is on :data:`READ_OPERATIONS`,
``signed_bytes`` (when given) is exactly what is sent, and the signature verifies against Tesla's
public key (a failed verification is a warning: the gateway is the judge, and a key we do not know
may be newer). The variables are not signed: what this exporter writes into them, and why that is
safe, is :mod:`exporter.sources.tedapi.query_variables`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exporter.proto import tedapi_pb2 as _pb
from exporter.sources.tedapi.query_variables import VariablesError, variables_for

log = logging.getLogger(__name__)

PB: Any = _pb  # generated module: no type information

# Operations this exporter may ever send: each only reads. The envelope vetter checks this list too.
READ_OPERATIONS: frozenset[str] = frozenset({"DeviceControllerQuery", "ComponentsQuery", "PW3Query"})

# Tesla's query-signing public key (P-521), from shared/docs/tedapi.md §3.
TESLA_PUBLIC_KEY = b"""-----BEGIN PUBLIC KEY-----
MIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQAPiEZMPCcbraJ96GjdY9ooTBZXZgb
0KPxPNIc3rXYdUcC65RV6ybERDGMDvkoEdsdbvE48otkm7/M2MPz5QRa+hwBs70E
Hm+BLVNijynB8IXKv6mfyF2ViVQO0D2a+FIoCbNTu8KWLtEuyS/34+aMw7BG6zoy
OG+4F+fmiIxAsI1KUS8=
-----END PUBLIC KEY-----
"""

MAX_FILE_BYTES = 1024 * 1024

# Roles the source uses, each with the file keys that can fill it, best first. The role-keyed
# (older) sets come first: their variables can carry the extra signal names; the newer sets write
# every signal into the signed text, so nothing can be added to them.
ROLES: Mapping[str, tuple[str, ...]] = {
    "device_controller": ("device_controller_full", "DeviceControllerQuery", "device_controller_basic"),
    "components": ("components", "ComponentsQuery", "PW3Query"),
}

_OPERATION_RE = re.compile(rb"^\s*query\s*([A-Za-z_][A-Za-z0-9_]*)")
_WRITE_RE = re.compile(rb"\b(mutation|subscription)\b")
_COMMENT_RE = re.compile(rb"#[^\n]*")


class QueryError(ValueError):
    """One query entry that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class SignedQuery:
    """One usable query: exactly what goes on the wire, and what the info metric may say about it."""

    key: str  # the key in its file
    role: str
    operation: str
    signed: bytes  # serialised SignedGraphQLQuery{version, text}: sent as is
    signature: bytes
    variables_json: str
    sha256: str  # of the signed bytes (identifies the text without revealing it)
    verified: bool | None  # against Tesla's key; None: could not check (no cryptography)


@dataclass(frozen=True, slots=True)
class QuerySet:
    origin: str  # the file, or "pypowerwall <version>: <file names>"
    sha256: str  # of the file contents, in order
    queries: Mapping[str, SignedQuery]  # role -> query
    problems: tuple[str, ...] = field(default=())


def operation_of(text: bytes) -> str | None:
    """The operation name of a single read query, or None for anything else.

    ``#`` comments are ignored when looking for a write keyword: a text is sent byte for byte,
    comments included, but a comment cannot turn a query into a mutation.
    """
    match = _OPERATION_RE.match(text)
    if match is None or _WRITE_RE.search(_COMMENT_RE.sub(b"", text)):
        return None
    return match.group(1).decode("ascii")


def signed_bytes(version: int, text: bytes) -> bytes:
    return bytes(PB.SignedGraphQLQuery(version=version, query=text).SerializeToString())


@dataclass(frozen=True, slots=True)
class Report:
    """What loading found: the usable set (or None) and every problem, for a log or a config check."""

    queries: QuerySet | None
    problems: tuple[str, ...]
    off_reason: str | None  # set when queries is None: why TEDAPI is off and what to do


def inspect(path: Path | None, keys: Sequence[bytes] = (TESLA_PUBLIC_KEY,)) -> Report:
    """Load ``path`` (else an installed pypowerwall's files) without logging; never raises."""
    try:
        files = [path] if path is not None else pypowerwall_files()
    except OSError as exc:
        return Report(None, (), f"cannot list pypowerwall's files ({exc})")
    if not files:
        return Report(
            None,
            (),
            "no signed queries: install the extra (pip install 'powerwall-exporter[tedapi]', which brings "
            "pypowerwall's query files) or set tedapi.queries_file",
        )
    entries: dict[str, Mapping[str, Any]] = {}
    digest = hashlib.sha256()
    problems: list[str] = []
    for f in files:
        try:
            raw = read_bounded(f)
            data = json.loads(raw)
        except (OSError, ValueError) as exc:
            problems.append(f"{f}: {exc.__class__.__name__}: {exc}")
            continue
        digest.update(raw)
        if not isinstance(data, dict):
            problems.append(f"{f}: not a JSON object")
            continue
        for key, entry in data.items():
            if isinstance(entry, dict):
                entries.setdefault(str(key), entry)
    origin = str(path) if path is not None else pypowerwall_origin(files)
    queries: dict[str, SignedQuery] = {}
    for role, candidates in ROLES.items():
        for key in candidates:
            if key not in entries:
                continue
            try:
                queries[role] = parse_entry(key, role, entries[key], keys)
                break
            except QueryError as exc:
                problems.append(f"{key}: {exc}")
    if "device_controller" not in queries:
        why = "; ".join(problems[:3]) or "none of " + ", ".join(ROLES["device_controller"]) + " in it"
        return Report(
            None,
            tuple(problems),
            f"{origin} has no usable device-controller query ({why}); point tedapi.queries_file at a current "
            "pypowerwall query file",
        )
    return Report(QuerySet(origin, digest.hexdigest(), queries, tuple(problems)), tuple(problems), None)


def load(path: Path | None, keys: Sequence[bytes] = (TESLA_PUBLIC_KEY,)) -> QuerySet | None:
    """The usable queries from ``path``, else from an installed pypowerwall; None when there are none.

    Raises nothing: every problem is logged once, TEDAPI being off in one actionable line.
    """
    report = inspect(path, keys)
    origin = report.queries.origin if report.queries is not None else str(path or "pypowerwall")
    for p in report.problems:
        log.warning("TEDAPI queries (%s): %s", origin, p)
    if report.queries is None:
        log.error("TEDAPI off: %s", report.off_reason)
        return None
    unverified = [q.key for q in report.queries.queries.values() if q.verified is False]
    if unverified:
        log.warning(
            "TEDAPI queries %s do not verify against Tesla's public key; sending them anyway (the gateway decides)",
            ", ".join(unverified),
        )
    return report.queries


def read_bounded(path: Path) -> bytes:
    with path.open("rb") as fh:
        raw = fh.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES} bytes")
    return raw


def parse_entry(key: str, role: str, entry: Mapping[str, Any], keys: Sequence[bytes]) -> SignedQuery:
    text, code = entry.get("text"), entry.get("code")
    if not isinstance(text, str) or not text.strip():
        raise QueryError("no query text")
    if not isinstance(code, str):
        raise QueryError("no signature ('code')")
    raw_text = text.encode("utf-8")
    operation = operation_of(raw_text)
    if operation is None:
        raise QueryError("not a single read query (the text must start with 'query' and contain no mutation)")
    if operation not in READ_OPERATIONS:
        raise QueryError(f"operation {operation} is not on the read-only list {sorted(READ_OPERATIONS)}")
    version = entry.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version < 2**32:
        raise QueryError("version must be a non-negative integer")
    # The older sets say 0 but were signed (and are sent) as version 1.
    signed = signed_bytes(max(version, 1), raw_text)
    try:
        signature = bytes.fromhex(code)
        given = bytes.fromhex(entry.get("signed_bytes") or "")
    except (ValueError, TypeError):
        raise QueryError("signature or signed_bytes is not hex") from None
    if given and given != signed:
        raise QueryError("signed_bytes does not match version and text")
    try:
        variables_json = variables_for(role, entry.get("b_value"))
    except VariablesError as exc:
        raise QueryError(str(exc)) from None
    return SignedQuery(
        key=key,
        role=role,
        operation=operation,
        signed=signed,
        signature=signature,
        variables_json=variables_json,
        sha256=hashlib.sha256(signed).hexdigest(),
        verified=verify(signed, signature, keys),
    )


def verify(signed: bytes, signature: bytes, keys: Sequence[bytes]) -> bool | None:
    """Whether ``signature`` over ``signed`` verifies under one of ``keys``; None without ``cryptography``."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_pem_public_key
    except ImportError:
        return None
    for pem in keys:
        key = load_pem_public_key(pem)
        if not isinstance(key, ec.EllipticCurvePublicKey):
            continue
        try:
            key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
            return True
        except (InvalidSignature, ValueError):
            continue
    return False


def pypowerwall_files() -> list[Path]:
    """pypowerwall's query files, found in its distribution's file list (names have changed before)."""
    try:
        dist = importlib.metadata.distribution("pypowerwall")
    except importlib.metadata.PackageNotFoundError:
        return []
    found: list[Path] = []
    for f in dist.files or ():
        parts = f.parts
        if f.suffix == ".json" and "tedapi" in parts and "queries" in parts and "tests" not in parts:
            found.append(Path(str(dist.locate_file(f))))
    # Older role-keyed sets first: ROLES prefers them, and a later file never overrides a key.
    return sorted(found, key=lambda p: p.name)


def pypowerwall_origin(files: Iterable[Path]) -> str:
    try:
        version = importlib.metadata.version("pypowerwall")
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    return f"pypowerwall {version}: " + ", ".join(p.name for p in files)

"""Serve captured gateway answers from a directory tree (one file per URL path).

Layout (as in shared/fixtures/*): ``GET /api/a/b`` is answered from ``<dir>/api/a/b.json`` (served as
200 ``application/json``, bytes unchanged) or, when a ``<dir>/api/a/b.http`` exists, from that raw
HTTP response (status line, headers, blank line, body; ``HTTP/2 500 `` status lines included). Files are
read on every request so a test can change them while the server runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# Headers that describe the original connection, not the answer; we send our own.
_HOP_HEADERS = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive", "date"})


@dataclass(frozen=True, slots=True)
class CannedResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def parse_http(raw: bytes) -> CannedResponse:
    """Parse a captured raw HTTP response (tolerates LF or CRLF line ends and HTTP/2 status lines)."""
    text = raw.replace(b"\r\n", b"\n")
    head, sep, body = text.partition(b"\n\n")
    if not sep:
        head, body = text, b""
    lines = head.decode("latin-1").split("\n")
    parts = lines[0].split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP status line: {lines[0]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() not in _HOP_HEADERS:
            headers.append((name.strip(), value.strip()))
    return CannedResponse(int(parts[1]), headers, body)


class ReplayStore:
    def __init__(self, root: Path, vitals_file: Path | None = None) -> None:
        self.root = root.resolve()
        self.vitals_file = vitals_file
        if not (self.root / "api").is_dir():
            raise FileNotFoundError(f"replay directory {root} has no api/ subdirectory")

    def lookup(self, path: str) -> CannedResponse | None:
        """Answer for GET ``path`` (no query string), or None (→ 404)."""
        if path == "/api/devices/vitals":
            if self.vitals_file is None:
                return None
            return CannedResponse(200, [("Content-Type", "application/octet-stream")], self.vitals_file.read_bytes())
        if not path.startswith("/api/") or path.endswith("/"):
            return None
        rel = path[len("/api/") :]
        if any(part in ("", ".", "..") for part in rel.split("/")):
            return None
        stem = self.root / "api" / rel
        http_file = stem.with_name(stem.name + ".http")
        json_file = stem.with_name(stem.name + ".json")
        for candidate in (http_file, json_file):
            # Refuse anything that resolves outside the tree (symlinks), however the path was spelled.
            if candidate.is_file() and candidate.resolve().is_relative_to(self.root):
                data = candidate.read_bytes()
                if candidate is http_file:
                    return parse_http(data)
                return CannedResponse(200, [("Content-Type", "application/json")], data)
        return None

"""What a gateway request comes back as: an answer (:class:`Fetched`) or a failure (:class:`FetchError`).

Failures are values, not exceptions that escape: every request of a scrape reports its own outcome,
and the collector turns outcomes into ``powerwall_scrape_endpoint_*`` series the same way for every
source. ``reason`` is one of a small fixed set (it becomes a label value); the message is the
readable form a person sees in the log and on the landing page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

REASONS = frozenset(
    {
        "timeout",
        "connection",
        "tls",
        "tls_pin_mismatch",
        "unauthorized",
        "bad_credentials",
        "login_failed",
        "rate_limited",
        "cooldown",
        "not_supported",
        "http_error",
        "too_large",
        "decode",
    }
)


class ForbiddenRequest(RuntimeError):
    """A request outside the allow-list was attempted: a programming error, never sent."""


class FetchError(Exception):
    """A failed request. ``reason`` is one of :data:`REASONS`."""

    REASONS = REASONS

    def __init__(self, reason: str, message: str, status: int | None = None) -> None:
        assert reason in REASONS, reason
        super().__init__(message)
        self.reason = reason
        self.status = status

    @property
    def answered(self) -> bool:
        """True when the gateway itself answered (an HTTP status other than auth/rate errors)."""
        return self.status is not None and self.reason in ("http_error", "not_supported", "too_large")

    def detached(self) -> FetchError:
        """The same error without traceback, cause or context.

        A caught exception's traceback holds every frame it passed, and each frame its locals and
        its caller: kept in the result cache, a failure held the previous cached result alive, which
        held its own failure's frames, and so on: ~130 KiB per failed scrape for as long as the
        gateway kept failing. Results that outlive the request are always detached.
        """
        return FetchError(self.reason, str(self), self.status)


@dataclass(frozen=True, slots=True, weakref_slot=True)
class Fetched:
    """An answer. Every scrape that shares it gets this very object, so what it decodes to can be kept
    per object, weakly, for as long as the object lives (hence the weakref slot)."""

    path: str
    status: int
    body: bytes
    duration: float  # seconds the gateway request took (0 for a shared cached result's reuse)
    at: float  # monotonic time the answer arrived

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            # RecursionError: a few KB of "[[[[..." nest deeper than the parser's stack.
            if self.body.lstrip()[:1] == b"<":
                why = "answered HTML, not JSON (a captive portal or the gateway's web UI?)"
            else:
                why = f"not JSON ({exc.__class__.__name__})"
            raise FetchError("decode", f"{self.path}: {why}", self.status) from None

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object: every JSON endpoint of the gateway answers one."""
        obj = self.json()
        if not isinstance(obj, dict):
            raise FetchError("decode", f"{self.path}: JSON is a {type(obj).__name__}, not an object", self.status)
        return obj


Result = Fetched | FetchError

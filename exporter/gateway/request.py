"""A request a source wants sent: its identity, what it expects back, which auth domain signs it.

Sources declare requests; the transport sends them. Everything the transport decides per request
(the ``Accept`` header, which credentials, whether a 404 means "not on this firmware", how long an
answer may be reused) comes from here, never from comparing paths. The identity used for single
flight and caching is (method, path, body digest): TEDAPI sends many different bodies to one path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exporter.gateway.outcomes import Fetched

ReuseFor = Callable[["Fetched"], float | None]


class Body(Enum):
    """What a request expects back; its value is the ``Accept`` header."""

    JSON = "application/json"
    PROTOBUF = "application/octet-stream"
    TEXT = "text/plain"


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    accept: Body = Body.JSON
    body: bytes = b""
    content_type: str | None = None
    auth: str = "customer"  # the auth domain (see exporter.gateway.auth)
    # Optional requests are absent on some firmware or hardware (404, or 500 for a sub-feature the
    # site lacks); those answers are cached negatively instead of counted as failures.
    optional: bool = False
    # Whether a 500 also means "not here" for an optional request (the gateway's answer for a
    # sub-feature the site lacks); the JSON endpoints a Powerwall 3 lacks answer 404 only.
    absent_on_500: bool = True
    # How long an answer is reused; None: the gateway's ``min_interval_seconds``.
    min_interval_seconds: float | None = None
    # How long an answer is reused, judged from the answer itself; its None: as above. Never raises.
    # An answer reused this way counts as contact with the gateway only in the scrape that read it.
    reuse_for: ReuseFor | None = field(default=None, compare=False, repr=False)
    # The ``endpoint`` label of this request's series; defaults to the path.
    label: str = ""
    # Another host of the same gateway (TEDAPI's WiFi address); None: the gateway's address.
    base_url: str | None = None
    key: tuple[str, str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.path)
        digest = hashlib.sha256(self.body).hexdigest()[:16] if self.body else ""
        path = self.path if self.base_url is None else self.base_url + self.path
        object.__setattr__(self, "key", (self.method, path, digest))


def get(
    path: str,
    accept: Body = Body.JSON,
    *,
    optional: bool = False,
    absent_on_500: bool = True,
    reuse_for: ReuseFor | None = None,
) -> Request:
    """A read of one exact path with the customer session."""
    return Request("GET", path, accept, optional=optional, absent_on_500=absent_on_500, reuse_for=reuse_for)

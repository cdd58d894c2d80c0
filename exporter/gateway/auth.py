"""Auth domains of a gateway: how a request gets its credentials, and the two simplest ways.

Each auth domain (the JSON API's customer session, TEDAPI's gateway password, no credentials at
all) answers the transport through :class:`Auth`; one that signs bodies instead of sending a header
(TEDAPI v1r) is also :class:`SignsBodies`. Why a protocol: the transport keeps one loop for every
request (credentials, send, refused or accepted) and each domain decides what a refusal means.

* :class:`NoAuth` — requests that carry no credentials.
* :class:`HttpBasic` — a fixed user and secret (TEDAPI's gateway password), nothing to log in.
* :class:`~exporter.gateway.login.CustomerLogin` — the JSON API's customer login, in a module of its
  own (login, session reuse, back-off).

Strategies never talk HTTP themselves: the transport hands them its ``send``, which enforces the
allow-list and counts the request like any other.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from exporter.config import Secret
from exporter.gateway.backoff import Pause, whole_seconds
from exporter.gateway.outcomes import FetchError, Result

log = logging.getLogger(__name__)

REFUSED_BACKOFF_SECONDS = 60.0  # HTTP Basic refused: the same secret will be refused again


@dataclass(frozen=True, slots=True)
class Credentials:
    """Headers for one request; ``generation`` identifies the session they belong to."""

    generation: int
    headers: Mapping[str, str] = field(default_factory=dict)


class Auth(Protocol):
    domain: str

    def credentials(self, deadline: float) -> Credentials | FetchError: ...

    def rejected(self, cred: Credentials, label: str, status: int, retried: bool) -> bool:
        """A request with ``cred`` got 401/403 (``retried``: the second time in a row); True: try again."""

    def accepted(self, cred: Credentials) -> None:
        """A request with ``cred`` was answered (not refused)."""

    def paused_for(self) -> float: ...

    def logins(self) -> Mapping[str, int]: ...

    def use_clock(self, clock: Callable[[], float]) -> None:
        """Run the domain's pauses on the transport's clock (its back-offs and deadlines use it too)."""


@runtime_checkable
class SignsBodies(Protocol):
    """An auth domain whose credential is a signature over the body (TEDAPI v1r), not a header.

    The transport asks it to wrap the request's body for every attempt (a fresh signature each time,
    checked against the allow-list as sent), to open every 200 answer (the payload, or the refusal it
    carries), and tells it how each request ended.
    """

    def sign(self, body: bytes) -> bytes: ...

    def open(self, label: str, body: bytes, headers: Mapping[str, str]) -> bytes | FetchError:
        """The payload of a 200 answer, or the failure it carries (``retry`` set: sign and send again once)."""

    def settled(self, result: Result) -> None: ...


class NoAuth:
    """For requests that carry no credentials."""

    domain = "none"

    def credentials(self, deadline: float) -> Credentials | FetchError:
        return Credentials(0)

    def rejected(self, cred: Credentials, label: str, status: int, retried: bool) -> bool:
        return False

    def accepted(self, cred: Credentials) -> None:
        return None

    def paused_for(self) -> float:
        return 0.0

    def logins(self) -> Mapping[str, int]:
        return {}

    def use_clock(self, clock: Callable[[], float]) -> None:
        return None


class HttpBasic:
    """A fixed user and secret (HTTP Basic): no login, no session.

    A refusal means the secret is wrong (or, for TEDAPI, that the network path is not allowed):
    sending the same secret again soon cannot help, so the domain pauses (60 s, doubling per
    refusal in a row, at most 30 min) and the refusal is logged once per episode with ``hint``.
    """

    def __init__(
        self,
        domain: str,
        gateway: str,
        user: str,
        secret: Secret,
        hint: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.domain = domain
        self._gateway = gateway
        token = base64.b64encode(f"{user}:{secret.reveal()}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}"}
        self._hint = hint
        self._refused = False
        self._pause = Pause(clock)

    def credentials(self, deadline: float) -> Credentials | FetchError:
        return Credentials(0, self._headers)

    def rejected(self, cred: Credentials, label: str, status: int, retried: bool) -> bool:
        delay = self._pause.block(REFUSED_BACKOFF_SECONDS, once=True)
        if not self._refused:
            self._refused = True
            hint = f"; {self._hint}" if self._hint else ""
            log.error(
                "gateway %s: %s refused the %s credentials (HTTP %d)%s; asking again in %d s",
                self._gateway,
                label,
                self.domain,
                status,
                hint,
                whole_seconds(self._pause.remaining() if delay is None else delay),
            )
        return False  # the same secret would be refused again

    def accepted(self, cred: Credentials) -> None:
        if self._refused:
            log.info("gateway %s: the %s credentials are accepted again", self._gateway, self.domain)
        self._refused = False
        self._pause.reset()

    def paused_for(self) -> float:
        return self._pause.remaining()

    def logins(self) -> Mapping[str, int]:
        return {}

    def use_clock(self, clock: Callable[[], float]) -> None:
        # Before any request: a pause on another clock than the transport's would hold the domain
        # back for a different time than the log line says.
        self._pause = Pause(clock)

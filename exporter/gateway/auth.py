"""Auth strategies, one per auth domain of a gateway: how a request gets its credentials.

* :class:`CustomerLogin` — the JSON API's customer login (``POST /api/login/Basic``): one login,
  reused and persisted across restarts; a new login only after a 401/403, and concurrent 401s cause
  exactly one re-login; every way a login can fail goes through one back-off, so a login is never
  retried in a loop whatever the gateway answers.
* :class:`HttpBasic` — a fixed user and secret (TEDAPI's gateway password), nothing to log in.

Strategies never talk HTTP themselves: the transport hands them its ``send``, which enforces the
allow-list and counts the request like any other.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from exporter.config import GatewayConfig, Secret
from exporter.gateway.allowlist import LOGIN_PATH
from exporter.gateway.backoff import Pause, whole_seconds
from exporter.gateway.http import Answer
from exporter.gateway.outcomes import FetchError, Result
from exporter.gateway.sessions import SessionStore, valid_token

log = logging.getLogger(__name__)

LOGIN_COOLDOWN_SECONDS = 300.0
BAD_CREDENTIALS_BACKOFF_SECONDS = 60.0
LOGIN_TRANSPORT_BACKOFF_SECONDS = 5.0  # login could not reach the gateway: retry soon, but not per request
LOGIN_TRANSPORT_BACKOFF_MAX_SECONDS = 60.0
LOGIN_FAILURE_SHARE_SECONDS = 2.0  # a failed login answers every caller this long, instead of a new try
LOGIN_RESULTS = ("success", "bad_credentials", "rate_limited", "error")
REFUSED_BACKOFF_SECONDS = 60.0  # HTTP Basic refused: the same secret will be refused again

# (method, path, headers, body, deadline) -> Answer; raises FetchError
Send = Callable[[str, str, Mapping[str, str], bytes, float], Answer]
# (headers, minimum seconds, label) -> None: a 429 silences the whole gateway
RateLimited = Callable[[Mapping[str, str], float, str], None]


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


class CustomerLogin:
    """The JSON API's customer session (see the module docstring)."""

    domain = "customer"

    def __init__(
        self,
        cfg: GatewayConfig,
        send: Send,
        rate_limited: RateLimited,
        clock: Callable[[], float],
        store: SessionStore | None = None,
    ) -> None:
        self._cfg = cfg
        self._send = send
        self._rate_limited = rate_limited
        self._clock = clock
        self._store = store
        self._lock = threading.Lock()
        self._login_lock = threading.Lock()
        self._token: str | None = None
        self._user_record: str | None = None
        self._gen = 0
        self._accepted = -1  # the last session generation a request had accepted
        self._dropped = False  # the current token was dropped after a refusal
        self._replacement = False  # the current token replaced a refused one
        self._headers: Mapping[str, str] = {}
        self._pause = Pause(clock)
        self._last_failure: tuple[FetchError | None, float] = (None, 0.0)
        self._logins: Counter[str] = Counter()
        if store is not None:
            saved = store.load(cfg.name, cfg.base_url)
            if saved:
                self._adopt(*saved)
                log.info("gateway %s: reusing the saved login session", cfg.name)

    # ---- Auth ----------------------------------------------------------------------------------
    def credentials(self, deadline: float) -> Credentials | FetchError:
        with self._lock:
            if self._token is not None:
                return Credentials(self._gen, self._headers)
        with self._login_lock:
            with self._lock:
                if self._token is not None:  # another thread logged in while we waited
                    return Credentials(self._gen, self._headers)
                failed, at = self._last_failure
                if failed is not None and self._clock() - at < LOGIN_FAILURE_SHARE_SECONDS:
                    # Another caller's attempt just failed: share its answer instead of trying again,
                    # so the concurrent requests of a scrape (or an HA pair) cost one login attempt.
                    return failed
            try:
                result = self._login(deadline)
            except Exception as exc:
                # An answer nobody thought of must still go through the back-off: an exception that
                # escaped here used to mean a fresh login for every endpoint of every scrape.
                log.exception("gateway %s: login failed unexpectedly", self._cfg.name)
                self._count("error")
                self._pause.block(BAD_CREDENTIALS_BACKOFF_SECONDS)
                result = FetchError("login_failed", f"login: unexpected failure ({exc.__class__.__name__})")
            if isinstance(result, FetchError):
                result = result.detached()
            with self._lock:
                self._last_failure = (result, self._clock()) if isinstance(result, FetchError) else (None, 0.0)
            return result

    def rejected(self, cred: Credentials, label: str, status: int, retried: bool) -> bool:
        with self._lock:
            # A replacement token that no request has had accepted yet: refusing it says the gateway
            # refuses fresh sessions, not that this one expired.
            fresh = cred.generation == self._gen and self._replacement and self._accepted != cred.generation
        if not retried and not fresh:
            self._drop(cred.generation)
            return True
        # A fresh token was refused: the session is not the problem, and dropping it would make every
        # concurrent caller log in again (a request that started after the re-login sees its first
        # refusal of the new token). Pause logins instead.
        delay = self._pause.block(BAD_CREDENTIALS_BACKOFF_SECONDS, once=True)
        if delay is not None:
            log.warning(
                "gateway %s: %s refused a fresh session (HTTP %d); not logging in again for %d s",
                self._cfg.name,
                label,
                status,
                whole_seconds(delay),
            )
        return False

    def accepted(self, cred: Credentials) -> None:
        if self._accepted != cred.generation:
            with self._lock:
                self._accepted = cred.generation

    def paused_for(self) -> float:
        return self._pause.remaining()

    def logins(self) -> Mapping[str, int]:
        with self._lock:
            return {r: self._logins.get(r, 0) for r in LOGIN_RESULTS}

    def pause_until(self, until: float) -> None:
        self._pause.extend_to(until)

    def use_clock(self, clock: Callable[[], float]) -> None:
        return None  # the transport builds this one with its own clock

    # ---- internals -----------------------------------------------------------------------------
    def _adopt(self, token: str, record: str | None) -> int:
        headers = {
            "Authorization": f"Bearer {token}",
            "Cookie": f"AuthCookie={token}" + (f"; UserRecord={record}" if record else ""),
        }
        with self._lock:
            self._token, self._user_record = token, record
            self._gen += 1
            self._headers = headers
            return self._gen

    def _drop(self, gen: int) -> None:
        """Forget the token that got a 401, unless another thread already replaced it."""
        with self._lock:
            expired = self._token if self._gen == gen else None
            if expired is None:
                return
            self._token = None
            self._user_record = None
            self._dropped = True
        log.info("gateway %s: session expired; logging in again", self._cfg.name)
        if self._store is not None:
            # Only that token: another exporter sharing the file may have saved a fresh one. Outside
            # the lock, as the store waits for its file lock.
            self._store.drop(self._cfg.name, expired)

    def _count(self, result: str) -> None:
        with self._lock:
            self._logins[result] += 1

    def _login(self, deadline: float) -> Credentials | FetchError:
        paused = self._pause.remaining()
        if paused > 0:
            return FetchError("cooldown", f"login paused for {whole_seconds(paused)} s after a failed attempt")
        body = {
            "username": "customer",
            "password": self._cfg.password.reveal(),
            "email": self._cfg.email,
            "clientInfo": {"timezone": "UTC"},
        }
        # force_sm_off is never sent: on older firmware a login with it stopped the system.
        raw_body = json.dumps(body).encode()
        try:
            answer = self._send("POST", LOGIN_PATH, {"Content-Type": "application/json"}, raw_body, deadline)
        except FetchError as exc:
            self._count("error")
            # Short, capped pause: the gateway may be back in a minute and should find us logging in.
            self._pause.block(LOGIN_TRANSPORT_BACKOFF_SECONDS, cap=LOGIN_TRANSPORT_BACKOFF_MAX_SECONDS)
            return FetchError(exc.reason, f"login: {str(exc).removeprefix(LOGIN_PATH + ': ')}", exc.status)
        status = answer.status
        if status == 200:
            token, why = _token_from(answer.body)
            if token is None:
                self._count("error")
                delay = self._pause.block(BAD_CREDENTIALS_BACKOFF_SECONDS)
                log.error(
                    "gateway %s: login answered 200 but %s; treating it as a failed login; next attempt in %d s",
                    self._cfg.name,
                    why,
                    whole_seconds(delay or 0.0),
                )
                return FetchError("login_failed", f"login: 200 but {why}", status)
            record = _cookie_value(answer.headers, "UserRecord")
            if record is not None and not valid_token(record):
                record = None  # optional; never send a cookie value that is not header-safe
            gen = self._adopt(token, record)
            with self._lock:
                self._replacement, self._dropped = self._dropped, False
            self._pause.reset()
            self._count("success")
            log.info("gateway %s: logged in", self._cfg.name)
            if self._store is not None:
                self._store.save(self._cfg.name, self._cfg.base_url, token, record)
            return Credentials(gen, self._headers)
        if status == 429:
            self._count("rate_limited")
            self._rate_limited(answer.headers, LOGIN_COOLDOWN_SECONDS, "login")
            return FetchError("rate_limited", "login: HTTP 429 (rate limited)", status)
        if status in (400, 401, 403):
            self._count("bad_credentials")
            delay = self._pause.block(BAD_CREDENTIALS_BACKOFF_SECONDS)
            hint = _login_message(answer.body)
            log.error(
                "gateway %s: login rejected (HTTP %d%s); check the password; next attempt in %d s",
                self._cfg.name,
                status,
                f": {hint}" if hint else "",
                whole_seconds(delay or 0.0),
            )
            return FetchError("bad_credentials", f"login: HTTP {status} {hint}".strip(), status)
        self._count("error")
        self._pause.block(BAD_CREDENTIALS_BACKOFF_SECONDS / 4)
        return FetchError("login_failed", f"login: HTTP {status}", status)


def _token_from(raw: bytes) -> tuple[str | None, str]:
    """The session token of a 200 login answer, or None and why not (never the token itself)."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, "the answer is not JSON"
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        return None, "the answer carries no token"
    if not valid_token(token):
        # A CR/LF in a header value would be refused at send time on every request, forever, and
        # printed in the traceback; such a token is never used or stored.
        return None, f"its token is not header-safe or has an absurd length ({len(token)} characters)"
    return token, ""


def _login_message(raw: bytes) -> str:
    """The gateway's own login error text (it says e.g. when the old default password is refused)."""
    try:
        data: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return ""
    if not isinstance(data, dict):
        return ""
    parts = [str(data.get(k)) for k in ("error", "message") if isinstance(data.get(k), str)]
    return "; ".join(parts)[:200]


def _cookie_value(headers: Mapping[str, str], name: str) -> str | None:
    # requests folds repeated Set-Cookie headers with ", "; cookie values here never contain commas.
    for part in headers.get("set-cookie", "").split(","):
        kv = part.strip().split(";", 1)[0]
        if kv.startswith(name + "="):
            return kv[len(name) + 1 :]
    return None

"""The JSON API's customer login (``POST /api/login/Basic``): one session, reused, and never a login storm.

Why a module of its own: the customer session is the one auth domain that logs in. It holds a token
(persisted across restarts in :mod:`exporter.gateway.sessions`), and its mistakes are ones the
gateway would feel: a login retried per request, or per scrape. So:

* one login, reused and persisted across restarts; a new login only after a 401/403, and
  concurrent 401s cause exactly one re-login;
* every way a login can fail goes through one back-off, so a login is never retried in a loop
  whatever the gateway answers; a failed login answers every concurrent caller for a moment
  instead of each trying again.

:class:`CustomerLogin` is an :class:`~exporter.gateway.auth.Auth`. It never talks HTTP itself: the
transport hands it its ``send``, which enforces the allow-list and counts the request like any other.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from exporter.config import GatewayConfig
from exporter.gateway.allowlist import LOGIN_PATH
from exporter.gateway.auth import Credentials
from exporter.gateway.backoff import Pause, whole_seconds
from exporter.gateway.http import Answer
from exporter.gateway.outcomes import FetchError
from exporter.gateway.sessions import SessionStore, valid_token

log = logging.getLogger(__name__)

LOGIN_COOLDOWN_SECONDS = 300.0
BAD_CREDENTIALS_BACKOFF_SECONDS = 60.0
LOGIN_TRANSPORT_BACKOFF_SECONDS = 5.0  # login could not reach the gateway: retry soon, but not per request
LOGIN_TRANSPORT_BACKOFF_MAX_SECONDS = 60.0
LOGIN_FAILURE_SHARE_SECONDS = 2.0  # a failed login answers every caller this long, instead of a new try
LOGIN_RESULTS = ("success", "bad_credentials", "rate_limited", "error")

# (method, path, headers, body, deadline) -> Answer; raises FetchError
Send = Callable[[str, str, Mapping[str, str], bytes, float], Answer]
# (headers, minimum seconds, label) -> None: a 429 silences the whole gateway
RateLimited = Callable[[Mapping[str, str], float, str], None]


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
    # The channel folds repeated Set-Cookie headers with ", " (Answer.headers); cookie values here never
    # contain commas.
    for part in headers.get("set-cookie", "").split(","):
        kv = part.strip().split(";", 1)[0]
        if kv.startswith(name + "="):
            return kv[len(name) + 1 :]
    return None

"""The gateway client: the only code that talks to a gateway, and the gentlest client it has.

Guarantees, each because the gateway is a fragile embedded device:

* Only ``POST /api/login/Basic`` and GETs on the exact paths in :mod:`exporter.gateway.endpoints` leave this
  module; anything else raises :class:`ForbiddenRequest` before a socket opens.
* One login, reused (and persisted across restarts); a new login only after a 401/403, and concurrent
  401s cause exactly one re-login.
* 429 silences the whole gateway for a cooldown (≥ 5 min, exponential with jitter, ``Retry-After``
  honoured); login is never retried in a loop.
* Concurrent callers of the same endpoint share one in-flight request, and a result younger than
  ``min_interval_seconds`` is reused, so N scrapers cost the gateway what one does.
* Every request has a total deadline (not only per socket operation) and a bounded body, also after
  decompression, so a slow drip or a gzip bomb cannot hold a thread or memory.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Any

import requests
import urllib3
from requests.models import PreparedRequest

from exporter.config import GatewayConfig
from exporter.gateway import endpoints as ep
from exporter.gateway.sessions import SessionStore, valid_token
from exporter.gateway.tls import GatewayAdapter
from exporter.metrics.metricset import MetricSet, counter, gauge

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4 * 1024 * 1024
LOGIN_COOLDOWN_SECONDS = 300.0
RATE_LIMIT_COOLDOWN_SECONDS = 300.0
MAX_COOLDOWN_SECONDS = 1800.0
BAD_CREDENTIALS_BACKOFF_SECONDS = 60.0
NOT_SUPPORTED_TTL_SECONDS = 600.0
LOGIN_TRANSPORT_BACKOFF_SECONDS = 5.0  # login could not reach the gateway: retry soon, but not per request
LOGIN_TRANSPORT_BACKOFF_MAX_SECONDS = 60.0
LOGIN_FAILURE_SHARE_SECONDS = 2.0  # a failed login answers every caller this long, instead of a new try
_USER_AGENT = "powerwall-exporter"


class ForbiddenRequest(RuntimeError):
    """A request outside the allow-list was attempted: a programming error, never sent."""


class FetchError(Exception):
    """A failed fetch. ``reason`` is one of a small fixed set (it becomes a label value)."""

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

    def __init__(self, reason: str, message: str, status: int | None = None) -> None:
        assert reason in self.REASONS, reason
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


@dataclass(frozen=True, slots=True)
class Fetched:
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
            raise FetchError("decode", f"{self.path}: not JSON ({exc.__class__.__name__})", self.status) from None


Result = Fetched | FetchError


@dataclass(slots=True)
class _Cached:
    result: Result
    at: float


REQUESTS_TOTAL = counter("powerwall_gateway_requests_total", "HTTP requests sent to the gateway, by endpoint and code.")
LOGIN_ATTEMPTS = counter("powerwall_login_attempts_total", "Login attempts, by result.")
COOLDOWN = gauge("powerwall_gateway_cooldown_seconds", "Seconds until the exporter talks to the gateway again.")
ERRORS_TOTAL = counter(
    "powerwall_scrape_endpoint_errors_total", "Failed endpoint fetches, by endpoint and reason (see README)."
)


class GatewayClient:
    def __init__(
        self,
        cfg: GatewayConfig,
        store: SessionStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.cfg = cfg
        self._store = store
        self._clock = clock
        self._rng = rng or random.Random()
        # requests' transport (urllib3 keep-alive pool + our TLS pinning) is used directly, without a
        # Session: we manage auth headers ourselves, never follow redirects and ignore the environment,
        # so a Session's per-request merging of cookies, settings and hooks is pure overhead (it was
        # two thirds of a fetch's CPU). Prepared GETs are cached per token generation.
        self._adapter = GatewayAdapter(cfg.tls, pool_maxsize=len(ep.SCRAPE_ENDPOINTS) + 2)
        if cfg.tls.insecure_skip_verify:
            # The user chose this and was warned loudly at start; urllib3 would repeat it per request.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self._prepared: dict[tuple[str, int], PreparedRequest] = {}
        self._lock = threading.Lock()
        self._login_lock = threading.Lock()
        self._token: str | None = None
        self._user_record: str | None = None
        self._token_gen = 0
        self._cooldown_until = 0.0
        self._cooldown_streak = 0
        self._login_blocked_until = 0.0
        self._login_failures = 0
        self._login_error: tuple[FetchError | None, float] = (None, 0.0)  # last failed attempt and when
        self._inflight: dict[str, Future[Result]] = {}
        self._cache: dict[str, _Cached] = {}
        self._not_supported_until: dict[str, float] = {}
        self._requests: Counter[tuple[str, str]] = Counter()
        self._logins: Counter[str] = Counter()
        self._errors: Counter[tuple[str, str]] = Counter()
        if store is not None:
            saved = store.load(cfg.name, cfg.base_url)
            if saved:
                self._token, self._user_record = saved
                self._token_gen = 1
                log.info("gateway %s: reusing the saved login session", cfg.name)

    # ---- public API -------------------------------------------------------------------------
    def begin(
        self, endpoint: ep.Endpoint, deadline: float, run: Callable[[Callable[[], None]], None]
    ) -> Future[Result]:
        """Start fetching one endpoint; the future resolves to its :data:`Result`.

        Concurrent callers of the same endpoint get the *same* future: only the first caller's
        request runs (on ``run``, the gateway's worker pool), followers cost no thread while they
        wait. A result younger than ``min_interval_seconds`` and a cached "not supported" answer
        come back as an already finished future.
        """
        path = endpoint.path
        now = self._clock()
        with self._lock:
            until = self._not_supported_until.get(path, 0.0)
            if until > now:
                # No status: this is our memory of an old answer, not contact with the gateway now.
                return _done(FetchError("not_supported", f"{path} not supported by this gateway (cached)"))
            cached = self._cache.get(path)
            if cached is not None and now - cached.at < self.cfg.min_interval_seconds:
                return _done(cached.result)
            future = self._inflight.get(path)
            if future is not None:
                return future
            future = self._inflight[path] = Future()
        try:
            run(partial(self._lead, endpoint, deadline, future))
        except Exception as exc:  # the pool is closed: the exporter is shutting down
            self._finish(endpoint, future, FetchError("connection", f"{path}: not sent ({exc.__class__.__name__})"))
        return future

    def fetch(self, endpoint: ep.Endpoint, deadline: float) -> Result:
        """Fetch one endpoint in this thread (or wait for the caller already fetching it).

        Never raises for gateway problems: the error comes back as a :class:`FetchError` value so the
        collector can report it per endpoint.
        """
        future = self.begin(endpoint, deadline, _run_inline)
        try:
            return future.result(timeout=max(0.0, deadline - self._clock()))
        except TimeoutError:
            return FetchError("timeout", f"{endpoint.path}: no answer before the scrape deadline")

    def _lead(self, endpoint: ep.Endpoint, deadline: float, future: Future[Result]) -> None:
        try:
            result = self._fetch_uncached(endpoint, deadline)
        except Exception as exc:  # a bug must not wedge every future caller of this endpoint
            log.exception("gateway %s: unexpected error fetching %s", self.cfg.name, endpoint.path)
            result = FetchError("connection", f"{endpoint.path}: internal error {exc.__class__.__name__}")
        self._finish(endpoint, future, result)

    def _finish(self, endpoint: ep.Endpoint, future: Future[Result], result: Result) -> None:
        path = endpoint.path
        if isinstance(result, FetchError):
            result = result.detached()
        done = self._clock()
        with self._lock:
            self._inflight.pop(path, None)
            self._cache[path] = _Cached(result, done)
            if isinstance(result, FetchError):
                self._errors[(path, result.reason)] += 1
                if result.reason == "not_supported" and endpoint.optional:
                    if path not in self._not_supported_until:
                        log.info(
                            "gateway %s: %s is not supported by this firmware; asking again in %d s",
                            self.cfg.name,
                            path,
                            NOT_SUPPORTED_TTL_SECONDS,
                        )
                    self._not_supported_until[path] = done + NOT_SUPPORTED_TTL_SECONDS
            elif endpoint.optional:
                self._not_supported_until.pop(path, None)
        future.set_result(result)

    def is_not_supported(self, path: str) -> bool:
        with self._lock:
            return self._not_supported_until.get(path, 0.0) > self._clock()

    def note_error(self, path: str, reason: str) -> None:
        """Count a failure found after the fetch (a body that does not decode)."""
        with self._lock:
            self._errors[(path, reason)] += 1

    def cooldown_remaining(self) -> float:
        return max(0.0, max(self._cooldown_until, self._login_blocked_until) - self._clock())

    def health_metrics(self, ms: MetricSet) -> None:
        """Cumulative request/login/error counters and the cooldown gauge, for this gateway."""
        with self._lock:
            requests_ = dict(self._requests)
            logins = dict(self._logins)
            errors = dict(self._errors)
        for (path, code), n in sorted(requests_.items()):
            ms.add(REQUESTS_TOTAL, n, {"endpoint": path, "code": code})
        for result in ("success", "bad_credentials", "rate_limited", "error"):
            ms.add(LOGIN_ATTEMPTS, logins.get(result, 0), {"result": result})
        for (path, reason), n in sorted(errors.items()):
            ms.add(ERRORS_TOTAL, n, {"endpoint": path, "reason": reason})
        ms.add(COOLDOWN, self.cooldown_remaining())

    @property
    def login_count(self) -> int:
        with self._lock:
            return sum(self._logins.values())

    def close(self) -> None:
        self._adapter.close()

    # ---- internals ---------------------------------------------------------------------------
    def _prepare(
        self, method: str, path: str, token: str | None, record: str | None, json_body: Any
    ) -> PreparedRequest:
        headers = {
            "User-Agent": _USER_AGENT,
            "Accept": "application/octet-stream" if path == ep.VITALS.path else "application/json",
            "Accept-Encoding": "gzip, deflate",
            "Connection": "keep-alive",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
            headers["Cookie"] = f"AuthCookie={token}" + (f"; UserRecord={record}" if record else "")
        return requests.Request(method, self.cfg.base_url + path, headers=headers, json=json_body).prepare()

    def _fetch_uncached(self, endpoint: ep.Endpoint, deadline: float) -> Result:
        path = endpoint.path
        start = self._clock()
        if self.cooldown_remaining() > 0:
            return FetchError("cooldown", f"{path}: gateway rate-limited us; waiting {self.cooldown_remaining():.0f} s")
        for attempt in (1, 2):
            gen = self._ensure_login(deadline)
            if isinstance(gen, FetchError):
                return gen
            try:
                status, headers, body = self._http("GET", path, deadline, auth=True)
            except FetchError as exc:
                return exc
            if status in (401, 403):
                if attempt == 1:
                    self._drop_token(gen)
                    continue
                # A fresh token was refused as well: the session is not the problem, and dropping it
                # would make every concurrent caller log in again. Pause logins instead.
                self._pause_login_after_refusal(path, status)
                return FetchError("unauthorized", f"{path}: {status} after a fresh login", status)
            if status == 429:
                self._enter_cooldown(headers, RATE_LIMIT_COOLDOWN_SECONDS, path)
                return FetchError("rate_limited", f"{path}: 429 rate limited", status)
            if status == 404 or (status == 500 and endpoint.optional):
                # 500 is how the gateway answers for a sub-feature this site lacks.
                return FetchError("not_supported", f"{path}: HTTP {status}", status)
            if status != 200:
                return FetchError("http_error", f"{path}: HTTP {status}", status)
            now = self._clock()
            with self._lock:
                if now >= self._cooldown_until:
                    self._cooldown_streak = 0
            return Fetched(path, status, body, now - start, now)
        raise AssertionError("unreachable")

    def _ensure_login(self, deadline: float) -> int | FetchError:
        """Return the token generation to use, logging in first if there is no token."""
        with self._lock:
            if self._token is not None:
                return self._token_gen
        with self._login_lock:
            with self._lock:
                if self._token is not None:  # another thread logged in while we waited
                    return self._token_gen
                failed, at = self._login_error
                if failed is not None and self._clock() - at < LOGIN_FAILURE_SHARE_SECONDS:
                    # Another caller's attempt just failed: share its answer instead of trying again,
                    # so the concurrent requests of a scrape (or an HA pair) cost one login attempt.
                    return failed
            try:
                result = self._login(deadline)
            except Exception as exc:
                # An answer nobody thought of must still go through the back-off: an exception that
                # escaped here used to mean a fresh login for every endpoint of every scrape.
                log.exception("gateway %s: login failed unexpectedly", self.cfg.name)
                self._count_login("error")
                self._block_login(BAD_CREDENTIALS_BACKOFF_SECONDS)
                result = FetchError("login_failed", f"login: unexpected failure ({exc.__class__.__name__})")
            if isinstance(result, FetchError):
                result = result.detached()
            with self._lock:
                self._login_error = (result, self._clock()) if isinstance(result, FetchError) else (None, 0.0)
            return result

    def _login(self, deadline: float) -> int | FetchError:
        now = self._clock()
        if self._login_blocked_until > now:
            return FetchError(
                "cooldown", f"login paused for {self._login_blocked_until - now:.0f} s after a failed attempt"
            )
        body = {
            "username": "customer",
            "password": self.cfg.password.reveal(),
            "email": self.cfg.email,
            "clientInfo": {"timezone": "UTC"},
        }
        # force_sm_off is never sent: on older firmware a login with it stopped the system.
        try:
            status, headers, raw = self._http("POST", ep.LOGIN_PATH, deadline, auth=False, json_body=body)
        except FetchError as exc:
            self._count_login("error")
            # Short, capped pause: the gateway may be back in a minute and should find us logging in.
            self._block_login(LOGIN_TRANSPORT_BACKOFF_SECONDS, cap=LOGIN_TRANSPORT_BACKOFF_MAX_SECONDS)
            return FetchError(exc.reason, f"login: {exc}", exc.status)
        if status == 200:
            token, why = _token_from(raw)
            if token is None:
                self._count_login("error")
                delay = self._block_login(BAD_CREDENTIALS_BACKOFF_SECONDS)
                log.error(
                    "gateway %s: login answered 200 but %s; treating it as a failed login; next attempt in %.0f s",
                    self.cfg.name,
                    why,
                    delay or 0.0,
                )
                return FetchError("login_failed", f"login: 200 but {why}", status)
            user_record = _cookie_value(headers, "UserRecord")
            if user_record is not None and not valid_token(user_record):
                user_record = None  # optional; never send a cookie value that is not header-safe
            with self._lock:
                self._token = token
                self._user_record = user_record
                self._token_gen += 1
                self._login_failures = 0
                gen = self._token_gen
            self._count_login("success")
            log.info("gateway %s: logged in", self.cfg.name)
            if self._store is not None:
                self._store.save(self.cfg.name, self.cfg.base_url, token, user_record)
            return gen
        if status == 429:
            self._count_login("rate_limited")
            self._enter_cooldown(headers, LOGIN_COOLDOWN_SECONDS, ep.LOGIN_PATH)
            return FetchError("rate_limited", "login: 429 rate limited", status)
        if status in (400, 401, 403):
            self._count_login("bad_credentials")
            self._block_login(BAD_CREDENTIALS_BACKOFF_SECONDS)
            hint = _login_message(raw)
            log.error(
                "gateway %s: login rejected (HTTP %d%s); check the password; next attempt in %.0f s",
                self.cfg.name,
                status,
                f": {hint}" if hint else "",
                self._login_blocked_until - self._clock(),
            )
            return FetchError("bad_credentials", f"login: HTTP {status} {hint}".strip(), status)
        self._count_login("error")
        self._block_login(BAD_CREDENTIALS_BACKOFF_SECONDS / 4)
        return FetchError("login_failed", f"login: HTTP {status}", status)

    def _pause_login_after_refusal(self, path: str, status: int) -> None:
        delay = self._block_login(BAD_CREDENTIALS_BACKOFF_SECONDS, once=True)
        if delay is not None:
            log.warning(
                "gateway %s: %s refused a fresh session (HTTP %d); not logging in again for %.0f s",
                self.cfg.name,
                path,
                status,
                delay,
            )

    def _block_login(self, base: float, *, once: bool = False, cap: float = MAX_COOLDOWN_SECONDS) -> float | None:
        """Pause logins, doubling on each failure; ``once``: not again while a pause runs (one episode)."""
        with self._lock:
            now = self._clock()
            if once and self._login_blocked_until > now:
                return None
            self._login_failures += 1
            delay: float = min(cap, base * 2.0 ** min(self._login_failures - 1, 32))
            self._login_blocked_until = now + delay
            return delay

    def _drop_token(self, gen: int) -> None:
        """Forget the token that got a 401, unless another thread already replaced it."""
        with self._lock:
            expired = self._token if self._token_gen == gen else None
            if expired is None:
                return
            self._token = None
            self._user_record = None
        log.info("gateway %s: session expired; logging in again", self.cfg.name)
        if self._store is not None:
            # Only that token: another exporter sharing the file may have saved a fresh one. Outside
            # the lock, as the store waits for its file lock.
            self._store.drop(self.cfg.name, expired)

    def _enter_cooldown(self, headers: dict[str, str], minimum: float, path: str) -> None:
        with self._lock:
            # Only a 429 after the previous cooldown ran out is a repeat. The concurrent requests of
            # one scrape all get 429 from the same burst; counting each would escalate one burst
            # straight to the maximum cooldown.
            if self._clock() >= self._cooldown_until:
                self._cooldown_streak += 1
            delay = min(MAX_COOLDOWN_SECONDS, minimum * 2 ** (self._cooldown_streak - 1))
            delay *= 1.0 + self._rng.uniform(0.0, 0.2)
            retry_after = _retry_after(headers.get("retry-after"))
            if retry_after is not None:
                delay = max(delay, min(retry_after, 4 * MAX_COOLDOWN_SECONDS))
            until = self._clock() + delay
            if path == ep.LOGIN_PATH:
                self._login_blocked_until = max(self._login_blocked_until, until)
            self._cooldown_until = max(self._cooldown_until, until)
        log.warning(
            "gateway %s: %s answered 429 (rate limited); leaving the gateway alone for %.0f s",
            self.cfg.name,
            path,
            delay,
        )

    def _count_login(self, result: str) -> None:
        with self._lock:
            self._logins[result] += 1

    def _http(
        self,
        method: str,
        path: str,
        deadline: float,
        *,
        auth: bool,
        json_body: dict[str, Any] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP exchange under a total deadline, allow-list enforced first."""
        if not ep.is_allowed(method, path):
            raise ForbiddenRequest(f"{method} {path} is not on the allow-list")
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise FetchError("timeout", f"{path}: scrape deadline reached before the request")
        if auth and json_body is None:
            with self._lock:
                key = (path, self._token_gen)
                prepared = self._prepared.get(key)
                if prepared is None:
                    if len(self._prepared) > 4 * len(ep.ALLOWED_REQUESTS):
                        self._prepared.clear()  # old token generations
                    prepared = self._prepare(method, path, self._token, self._user_record, None)
                    self._prepared[key] = prepared
        else:
            prepared = self._prepare(method, path, None, None, json_body)
        code = "error"
        try:
            # total= bounds connect + TLS handshake + response headers together; the body read below
            # is bounded by the same deadline.
            timeout = urllib3.Timeout(total=remaining, connect=remaining, read=remaining)
            resp = self._adapter.send(prepared, stream=True, timeout=timeout)  # type: ignore[arg-type]  # accepted at run time
            code = str(resp.status_code)
            try:
                body = _read_bounded(resp, deadline, self._clock)
            finally:
                resp.close()
            return resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, body
        except FetchError as exc:
            code = exc.reason if code == "error" else code
            raise
        except requests.exceptions.SSLError as exc:
            code = "tls"
            if "fingerprint" in str(exc).lower():
                raise FetchError(
                    "tls_pin_mismatch",
                    f"{path}: the gateway's certificate does not match the pinned fingerprint "
                    "(firmware update or a different device?); re-pin after checking",
                ) from None
            raise FetchError("tls", f"{path}: TLS failed: {_short(exc)}") from None
        except (requests.exceptions.Timeout, TimeoutError):
            code = "timeout"
            raise FetchError("timeout", f"{path}: timed out") from None
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            code = "connection"
            raise FetchError("connection", f"{path}: {_short(exc)}") from None
        finally:
            with self._lock:
                self._requests[(path, code)] += 1


def _run_inline(job: Callable[[], None]) -> None:
    job()


def _done(result: Result) -> Future[Result]:
    future: Future[Result] = Future()
    future.set_result(result)
    return future


def _read_bounded(resp: requests.Response, deadline: float, clock: Callable[[], float]) -> bytes:
    """Read the body within the deadline and size bound; decompress with a bound as well."""
    raw = resp.raw
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - clock()
        if remaining <= 0:
            raise FetchError("timeout", "body not complete before the scrape deadline")
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(min(remaining, 30.0))
        try:
            chunk = raw.read1(65536, decode_content=False) if hasattr(raw, "read1") else raw.read(65536)
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            raise FetchError("timeout", "body not complete before the scrape deadline") from None
        except (urllib3.exceptions.ProtocolError, OSError) as exc:
            raise FetchError("connection", f"body read failed: {_short(exc)}") from None
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise FetchError("too_large", f"body larger than {MAX_BODY_BYTES} bytes", resp.status_code)
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = resp.headers.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "deflate", "x-gzip"):
        body = _inflate_bounded(body, resp.status_code)
    elif encoding not in ("", "identity"):
        raise FetchError("decode", f"unsupported content-encoding {encoding!r}", resp.status_code)
    return body


def _inflate_bounded(data: bytes, status: int) -> bytes:
    d = zlib.decompressobj(wbits=47)  # gzip or zlib header, auto-detected
    try:
        out = d.decompress(data, MAX_BODY_BYTES + 1)
    except zlib.error:
        raise FetchError("decode", "corrupt compressed body", status) from None
    if len(out) > MAX_BODY_BYTES or d.unconsumed_tail:
        raise FetchError("too_large", f"body inflates beyond {MAX_BODY_BYTES} bytes", status)
    return out


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None  # HTTP-date form is not worth a parser here: the floor of 5 min applies


def _cookie_value(headers: dict[str, str], name: str) -> str | None:
    # requests folds repeated Set-Cookie headers with ", "; cookie values here never contain commas.
    for part in headers.get("set-cookie", "").split(","):
        kv = part.strip().split(";", 1)[0]
        if kv.startswith(name + "="):
            return kv[len(name) + 1 :]
    return None


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
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return ""
    if not isinstance(data, dict):
        return ""
    parts = [str(data.get(k)) for k in ("error", "message") if isinstance(data.get(k), str)]
    return "; ".join(parts)[:200]


def _short(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return text if len(text) <= 200 else text[:200] + "..."

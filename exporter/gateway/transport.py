"""The gateway transport: the only code that talks to a gateway, and the gentlest client it has.

Source-neutral: sources declare :class:`~exporter.gateway.request.Request` values and get
:data:`~exporter.gateway.outcomes.Result` values back. Guarantees, each because the gateway is a
fragile embedded device:

* Only requests on the allow-list leave this package (method + exact path, and a vetted body where
  bodies differ); anything else raises before a socket opens.
* Credentials come from the request's auth domain (:mod:`exporter.gateway.auth`); a domain with a
  host of its own (TEDAPI's access point) gets few connections and is left alone while its host is
  silent (:mod:`exporter.gateway.bounded_domain`).
* A 429 silences the request's cooldown scope (the whole gateway, or one auth domain such as
  TEDAPI, where a 503 does too) for ≥ 5 min, exponential with jitter, ``Retry-After`` honoured.
* Single flight and reuse of answers keyed by request identity (:mod:`exporter.gateway.cache`).
  A failure is never reused: the back-offs here are the only thing that spaces the attempts after
  one, and each log line that announces a delay names the one really applied.
* Every request has a total deadline and a bounded body, also after decompression
  (:mod:`exporter.gateway.http`).

The transport returns outcomes and counts (:meth:`GatewayTransport.stats`); it writes no metrics.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial

from exporter.config import GatewayConfig
from exporter.gateway import wire
from exporter.gateway.allowlist import LOGIN_PATH, AllowList
from exporter.gateway.auth import Auth, Credentials, NoAuth, SignsBodies
from exporter.gateway.backoff import JITTER, Cooldown, retry_after_seconds, whole_seconds
from exporter.gateway.bounded_domain import BoundedDomain
from exporter.gateway.cache import SingleFlight
from exporter.gateway.http import Answer, HttpChannel, Prepared
from exporter.gateway.login import CustomerLogin
from exporter.gateway.outcomes import Fetched, FetchError, Result
from exporter.gateway.request import Request
from exporter.gateway.sessions import SessionStore

log = logging.getLogger(__name__)

RATE_LIMIT_COOLDOWN_SECONDS = 300.0
GATEWAY_SCOPE = "gateway"
# What a status that starts a cooldown is called in the log and in the failure's message.
_COOLDOWN_STATUS_TEXT = {429: "rate limited", 503: "service unavailable"}

Run = Callable[[Callable[[], None]], None]


@dataclass(frozen=True, slots=True)
class TransportStats:
    """Cumulative counts since start, for the collector to expose."""

    requests: Mapping[tuple[str, str], int]  # (label, HTTP code or failure) -> requests sent
    logins: Mapping[str, int]  # result -> login attempts
    errors: Mapping[tuple[str, str], int]  # (label, reason) -> failed requests
    cooldown_seconds: float


class GatewayTransport:
    def __init__(
        self,
        cfg: GatewayConfig,
        allow: AllowList,
        store: SessionStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        pool_maxsize: int = 13,
    ) -> None:
        self.cfg = cfg
        self._allow = allow
        self._clock = clock
        self._rng = rng or JITTER
        self._pool_maxsize = pool_maxsize
        self._lock = threading.Lock()
        self._channels: dict[str, HttpChannel] = {}
        self._cooldowns: dict[str, Cooldown] = {GATEWAY_SCOPE: Cooldown(clock, self._rng)}
        self._flight = SingleFlight(cfg.min_interval_seconds, clock)
        self._requests: Counter[tuple[str, str]] = Counter()
        self._errors: Counter[tuple[str, str]] = Counter()
        # Requests in flight that a caller already counted as a missed deadline (settle), whose own
        # end is then not counted again; and requests counted by _finish but not yet published.
        # Both bounded by the requests in flight.
        self._late: set[Future[Result]] = set()
        self._ending: set[Future[Result]] = set()
        self._customer = CustomerLogin(cfg, self._send_raw, self._rate_limited_login, clock, store)
        self._auths: dict[str, Auth] = {"none": NoAuth(), "customer": self._customer}
        # The domains that sign bodies, found once at registration: an isinstance check against a
        # runtime-checkable protocol inspects every attribute, and cost as much as the HTTP library's
        # request building when it ran three times per request.
        self._signers: dict[str, SignsBodies] = {}
        # Auth domains with a connection bound and an unreachable back-off (add_auth).
        self._bounded: dict[str, BoundedDomain] = {}

    # ---- public API -----------------------------------------------------------------------------
    def add_auth(self, auth: Auth, max_connections: int | None = None) -> None:
        """Register another auth domain (e.g. TEDAPI's HTTP Basic) with its own cooldown scope.

        ``max_connections`` bounds the domain's simultaneous requests and its keep-alive pool (a
        fragile access point gets at most that many connections, whatever the scrapers do), and
        gives the domain a capped exponential back-off while its host does not answer at all.
        """
        auth.use_clock(self._clock)  # its pauses and this transport's back-offs run on one clock
        self._auths[auth.domain] = auth
        if isinstance(auth, SignsBodies):
            self._signers[auth.domain] = auth
        else:
            self._signers.pop(auth.domain, None)
        self._cooldowns.setdefault(auth.domain, Cooldown(self._clock, self._rng))
        if max_connections is not None:
            self._bounded[auth.domain] = BoundedDomain(self.cfg.name, auth.domain, max_connections, self._clock)

    def begin(self, request: Request, deadline: float, run: Run) -> Future[Result]:
        """Start ``request``; concurrent callers share one future (see :mod:`exporter.gateway.cache`)."""
        future, lead = self._flight.lookup(request)
        if lead:
            try:
                run(partial(self._lead, request, deadline, future))
            except Exception as exc:  # the pool is closed: the exporter is shutting down
                self._finish(request, future, _not_sent(request, exc))
        return future

    def begin_many(self, requests: Sequence[Request], deadline: float, run: Run) -> list[Future[Result]]:
        """Start ``requests`` (a scrape's first round); one future each, in order.

        Those this transport leads and can send together (plain requests to the gateway's own host:
        no connection bound, no signed body) go to one job, which sends them all before it reads
        the first answer: the gateway still gets them side by side, and the exporter spends one
        thread on them instead of one each. The others start one by one, as with :meth:`begin`.
        """
        futures: list[Future[Result]] = []
        batch: list[tuple[Request, Future[Result]]] = []
        for request in requests:
            if not self._batchable(request):
                futures.append(self.begin(request, deadline, run))
                continue
            future, lead = self._flight.lookup(request)
            futures.append(future)
            if lead:
                batch.append((request, future))
        if batch:
            try:
                run(partial(self._lead_many, batch, deadline))
            except Exception as exc:  # the pool is closed: the exporter is shutting down
                for request, future in batch:
                    self._finish(request, future, _not_sent(request, exc))
        return futures

    def fetch(self, request: Request, deadline: float) -> Result:
        """Fetch in this thread (or wait for the caller already fetching it); never raises."""
        future = self.begin(request, deadline, _run_inline)
        try:
            return future.result(timeout=max(0.0, deadline - self._clock()))
        except TimeoutError:
            return self.settle(request, future)

    def settle(self, request: Request, future: Future[Result]) -> Result:
        """The result for a caller that stops waiting for ``future`` now: its own, or a counted timeout.

        Why here: a request that misses the scrape deadline is usually ended by its own deadline a
        moment later (both are the same instant), and that end is a failure too. The transport owns
        the error count of a request, so a late request counts exactly one failure, whichever of the
        two is seen first, however many scrapes share it and however it ends.
        """
        with self._lock:
            ended = future.done() or future in self._ending
            if not ended and future not in self._late:
                self._late.add(future)
                self._errors[(request.label, "timeout")] += 1
        if ended:  # counted by _finish; its result is published a moment after
            return future.result()
        return FetchError("timeout", f"{request.label}: no answer before the scrape deadline")

    def now(self) -> float:
        """This transport's monotonic time: the clock an answer's ``Fetched.at`` is on."""
        return self._clock()

    def not_supported(self, request: Request) -> bool:
        return self._flight.not_supported(request)

    def forget_answers(self) -> None:
        """Let every request's next lookup reach the gateway (see :meth:`SingleFlight.forget_answers`)."""
        self._flight.forget_answers()

    def sweep(self) -> int:
        """Drop answers past their reuse interval (see :meth:`SingleFlight.sweep`); how many went."""
        return self._flight.sweep()

    def discard(self, request: Request, answer: Fetched) -> None:
        """Do not reuse ``answer``: it did not decode (see :meth:`SingleFlight.discard`)."""
        self._flight.discard(request, answer)

    def note_error(self, label: str, reason: str) -> None:
        """Count a failure found in an answer after the fetch (it does not decode); a missed
        deadline is counted by :meth:`settle` instead, once per request."""
        with self._lock:
            self._errors[(label, reason)] += 1

    def cooldown_remaining(self) -> float:
        """Seconds until the JSON API is asked again (gateway cooldown or customer login pause)."""
        return max(self._cooldowns[GATEWAY_SCOPE].remaining(), self._customer.paused_for())

    def _wait_before(self, request: Request) -> tuple[float, str]:
        """What holds this request back, and why: the gateway's cooldown, its own domain's cooldown,
        credential pause and unreachable back-off.

        Another domain's troubles never do: a refused customer login must not silence TEDAPI.
        """
        domain = request.auth
        waits = [
            (self._cooldowns[GATEWAY_SCOPE].remaining(), "the gateway rate-limited us"),
            (self._auths[domain].paused_for(), f"the {domain} credentials were refused"),
        ]
        if domain in self._cooldowns:
            waits.append((self._cooldowns[domain].remaining(), f"the {domain} requests were rate-limited"))
        if domain in self._bounded:
            waits.append((self._bounded[domain].unreachable_for(), f"the {domain} host did not answer"))
        return max(waits)

    def stats(self) -> TransportStats:
        logins: Counter[str] = Counter()
        for auth in self._auths.values():
            logins.update(auth.logins())
        with self._lock:
            return TransportStats(dict(self._requests), dict(logins), dict(self._errors), self.cooldown_remaining())

    @property
    def login_count(self) -> int:
        return sum(self._customer.logins().values())

    def close(self) -> None:
        with self._lock:
            channels = list(self._channels.values())
        for c in channels:
            c.close()

    # ---- internals ------------------------------------------------------------------------------
    def _lead(self, request: Request, deadline: float, future: Future[Result]) -> None:
        try:
            result = self._fetch_uncached(request, deadline)
        except Exception as exc:  # a bug must not wedge every future caller of this request
            log.exception("gateway %s: unexpected error fetching %s", self.cfg.name, request.label)
            result = _internal_error(request, exc)
        self._finish(request, future, result)

    def _finish(self, request: Request, future: Future[Result], result: Result) -> None:
        # Counted before the result is published, so a scrape that sees the failure also sees its
        # count; a request already counted as late (settle) is not counted a second time.
        with self._lock:
            if isinstance(result, FetchError) and future not in self._late:
                self._errors[(request.label, result.reason)] += 1
            self._late.discard(future)
            self._ending.add(future)
        try:
            self._flight.finish(request, future, result, self.cfg.name)
        finally:
            with self._lock:
                self._ending.discard(future)

    def _lead_many(self, batch: list[tuple[Request, Future[Result]]], deadline: float) -> None:
        open_ = dict(enumerate(batch))

        def done(i: int, result: Result) -> None:
            request, future = open_.pop(i)
            self._finish(request, future, result)
            if not isinstance(result, FetchError) or result.reason == "not_supported":
                self._spare_if_quiet(request)

        try:
            self._attempts_many([request for request, _ in batch], deadline, done)
        except Exception as exc:  # a bug must not wedge every future caller of these requests
            log.exception("gateway %s: unexpected error fetching %d requests", self.cfg.name, len(batch))
            for request, future in open_.values():
                self._finish(request, future, _internal_error(request, exc))

    def _spare_if_quiet(self, request: Request) -> None:
        """Close one idle connection to the gateway if ``request``, just answered in a batch, will not
        be sent again before an idle connection expires (:data:`wire.IDLE_SECONDS`): the site info,
        reused for 10 min, or an endpoint this gateway lacks.

        Why: sent side by side with the others, it took a connection of its own, one more than the
        next scrapes keep busy. Left to expire, that one was held two minutes after every such read,
        and a replica started with a thousand gateways held one for each of them at once (about 22 KB
        each, mostly OpenSSL's). A lone request shares its connection with the ones before and after
        it, so it leaves nothing spare and is not followed by this.
        """
        if self._flight.quiet_for(request) >= wire.IDLE_SECONDS:
            self._channel(self.cfg.base_url).spare(self.cfg.base_url)

    def _batchable(self, request: Request) -> bool:
        """Whether ``request`` can share a job with others: it goes to the gateway's own host over the
        shared pool (see :meth:`begin_many`)."""
        return request.base_url is None and request.auth not in self._bounded and request.auth not in self._signers

    def _fetch_uncached(self, request: Request, deadline: float) -> Result:
        results: dict[int, Result] = {}
        self._attempts_many([request], deadline, results.__setitem__)
        result = results[0]
        signer = self._signers.get(request.auth)
        if signer is not None:
            signer.settled(result)
        return result

    def _attempts_many(self, requests: Sequence[Request], deadline: float, done: Callable[[int, Result], None]) -> None:
        """Send the requests (all at once) and call ``done`` with each one's index and result as soon
        as it is known; a request whose answer asks for it (a 401/403 after a fresh login, a signed
        answer with a clock fault) is sent once more, with the others that do."""
        start = self._clock()
        todo: list[int] = []
        for i, request in enumerate(requests):
            wait, why = self._wait_before(request)
            if wait > 0:
                done(i, FetchError("cooldown", f"{request.label}: {why}; waiting {whole_seconds(wait)} s"))
            else:
                todo.append(i)
        for attempt in (1, 2):
            ready: list[tuple[int, Credentials]] = []
            for i in todo:
                cred = self._auths[requests[i].auth].credentials(deadline)
                if isinstance(cred, FetchError):
                    done(i, cred)
                else:
                    ready.append((i, cred))
            todo = []
            for k, answer in self._exchange_all([(requests[i], cred) for i, cred in ready], deadline):
                i, cred = ready[k]
                verdict = (
                    answer if isinstance(answer, FetchError) else self._judge(requests[i], cred, answer, attempt, start)
                )
                if verdict is None:
                    todo.append(i)
                else:
                    done(i, verdict)
            if not todo:
                return
        raise AssertionError("unreachable: a second attempt always ends")

    def _judge(self, request: Request, cred: Credentials, answer: Answer, attempt: int, start: float) -> Result | None:
        """What ``answer`` means for ``request``; None: send it once more (attempt 1 only)."""
        label = request.label
        auth = self._auths[request.auth]
        signer = self._signers.get(request.auth)
        scope = request.auth if request.auth in self._cooldowns else GATEWAY_SCOPE
        status = answer.status
        if status in (401, 403):
            if auth.rejected(cred, label, status, retried=attempt == 2):
                return None
            again = " after a fresh login" if attempt == 2 else ""
            return FetchError("unauthorized", f"{label}: HTTP {status}{again}", status)
        auth.accepted(cred)
        if status == 429 or (status == 503 and scope != GATEWAY_SCOPE):
            self._enter_cooldown(scope, answer.headers, RATE_LIMIT_COOLDOWN_SECONDS, label, status)
            return FetchError("rate_limited", f"{label}: HTTP {status} ({_COOLDOWN_STATUS_TEXT[status]})", status)
        if status == 404 or (status == 500 and request.optional and request.absent_on_500):
            # 500 is how the gateway answers for a sub-feature this site lacks.
            return FetchError("not_supported", f"{label}: HTTP {status} (not on this gateway)", status)
        if status != 200:
            return FetchError("http_error", f"HTTP {status} from {label}", status)
        body = answer.body
        if signer is not None:
            opened = signer.open(label, body, answer.headers)
            if isinstance(opened, FetchError):
                if getattr(opened, "retry", False) and attempt == 1:
                    return None  # a time fault with a newly learned clock offset: signed afresh
                return opened
            body = opened
        for s in {GATEWAY_SCOPE, scope}:
            self._cooldowns[s].succeeded()
        # When it was read, not judged: in a batch, answers are judged after the last one arrived.
        now = answer.at or self._clock()
        return Fetched(request.path, status, body, now - start, now)

    def _exchange_all(
        self, items: Sequence[tuple[Request, Credentials]], deadline: float
    ) -> Iterator[tuple[int, Answer | FetchError]]:
        """One exchange per item, yielded (index, outcome) as each ends: a lone request as
        :meth:`_exchange` sends it, several (batchable ones, see :meth:`begin_many`) side by side
        over the gateway's pool."""
        if len(items) <= 1:
            for k, (request, cred) in enumerate(items):
                try:
                    yield k, self._exchange(request, cred.headers, deadline)
                except FetchError as exc:
                    yield k, exc
            return
        prepared = [self._prepare(request, cred.headers)[0] for request, cred in items]
        for request, _ in items:  # the line nothing may pass unchecked (see _send)
            self._allow.check(request.method, request.path, request.body)
        sending = [(p, request.label) for p, (request, _) in zip(prepared, items, strict=True)]
        for k, answer in self._channel(self.cfg.base_url).send_many(sending, deadline):
            self._count(items[k][0].label, _code(answer))
            yield k, answer

    def _prepare(self, request: Request, auth_headers: Mapping[str, str]) -> tuple[Prepared, bytes]:
        """The request as sent, and its body (signed afresh for a signing domain, else the request's).

        Built for every send, not kept: about 8 µs a request, where kept ones were about 0.8 KB each
        (the session's token and cookies are in every one), ten a gateway for as long as the session
        lasted.
        """
        body = request.body
        signer = self._signers.get(request.auth)
        if signer is not None:
            body = signer.sign(request.body)  # each attempt carries its own signature
        headers = {"Accept": request.accept.value, **auth_headers}
        if request.content_type:
            headers["Content-Type"] = request.content_type
        prepared = HttpChannel.prepare(
            request.method, (request.base_url or self.cfg.base_url) + request.path, headers, body
        )
        return prepared, body

    def _exchange(self, request: Request, auth_headers: Mapping[str, str], deadline: float) -> Answer:
        base = request.base_url or self.cfg.base_url
        prepared, body = self._prepare(request, auth_headers)
        bounded = self._bounded.get(request.auth)
        if bounded is None:
            return self._send(prepared, request.method, request.path, request.label, body, deadline, base)
        try:
            with bounded.connection(request.label, deadline):
                answer = self._send(
                    prepared, request.method, request.path, request.label, body, deadline, base, request.auth
                )
        except FetchError as exc:
            bounded.failed(exc)
            raise
        bounded.answered()
        return answer

    def _send_raw(self, method: str, path: str, headers: Mapping[str, str], body: bytes, deadline: float) -> Answer:
        """For auth strategies (the login POST): same allow-list, counting and deadline."""
        self._allow.check(method, path, body)
        prepared = HttpChannel.prepare(
            method, self.cfg.base_url + path, {"Accept": "application/json", **headers}, body
        )
        return self._send(prepared, method, path, path, body, deadline)

    def _send(
        self,
        prepared: Prepared,
        method: str,
        path: str,
        label: str,
        body: bytes,
        deadline: float,
        base_url: str | None = None,
        domain: str | None = None,
    ) -> Answer:
        # The allow-list is checked once more right before the socket: a cached prepared request
        # can only exist for an allowed request, but this is the line nothing may pass unchecked.
        self._allow.check(method, path, body)
        code = "connection"  # an unexpected exception: _lead reports it as a connection failure
        try:
            answer = self._channel(base_url or self.cfg.base_url, domain).send(prepared, label, deadline)
            code = _code(answer)
            return answer
        except FetchError as exc:
            code = _code(exc)
            raise
        finally:
            self._count(label, code)

    def _count(self, label: str, code: str) -> None:
        """One sent request in the request counter, by its label and :func:`_code`."""
        with self._lock:
            self._requests[(label, code)] += 1

    def _channel(self, base_url: str, domain: str | None = None) -> HttpChannel:
        """The keep-alive pool for a host; a domain with a connection bound has a pool of its own
        of that size, so its connections are never shared with (or counted against) the JSON API."""
        key = base_url if domain is None else f"{domain} {base_url}"
        with self._lock:
            channel = self._channels.get(key)
            if channel is None:
                size = self._pool_maxsize if domain is None else self._bounded[domain].connections
                channel = self._channels[key] = HttpChannel(self.cfg.tls, size, self._clock)
            return channel

    def _rate_limited_login(self, headers: Mapping[str, str], minimum: float, label: str) -> None:
        until = self._enter_cooldown(GATEWAY_SCOPE, headers, minimum, LOGIN_PATH, 429)
        self._customer.pause_until(until)

    def _enter_cooldown(self, scope: str, headers: Mapping[str, str], minimum: float, label: str, status: int) -> float:
        """Start or extend ``scope``'s cooldown; logs the code really answered and the wait really applied."""
        cooldown = self._cooldowns[scope]
        delay = cooldown.enter(minimum, retry_after_seconds(headers.get("retry-after")))
        log.warning(
            "gateway %s: %s answered HTTP %d (%s); leaving %s alone for %d s",
            self.cfg.name,
            label,
            status,
            _COOLDOWN_STATUS_TEXT.get(status, "refused"),
            "the gateway" if scope == GATEWAY_SCOPE else f"its {scope} requests",
            whole_seconds(delay),
        )
        return cooldown.until


def _run_inline(job: Callable[[], None]) -> None:
    job()


def _internal_error(request: Request, exc: Exception) -> FetchError:
    return FetchError("connection", f"{request.label}: internal error {exc.__class__.__name__}")


def _not_sent(request: Request, exc: Exception) -> FetchError:
    return FetchError("connection", f"{request.label}: not sent ({exc.__class__.__name__})")


def _code(outcome: Answer | FetchError) -> str:
    """A sent request's count key: the HTTP status (digits) when the gateway answered, else the
    failure reason (never digits), so the collector can tell answers from transport failures."""
    if isinstance(outcome, Answer):
        return str(outcome.status)
    return outcome.reason if outcome.status is None else str(outcome.status)

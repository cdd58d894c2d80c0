"""A small HTTP/1.1 client over ``ssl`` sockets: a keep-alive pool, one exchange per connection at a time.

Why our own: the transport sends about eleven small GETs per scrape to every gateway, and with
urllib3 and ``http.client`` underneath, half of its CPU went to their per-request objects and to
``email``-based header parsing (``bench/bench_transport.py``). The gateway speaks plain HTTP/1.1 with
small answers, so this does only that: one ``sendall`` of a request built in one go
(:func:`request_bytes`), then :func:`exporter.gateway.framing.read_response` reads the answer with
large ``recv_into`` reads, a hand-written head parser and hard bounds.

What this module guarantees, because the peer is a fragile device on a LAN:

* Every operation (connect, handshake, send, each read) has a socket timeout of the time left
  until the caller's deadline, so the whole exchange ends by then. A host name's lookup, which no
  socket timeout bounds, is waited for as long (:mod:`exporter.gateway.resolve`).
* Several requests to one host go out from one thread (:meth:`Pool.exchange_many`): each is sent on
  a connection of its own (new ones are opened side by side) before any answer is read, and the
  answers are read as they arrive, without blocking (:class:`exporter.gateway.framing.Arriving`),
  so one slow answer holds back no other. A lone request is read with blocking reads.
* An address whose connection attempt timed out (a gateway off the network) gets
  :data:`UNREACHABLE_CONNECT_SECONDS` for the next one, one attempt per exchange, and at most
  :data:`UNREACHABLE_ATTEMPTS_AT_ONCE` such attempts run in the process, until one succeeds: an
  offline gateway must not hold the threads the live ones need until every scrape's deadline. An
  address that connected before gets :data:`KNOWN_CONNECT_FACTOR` times its usual connection time
  (at least the same 3 s), so its first attempt after it dropped off ends early too; and a batch,
  or a lone request, with no answer at all on its reused connections after
  :data:`ANSWER_PATIENCE_SECONDS` checks with a new connection whether the gateway is still there,
  and fails at once if not (a gateway gone from the network answers nothing on the connections it
  left behind).
* Per ``(host, port)`` a bounded LIFO stack of idle connections. A connection goes back only when
  the answer's framing allows it (see :mod:`exporter.gateway.framing`); anything else closes it. A
  request read now and then (the site info every 10 min) opens one more connection than a scrape
  keeps busy: its caller closes one at once (:meth:`Pool.spare`), and one idle for
  :data:`IDLE_SECONDS` is closed whatever made it (idle connections are most of what a replica
  holds per gateway). An idle connection that became
  readable (the peer closed it, or sent junk) is dropped before reuse, and a request whose reused
  connection fails before the first byte of an answer is sent once more on a fresh one (the
  gateway's keep-alive timeout races with our next request; the requests sent are reads or the
  login, both safe to repeat once).

SNI and pinning: every connection sends ``server_name`` (the gateway aborts other names); a
fingerprint pin is compared after the handshake with the SHA-256 of the peer's certificate, in
constant time. Nothing here reads the environment (no proxies, no CA bundles).

Failures are raised as :class:`WireError` subclasses (what went wrong with the answer) or as the
``OSError``/``ssl.SSLError``/``TimeoutError`` of the failing operation before the answer began;
:mod:`exporter.gateway.http` turns both into readable messages.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence

from exporter.gateway.framing import (
    MAX_HEAD_BYTES,
    Arriving,
    BadAnswer,
    BodyTimeout,
    BodyTooLarge,
    BrokenAnswer,
    Connection,
    NoAnswer,
    Response,
    Stale,
    WireError,
    left,
    read_response,
)
from exporter.gateway.resolve import RESOLVER, AddrInfo, LookupTimeout, Resolver

__all__ = [
    "BadAnswer",
    "BodyTimeout",
    "BodyTooLarge",
    "BrokenAnswer",
    "NoAnswer",
    "PinMismatch",
    "Pool",
    "Response",
    "WireError",
    "request_bytes",
]


class Unreachable(TimeoutError):
    """An address whose last connection attempt timed out: no connection within
    :data:`UNREACHABLE_CONNECT_SECONDS` this time either, or not tried now (see :class:`_Retries`);
    or one that connected before and did not now within its time (:data:`KNOWN_CONNECT_FACTOR`).
    A timeout, with its own message."""


def _no_connection(budget: float, why: str) -> Unreachable:
    """An attempt that ran out of the address's own time; ``why`` says what set that time."""
    return Unreachable(f"no connection within {budget:.3g} s{why} (the gateway is off the network or not answering)")


def _not_tried(why: str) -> Unreachable:
    return Unreachable(f"not tried: its last connection attempt timed out, and {why}")


class PinMismatch(WireError):
    """The peer's certificate is not the pinned one."""

    def __init__(self) -> None:
        super().__init__("the certificate does not match the pinned fingerprint")


def request_bytes(method: str, target: str, host: str, headers: Mapping[str, str], body: bytes | None) -> bytes:
    """The request line, ``Host``, ``headers`` and ``body`` as one buffer for one ``sendall``.

    ``Content-Length`` is added for a body (and for a POST/PUT/PATCH without one). CR, LF or NUL in
    any part raise ``ValueError``: a header must not be able to start another.
    """
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    names = {name.lower() for name in headers}
    for name, value in headers.items():
        if name.lower() != "host":
            lines.append(f"{name}: {value}")
    if "content-length" not in names and (body is not None or method in ("POST", "PUT", "PATCH")):
        lines.append(f"Content-Length: {len(body or b'')}")
    if any("\r" in line or "\n" in line or "\0" in line for line in lines):
        raise ValueError("CR, LF or NUL in the request line or a header")
    return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + (body or b"")


# An idle connection unused this long is closed (when its address is next used). Above the scrape
# intervals people use (Prometheus' default is 1 min), so that a connection every scrape needs is kept.
IDLE_SECONDS = 120.0

# A gateway that stops answering (WiFi gateways drop off the network now and then) held a worker until
# the scrape's deadline at every scrape, and a fleet's offline sites then left its live ones waiting for
# workers: at 1,000 gateways with a tenth of them gone, the live ones' probes took 3 s instead of 0.3 s.
# Once a connection attempt to an address has timed out, the next ones get this long to connect and
# finish the TLS handshake, until one succeeds: a gateway on the LAN does both in well under a second,
# and one back on the network is seen at its next scrape.
UNREACHABLE_CONNECT_SECONDS = 3.0
# Attempts to connect to such addresses running at once, in the whole process. With a third of a
# fleet offline, 3 s each still took most of the shared thread pool; capped, the offline gateways
# take a few of its threads, a scrape that finds no slot free fails at once, and each offline gateway
# is still tried every few scrapes (every scrape when few are offline). Once one is back, its attempts
# end in milliseconds and free their slot.
UNREACHABLE_ATTEMPTS_AT_ONCE = 8
# An address that connected before gets this many times its usual connection time (TCP and TLS
# handshakes, an exponential average) to connect again, and never less than
# UNREACHABLE_CONNECT_SECONDS: a gateway that drops off the network fails its first attempt within a
# few seconds instead of the scrape's timeout, and a replica losing hundreds of sites at once is not
# left short of threads for a whole cycle. A slow site (a VPN, a busy gateway) keeps what it needs;
# an address never connected to gets the caller's whole time.
KNOWN_CONNECT_FACTOR = 10.0
# A scrape whose requests (or lone request) went out on idle keep-alive connections and that has no
# answer at all after this long checks with a new connection whether the gateway is still there. A
# gateway that dropped off the network answers nothing on the connections it left behind, and
# waiting for them took the scrape's whole timeout; the check gets UNREACHABLE_CONNECT_SECONDS
# whatever the address's usual time (which a replica's own load at start-up inflates), and when it
# fails so do they. A gateway that answers at all, or took a new connection in this scrape, is not
# checked. One slower than this at every answer costs one more connection attempt per scrape.
ANSWER_PATIENCE_SECONDS = 2.0
_USUAL_WEIGHT = 0.25  # of the newest connection time in the average


class _Retries:
    """Connection attempts to addresses whose last attempt timed out, running now, process-wide."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0

    def take(self) -> bool:
        with self._lock:
            if self._running >= UNREACHABLE_ATTEMPTS_AT_ONCE:
                return False
            self._running += 1
            return True

    def give(self) -> None:
        with self._lock:
            self._running -= 1


_RETRIES = _Retries()


class Pool:
    """Keep-alive connections to any number of ``(host, port)``: a bounded LIFO stack of idle ones each.

    At most ``maxsize`` idle connections are kept per address; one beyond that is closed after use
    (the callers bound their concurrency), and one idle for :data:`IDLE_SECONDS` is closed.
    Thread-safe: a connection is used by one exchange at a time.
    """

    def __init__(
        self,
        ctx: ssl.SSLContext,
        server_name: str,
        pin_sha256: bytes | None,
        maxsize: int,
        clock: Callable[[], float],
        resolver: Resolver = RESOLVER,
    ) -> None:
        self._ctx = ctx
        self._resolver = resolver
        self._server_name = server_name
        self._pin = pin_sha256
        self._maxsize = maxsize
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, int], list[Connection]] = {}
        # close() bumps it: a connection in use meanwhile is closed when it comes back, not kept.
        self._generation = 0
        # Addresses whose last connection attempt timed out (see UNREACHABLE_CONNECT_SECONDS), and
        # those of them with an attempt under way (one at a time each).
        self._unreachable: set[tuple[str, int]] = set()
        self._retrying: set[tuple[str, int]] = set()
        self._usual: dict[tuple[str, int], float] = {}  # seconds a connection usually takes (KNOWN_CONNECT_FACTOR)

    def exchange(self, host: str, port: int, request: bytes, head: bool, deadline: float, max_body: int) -> Response:
        """Send ``request`` and read its answer by ``deadline`` (``head``: a HEAD request, no body)."""
        for _, outcome, _ in self.exchange_many(host, port, ((request, head),), deadline, max_body):
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        raise AssertionError("unreachable: exchange_many yields once per request")

    def exchange_many(
        self, host: str, port: int, requests: Sequence[tuple[bytes, bool]], deadline: float, max_body: int
    ) -> Iterator[tuple[int, Response | Exception, float]]:
        """Send every request (``(bytes, head)``) on a connection of its own, then read the answers as
        they arrive, all by ``deadline``. Yields, once per request and as each ends: its index, its
        answer or the exception of its failure, and when it ended (on the pool's clock).

        Why one thread for all: the gateway works on the requests side by side either way; a thread
        per request cost a thread, its wake-ups and its share of the GIL per request. Yielding each
        answer as it comes lets the caller hand it on at once: one slow endpoint must not hold back
        the others past a scrape's deadline.
        """
        key = (host, port)
        if len(requests) == 1:  # nothing to read side by side: a blocking read, as it always was
            ((request, head),) = requests
            try:
                conn, reused = self._sent(key, request, deadline)
            except Exception as exc:
                yield 0, exc, self._clock()
                return
            gone = self._silent(key, conn, deadline) if reused else None
            if gone is not None:
                conn.close()
                yield 0, gone, self._clock()
                return
            yield 0, self._answer(key, conn, reused, (request, head), deadline, max_body), self._clock()
            return
        arriving: dict[int, tuple[int, Arriving]] = {}  # by file descriptor
        # When to ask whether the gateway is still there, if nothing has come on a reused connection.
        check_at = self._clock() + ANSWER_PATIENCE_SECONDS
        try:
            fresh: list[int] = []  # no idle connection took it: a new one each, opened side by side
            for i, (request, _) in enumerate(requests):
                try:
                    idle = self._reused(key, request, deadline)
                except Exception as exc:
                    yield i, exc, self._clock()
                    continue
                if idle is None:
                    fresh.append(i)
                else:
                    arriving[idle.sock.fileno()] = (i, Arriving(idle, True))
            for i, opened in zip(fresh, self._open_all(key, [requests[i][0] for i in fresh], deadline), strict=True):
                if isinstance(opened, Exception):
                    yield i, opened, self._clock()
                else:
                    arriving[opened.sock.fileno()] = (i, Arriving(opened, False))
                    check_at = math.inf  # it took a new connection just now: it is there
            if not any(answer.reused for _, answer in arriving.values()):
                check_at = math.inf
            waiting = select.poll()
            for fd in arriving:
                waiting.register(fd, select.POLLIN)
            while arriving:
                for_check = check_at < deadline
                ready = [fd for fd, _ in waiting.poll(max(0.0, min(deadline, check_at) - self._clock()) * 1000)]
                if not ready and for_check:  # nothing yet on connections that sat idle: is it still there?
                    check_at = math.inf
                    gone = self._gone(key, deadline)
                    if gone is None:
                        continue
                    for fd, (i, answer) in list(arriving.items()):  # what came meanwhile, else the failure
                        outcome = self._arrived(key, answer, requests[i], deadline, max_body, False)
                        if outcome is None:
                            answer.conn.close()
                            outcome = gone
                        del arriving[fd]
                        yield i, outcome, self._clock()
                    return
                final = not ready  # the time left passed with nothing more: what is missing times out
                for fd in list(arriving) if final else ready:
                    i, answer = arriving[fd]
                    outcome = self._arrived(key, answer, requests[i], deadline, max_body, final)
                    if outcome is not None:
                        del arriving[fd]
                        waiting.unregister(fd)
                        if isinstance(outcome, Response):
                            check_at = math.inf  # the gateway answers
                        yield i, outcome, self._clock()
        finally:
            for _, answer in arriving.values():  # the caller stopped early: nothing of these is read
                answer.conn.close()

    def _silent(self, key: tuple[str, int], conn: Connection, deadline: float) -> Unreachable | None:
        """The check of a batch (see :data:`ANSWER_PATIENCE_SECONDS`) for a lone request sent on the
        idle ``conn`` (TEDAPI's): nothing came on it in the patience's time, and the gateway takes no
        new connection. How that failed, else None: read on, as before."""
        check_at = self._clock() + ANSWER_PATIENCE_SECONDS
        if check_at >= deadline or conn.sock.pending():
            return None
        waiting = select.poll()
        waiting.register(conn.sock.fileno(), select.POLLIN)
        if waiting.poll((check_at - self._clock()) * 1000):
            return None
        gone = self._gone(key, deadline)
        if gone is None or waiting.poll(0):  # the answer began while the check ran: read it
            return None
        return gone

    def _gone(self, key: tuple[str, int], deadline: float) -> Unreachable | None:
        """Whether the gateway at ``key`` stopped taking connections, tried with a new one in the time
        an address gets (:meth:`_attempt`): how that failed, or None (it is there: the connection
        is kept for later; or a name lookup could not tell)."""
        try:
            conn = self._connect(key[0], key[1], deadline, check=True)
        except (LookupTimeout, socket.gaierror, UnicodeError):
            return None
        except OSError as exc:  # timed out, refused, reset, TLS: not there as it was
            return Unreachable(f"no answer, and a new connection to the gateway failed meanwhile: {exc}")
        except WireError:  # another certificate (a pin mismatch): not ours to judge here
            return None
        self._release(key, conn, True)
        return None

    def _arrived(
        self,
        key: tuple[str, int],
        answer: Arriving,
        request: tuple[bytes, bool],
        deadline: float,
        max_body: int,
        final: bool,
    ) -> Response | Exception | None:
        """What has arrived of ``answer``: all of it (its outcome), or not yet (None). ``final``: the
        deadline has passed, so what is missing times out."""
        raw, head = request
        conn = answer.conn
        answer.final = final
        try:
            try:
                got = answer.attempt(head, deadline, max_body) if final else None
                # A record at a time, parsed once what the parser waits for is there: the usual
                # answer is one or two records, one parse.
                while got is None:
                    if not answer.receive(max_body + MAX_HEAD_BYTES):
                        return None  # nothing more yet: poll again
                    if answer.ready():
                        got = answer.attempt(head, deadline, max_body)
            except Stale:  # the peer closed it as the request went out; once more on a fresh one
                conn.close()
                return self._fresh(key, raw, head, deadline, max_body)
        except Exception as exc:
            conn.close()
            return exc
        response, keep = got
        self._release(key, conn, keep)
        return response

    def close(self) -> None:
        """Close every idle connection now and every busy one when its exchange ends."""
        with self._lock:
            conns = [c for stack in self._idle.values() for c in stack]
            self._idle.clear()
            self._generation += 1
        for c in conns:
            c.close()

    def spare(self, host: str, port: int) -> bool:
        """Close the address's least recently used idle connection, if it has one; whether it had.

        For the caller that just had an answer it will not ask for again within :data:`IDLE_SECONDS`
        (the site info, reused for 10 min): that request's connection would sit idle until it
        expired, one more than the next scrapes keep busy, and a fleet replica would hold it for every
        gateway. Any idle one goes, not that very one: they are alike, and the oldest is the one the
        next scrape would reach last.
        """
        with self._lock:
            stack = self._idle.get((host, port))
            conn = stack.pop(0) if stack else None
        if conn is None:
            return False
        conn.close()
        return True

    def idle(self) -> tuple[int, int]:
        """Idle connections kept and the read-buffer bytes they hold (for tests and diagnostics)."""
        with self._lock:
            conns = [c for stack in self._idle.values() for c in stack]
        return len(conns), sum(len(c.buf) for c in conns)

    # ---- internals ------------------------------------------------------------------------------
    def _take(self, key: tuple[str, int]) -> Connection | None:
        while True:
            with self._lock:
                stack = self._idle.get(key)
                expired = _expire(stack, self._clock() - IDLE_SECONDS) if stack else ()
                conn = stack.pop() if stack else None
            for old in expired:
                old.close()
            if conn is None or conn.usable():
                return conn
            conn.close()  # the peer closed it while idle, or sent something unasked

    def _release(self, key: tuple[str, int], conn: Connection, keep: bool) -> None:
        """Done with ``conn``: back on the idle stack if ``keep`` (its answer's framing allows reuse),
        it is of this generation and there is room; closed otherwise."""
        with self._lock:
            if keep and conn.generation == self._generation:
                stack = self._idle.setdefault(key, [])
                if len(stack) < self._maxsize:
                    conn.rest()
                    conn.since = self._clock()
                    stack.append(conn)
                    return
        conn.close()

    def _connect(self, host: str, port: int, deadline: float, check: bool = False) -> Connection:
        """A new connection, TLS handshake and pin check done; ``check``: only to see whether the
        gateway is there (:meth:`_gone`), in the short time whatever the address's usual time."""
        key = (host, port)
        with self._lock:
            suspect = key in self._unreachable
            if suspect:
                if key in self._retrying:
                    raise _not_tried("another attempt is under way")
                if not _RETRIES.take():
                    raise _not_tried(f"the most such attempts at once ({UNREACHABLE_ATTEMPTS_AT_ONCE}) are under way")
                self._retrying.add(key)
        try:
            tls = self._attempt(key, deadline, suspect, check)
        finally:
            if suspect:
                _RETRIES.give()
                with self._lock:
                    self._retrying.discard(key)
        if self._pin is not None:
            der = tls.getpeercert(binary_form=True)
            if der is None or not hmac.compare_digest(hashlib.sha256(der).digest(), self._pin):
                tls.close()
                raise PinMismatch
        return Connection(tls, self._clock, self._generation)

    def _attempt(self, key: tuple[str, int], deadline: float, suspect: bool, check: bool) -> ssl.SSLSocket:
        """Connect and handshake, in the short time if ``suspect`` or a ``check``, in a few times the
        usual time if the address connected before (:data:`KNOWN_CONNECT_FACTOR`); marks or clears
        ``key``."""
        begun = self._clock()
        with self._lock:
            usual = self._usual.get(key)
        if suspect or check:
            until = min(deadline, begun + UNREACHABLE_CONNECT_SECONDS)
        elif usual is not None:
            until = min(deadline, begun + max(UNREACHABLE_CONNECT_SECONDS, KNOWN_CONNECT_FACTOR * usual))
        else:
            until = deadline
        try:
            tls = self._handshake(key[0], key[1], until)
        except LookupTimeout:
            raise  # the name server's trouble, not the address's: the resolver bounds its lookups
        except TimeoutError:
            # Marked also when little time was left: a replica short of threads starts scrapes late,
            # and if those attempts marked nothing, its offline gateways kept it short of threads. A
            # live gateway marked so loses nothing: it connects within the short time and is cleared.
            with self._lock:
                self._unreachable.add(key)
            if until < deadline:  # the address's own time ran out, not the caller's
                if suspect:
                    raise _no_connection(until - begun, "; the last attempt had timed out too") from None
                before = "" if check or usual is None else f", where connecting took {usual:.2f} s before"
                raise _no_connection(until - begun, before) from None
            raise
        took = self._clock() - begun
        with self._lock:
            self._usual[key] = took if usual is None else usual + (took - usual) * _USUAL_WEIGHT
            self._unreachable.discard(key)
        return tls

    def _handshake(self, host: str, port: int, until: float) -> ssl.SSLSocket:
        """A TCP connection to ``host:port`` with the TLS handshake done, all by ``until`` (the name's
        lookup included: see :mod:`exporter.gateway.resolve`)."""
        sock = tcp_connect(self._resolver.addresses(host, port, left(self._clock, until)), self._clock, until)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(left(self._clock, until))
            # Ragged EOFs raise, so that a cut connection can be told from one closed in good order
            # (Connection.recv_into turns both into an EOF).
            return self._ctx.wrap_socket(sock, server_hostname=self._server_name, suppress_ragged_eofs=False)
        except BaseException:
            sock.close()
            raise

    def _answer(
        self,
        key: tuple[str, int],
        conn: Connection,
        reused: bool,
        request: tuple[bytes, bool],
        deadline: float,
        max_body: int,
    ) -> Response | Exception:
        """The answer to ``request``, sent on ``conn``; once more on a fresh connection if a reused one
        turns out closed before the answer began."""
        raw, head = request
        try:
            try:
                return self._read(key, conn, head, deadline, max_body, reused)
            except Stale:
                return self._fresh(key, raw, head, deadline, max_body)
        except Exception as exc:
            return exc

    def _fresh(self, key: tuple[str, int], request: bytes, head: bool, deadline: float, max_body: int) -> Response:
        """``request`` once more, on a fresh connection (a reused one was closed before the answer)."""
        return self._read(key, self._opened(key, request, deadline), head, deadline, max_body, reused=False)

    def _open_all(
        self, key: tuple[str, int], requests: Sequence[bytes], deadline: float
    ) -> list[Connection | Exception]:
        """A fresh connection with each request sent on it, or the failure. Several are opened side by
        side, on short-lived threads: a TLS handshake takes a round trip or more and the gateway's own
        time, and ten in a row (a gateway's first contact, or after it dropped idle connections)
        would add them all up. Every step has a socket timeout of the time left, so all end by then."""

        def open_one(request: bytes) -> Connection | Exception:
            try:
                return self._opened(key, request, deadline)
            except Exception as exc:
                return exc

        if len(requests) <= 1:
            return [open_one(request) for request in requests]
        with self._lock:
            suspect = key in self._unreachable
        if suspect:  # one attempt; the others only once it got through (then side by side)
            first = open_one(requests[0])
            if isinstance(first, Exception):
                return [first] * len(requests)
            return [first, *self._open_all(key, requests[1:], deadline)]
        out: list[Connection | Exception] = [TimeoutError("not opened")] * len(requests)

        def run(i: int) -> None:
            out[i] = open_one(requests[i])

        threads = [
            threading.Thread(target=run, args=(i,), name="gateway-connect", daemon=True) for i in range(len(requests))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out

    def _sent(self, key: tuple[str, int], request: bytes, deadline: float) -> tuple[Connection, bool]:
        """A connection with ``request`` sent on it, and whether it was reused: an idle one if it takes
        the request, else a fresh one."""
        conn = self._reused(key, request, deadline)
        if conn is not None:
            return conn, True
        return self._opened(key, request, deadline), False

    def _reused(self, key: tuple[str, int], request: bytes, deadline: float) -> Connection | None:
        """An idle connection with ``request`` sent on it; None when there is none, or the one there
        was turned out closed (it is closed on our side too, then)."""
        conn = self._take(key)
        if conn is None:
            return None
        try:
            self._send(conn, request, deadline, reused=True)
        except Stale:
            return None
        return conn

    def _opened(self, key: tuple[str, int], request: bytes, deadline: float) -> Connection:
        """A fresh connection with ``request`` sent on it."""
        conn = self._connect(key[0], key[1], deadline)
        self._send(conn, request, deadline, reused=False)
        return conn

    @staticmethod
    def _send(conn: Connection, request: bytes, deadline: float, reused: bool) -> None:
        """Send on ``conn``; it is closed if that fails (:class:`Stale` when a reused one was)."""
        try:
            try:
                conn.send(request, deadline)
            except TimeoutError:
                raise
            except OSError as exc:
                if reused:
                    raise Stale from None
                if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):  # not a handshake problem
                    raise NoAnswer(isinstance(exc, ssl.SSLEOFError)) from None
                raise
        except BaseException:
            conn.close()
            raise

    def _read(
        self, key: tuple[str, int], conn: Connection, head: bool, deadline: float, max_body: int, reused: bool
    ) -> Response:
        """Read the answer on ``conn``; it goes back to the pool if the framing allows, else is closed."""
        try:
            response, keep = read_response(conn, head, deadline, max_body, reused)
        except BaseException:
            conn.close()
            raise
        self._release(key, conn, keep)
        return response


def tcp_connect(addresses: Sequence[AddrInfo], clock: Callable[[], float], until: float) -> socket.socket:
    """A TCP connection to the first of ``addresses`` that takes one, by ``until``; the last failure
    if none does (what ``socket.create_connection`` does, without its lookup)."""
    error: OSError = OSError("the gateway's host name has no address")
    for family, kind, proto, _, sockaddr in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(left(clock, until))
            sock.connect(sockaddr)
            return sock
        except TimeoutError:
            sock.close()
            raise  # no time left for the next address
        except OSError as exc:
            sock.close()
            error = exc
    raise error


def _expire(stack: list[Connection], before: float) -> list[Connection]:
    """Take the connections idle since before ``before`` off ``stack`` (the oldest are at its bottom:
    it is used last in, first out)."""
    n = 0
    while n < len(stack) and stack[n].since < before:
        n += 1
    expired = stack[:n]
    del stack[:n]
    return expired

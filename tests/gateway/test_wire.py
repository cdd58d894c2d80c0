"""Our HTTP/1.1 client (:mod:`exporter.gateway.wire`, through :class:`HttpChannel`) against real TLS servers.

The simulated gateway covers the ordinary answers; the odd ones (chunked bodies, bodies ended by the
connection, oversized heads, stale keep-alive connections, a server that stops mid-body) come from a
tiny scripted TLS server on 127.0.0.1 here, one script per accepted connection.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import pytest

from exporter.config import TLSConfig
from exporter.gateway import wire
from exporter.gateway.allowlist import LOGIN_PATH
from exporter.gateway.framing import Arriving, Connection
from exporter.gateway.http import MAX_BODY_BYTES, Answer, HttpChannel
from exporter.gateway.outcomes import FetchError
from exporter.gateway.tls import build_ssl_context, shared_ssl_context
from exporter.simulator import SimulatedGateway
from exporter.simulator.certs import CertBundle, generate_certificate
from tests.support.polling import wait_for
from tests.support.wiring import SIM_PASSWORD

WAIT = 5.0  # bound on waiting for a server-side event; a passing test never waits this long


class Peer:
    """The server's side of one connection, for a script."""

    def __init__(self, sock: ssl.SSLSocket, server: ScriptedServer) -> None:
        self.sock = sock
        self.server = server
        self._buf = b""

    def request(self) -> bytes | None:
        """The next request's head and body, or None when the client closed the connection."""
        while b"\r\n\r\n" not in self._buf:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return None
            if not data:
                return None
            self._buf += data
        head, _, rest = self._buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += self.sock.recv(65536)
        self._buf = rest[length:]
        with self.server.lock:
            self.server.requests.append(head + b"\r\n\r\n" + rest[:length])
        return head

    def send(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(data)

    def answer(self, body: bytes = b"{}", extra: bytes = b"") -> None:
        self.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body))

    def wait_for_close(self) -> None:
        """Until the client closes (or the test ends): records that the client closed it."""
        self.sock.settimeout(WAIT)
        with contextlib.suppress(OSError):
            while self.sock.recv(65536):
                pass
        self.server.client_closed.release()


Script = Callable[[Peer], None]


class ScriptedServer:
    """TLS on 127.0.0.1; the n-th accepted connection runs ``scripts[n]`` (the last one repeats)."""

    def __init__(self, bundle: CertBundle, tmp: Path, scripts: list[Script]) -> None:
        cert, key = tmp / "cert.pem", tmp / "key.pem"
        cert.write_bytes(bundle.cert_pem)
        key.write_bytes(bundle.key_pem)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.cert_path = cert
        self.scripts = scripts
        self.lock = threading.Lock()
        self.requests: list[bytes] = []
        self.accepted = 0
        self.release = threading.Event()  # scripts that stall wait on it; set at the end
        self.handshake_after = 0  # no TLS handshake until this many connections were accepted
        self.client_closed = threading.Semaphore(0)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self._accept = threading.Thread(target=self._serve, name="scripted-accept", daemon=True)
        self._accept.start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            with self.lock:
                script = self.scripts[min(self.accepted, len(self.scripts) - 1)]
                self.accepted += 1
                self._socks.append(raw)
            t = threading.Thread(target=self._run, args=(raw, script), name="scripted-conn", daemon=True)
            self._threads.append(t)
            t.start()

    def _run(self, raw: socket.socket, script: Script) -> None:
        deadline = time.monotonic() + WAIT
        while self.accepted < self.handshake_after and time.monotonic() < deadline:
            if self.release.wait(0.005):  # the test is over
                break
        try:
            with self.ctx.wrap_socket(raw, server_side=True) as sock:
                script(Peer(sock, self))
        except OSError:
            pass  # the client went away: normal in these tests
        finally:
            raw.close()

    def url(self, path: str = "/x") -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.release.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (Linux)
        self._listener.close()
        self._accept.join(WAIT)
        with self.lock:
            socks = list(self._socks)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        for t in self._threads:
            t.join(WAIT)


@pytest.fixture
def serve(bundle: CertBundle, tmp_path: Path) -> Iterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(*scripts: Script) -> ScriptedServer:
        server = ScriptedServer(bundle, tmp_path, list(scripts))
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


def _channel(server: ScriptedServer, maxsize: int = 4) -> HttpChannel:
    return HttpChannel(TLSConfig(ca_file=server.cert_path), maxsize, time.monotonic)


def _get(channel: HttpChannel, server: ScriptedServer, seconds: float = WAIT, method: str = "GET") -> Answer:
    prepared = HttpChannel.prepare(method, server.url(), {"Accept": "application/json"}, None)
    return channel.send(prepared, "/x", time.monotonic() + seconds)


def _failure(channel: HttpChannel, server: ScriptedServer, seconds: float = WAIT) -> FetchError:
    with pytest.raises(FetchError) as info:
        _get(channel, server, seconds)
    return info.value


def _keep_answering(peer: Peer) -> None:
    while peer.request() is not None:
        peer.answer(b'{"ok":true}')


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# ------------------------------------------------------------------------------ the simulated gateway
def test_login_post_and_keep_alive_against_the_simulated_gateway(sim: SimulatedGateway) -> None:
    channel = HttpChannel(TLSConfig(ca_file=Path(sim.cert_path)), 4, time.monotonic)
    body = json.dumps({"username": "customer", "password": SIM_PASSWORD, "email": "a@b.c"}).encode()
    login = HttpChannel.prepare("POST", sim.url + LOGIN_PATH, {"Content-Type": "application/json"}, body)
    try:
        token = json.loads(channel.send(login, LOGIN_PATH, time.monotonic() + WAIT).body)["token"]
        auth = {"Authorization": f"Bearer {token}", "Cookie": f"AuthCookie={token}"}
        prepared = HttpChannel.prepare("GET", sim.url + "/api/status", auth, None)
        answers = [channel.send(prepared, "/api/status", time.monotonic() + WAIT) for _ in range(5)]
    finally:
        channel.close()
    assert {a.status for a in answers} == {200}
    assert answers[0].headers["content-type"].startswith("application/json")
    assert all(name == name.lower() for name in answers[0].headers)
    assert json.loads(answers[-1].body)["version"]
    assert sim.login_count == 1 and len(sim.requests) == 6


# ------------------------------------------------------------------------------------ framing
def test_chunked_body_with_extensions_and_trailers_keeps_the_connection(serve: Callable[..., ScriptedServer]) -> None:
    def chunked(peer: Peer) -> None:
        while peer.request() is not None:
            peer.send(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"
            )

    server = serve(chunked)
    channel = _channel(server)
    try:
        assert _get(channel, server).body == b"hello world"
        assert _get(channel, server).body == b"hello world"
    finally:
        channel.close()
    assert server.accepted == 1


def test_idle_connections_hold_no_read_buffer(serve: Callable[..., ScriptedServer]) -> None:
    """A fleet keeps about ten idle connections per gateway: a 64 KiB read buffer each was 0.6 MB a
    gateway. The buffer lives while an answer is read, and the connection still serves the next one."""
    server = serve(_keep_answering)
    channel = _channel(server)
    try:
        for _ in range(3):
            assert _get(channel, server).body == b'{"ok":true}'
        assert channel.idle() == (1, 0)
    finally:
        channel.close()
    assert server.accepted == 1


def test_a_connection_idle_too_long_is_closed_and_the_others_kept(serve: Callable[..., ScriptedServer]) -> None:
    """A request read now and then (the site info) opens one connection more than a scrape keeps
    busy; it is closed once idle for ``IDLE_SECONDS`` instead of held for good. Time is the pool's
    clock, moved by hand."""
    server = serve(_keep_answering)
    shift = [0.0]

    def clock() -> float:
        return time.monotonic() + shift[0]

    channel = HttpChannel(TLSConfig(ca_file=server.cert_path), 4, clock)
    prepared = HttpChannel.prepare("GET", server.url(), {"Accept": "application/json"}, None)

    def scrape(n: int) -> list[int]:
        answers = channel.send_many([(prepared, "/x")] * n, clock() + WAIT)
        return sorted(r.status if isinstance(r, Answer) else 0 for _, r in answers)

    try:
        assert scrape(2) == [200, 200]  # the rare request's scrape: two connections
        for _ in range(3):
            shift[0] += wire.IDLE_SECONDS * 0.6  # every scrape within the limit: the one it uses is kept
            assert scrape(1) == [200]
            assert channel.idle()[0] == (2 if shift[0] < wire.IDLE_SECONDS else 1)
        assert server.accepted == 2, "the connection in use was kept, nothing was opened again"
        shift[0] += wire.IDLE_SECONDS + 1  # the last one too
        assert scrape(1) == [200]
        assert (server.accepted, channel.idle()[0]) == (3, 1)
    finally:
        channel.close()


def test_an_address_that_timed_out_gets_a_short_time_to_connect_until_it_answers(
    serve: Callable[..., ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gateway off the network must not hold a worker until every scrape's deadline: once a
    connection attempt timed out, the next ones get ``UNREACHABLE_CONNECT_SECONDS`` (shortened here),
    and a handshake that succeeds gives the address its whole time again."""
    monkeypatch.setattr(wire, "UNREACHABLE_CONNECT_SECONDS", 0.2)
    server = serve(_keep_answering)
    server.handshake_after = 1_000_000  # TCP is accepted, the handshake never comes: a hung gateway
    channel = _channel(server)
    try:
        first = _failure(channel, server, seconds=0.4)
        assert (first.reason, str(first)) == ("timeout", "/x: timed out after 0.4 s")
        begun = time.monotonic()
        second = _failure(channel, server, seconds=WAIT * 4)
        assert second.reason == "timeout"
        assert str(second).startswith("/x: no connection within 0.2 s; the last attempt had timed out too")
        assert time.monotonic() - begun < WAIT * 2, "the short time applied, not the request's own"
        server.handshake_after = 0  # back on the network
        assert _get(channel, server).status == 200
        channel.close()  # no idle connection left: the next request connects again
        server.handshake_after = 1_000_000
        monkeypatch.setattr(wire, "KNOWN_CONNECT_FACTOR", 1e6)  # its usual time, many times over
        third = _failure(channel, server, seconds=0.4)
        assert str(third) == "/x: timed out after 0.4 s", "the request's own time, here the shorter"
    finally:
        channel.close()


def test_an_address_that_connected_before_gets_a_few_times_its_usual_time(
    serve: Callable[..., ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gateway that drops off the network fails its first attempt after a few times its usual
    connection time (at least ``UNREACHABLE_CONNECT_SECONDS``, shortened here), not after the
    request's whole time; one never connected to gets the whole time."""
    monkeypatch.setattr(wire, "UNREACHABLE_CONNECT_SECONDS", 0.2)
    monkeypatch.setattr(wire, "KNOWN_CONNECT_FACTOR", 0.0)  # the floor alone, whatever loopback took
    never, known = serve(_keep_answering), serve(_keep_answering)
    channels = _channel(never), _channel(known)
    try:
        assert _get(channels[1], known).status == 200
        channels[1].close()  # no idle connection left: the next request connects again
        for server in (never, known):
            server.handshake_after = 1_000_000  # TCP is accepted, the handshake never comes
        begun = time.monotonic()
        dropped = _failure(channels[1], known, seconds=WAIT * 4)
        assert dropped.reason == "timeout"
        assert str(dropped).startswith("/x: no connection within 0.2 s, where connecting took"), str(dropped)
        assert time.monotonic() - begun < WAIT * 2, "the address's time applied, not the request's own"
        assert str(_failure(channels[0], never, seconds=0.4)) == "/x: timed out after 0.4 s"
    finally:
        for channel in channels:
            channel.close()


def test_offline_gateways_are_tried_a_few_at_a_time(
    serve: Callable[..., ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many gateways are offline, only ``UNREACHABLE_ATTEMPTS_AT_ONCE`` attempts to reach them
    hold a thread at once (one here); another such gateway's request fails at once without a
    connection, and is tried again when a slot is free. Progress is waited on, not slept through."""
    monkeypatch.setattr(wire, "UNREACHABLE_CONNECT_SECONDS", 0.2)
    servers = [serve(_keep_answering), serve(_keep_answering)]
    channels = [_channel(server) for server in servers]
    try:
        for server, channel in zip(servers, channels, strict=True):
            server.handshake_after = 1_000_000
            assert str(_failure(channel, server, seconds=0.4)) == "/x: timed out after 0.4 s"  # marked
        monkeypatch.setattr(wire, "UNREACHABLE_CONNECT_SECONDS", WAIT * 2)
        monkeypatch.setattr(wire, "UNREACHABLE_ATTEMPTS_AT_ONCE", 1)
        first = servers[0]
        accepted = first.accepted
        outcome: list[Answer | FetchError] = []

        def attempt() -> None:
            try:
                outcome.append(_get(channels[0], first, seconds=WAIT * 2))
            except FetchError as exc:
                outcome.append(exc)

        t = threading.Thread(target=attempt, name="attempt")
        t.start()
        # Its attempt holds the slot once the server has its connection (the handshake stalls there).
        wait_for("the first gateway's connection attempt", lambda: first.accepted > accepted, timeout=WAIT)
        second = _failure(channels[1], servers[1])
        assert second.reason == "timeout"
        assert str(second) == (
            "/x: not tried: its last connection attempt timed out, and the most such attempts at once (1) are under way"
        )
        assert servers[1].accepted == 1, "no connection was opened for it"
        first.handshake_after = 0  # the first gateway is back: its attempt gets through and frees the slot
        t.join(WAIT * 3)
        assert [r.status for r in outcome if isinstance(r, Answer)] == [200], outcome
        monkeypatch.setattr(wire, "UNREACHABLE_CONNECT_SECONDS", 0.2)
        again = _failure(channels[1], servers[1], seconds=WAIT)
        assert str(again).startswith("/x: no connection within 0.2 s"), "tried once a slot was free"
    finally:
        for channel in channels:
            channel.close()


def _answer_once_then(hold: Callable[[ScriptedServer], object]) -> Script:
    """Answers a connection's first request at once, each later one after ``hold(server)``."""

    def script(peer: Peer) -> None:
        first = True
        while peer.request() is not None:
            if not first:
                hold(peer.server)
            first = False
            peer.answer(b'{"ok":true}')

    return script


def _idle_batch(
    serve: Callable[..., ScriptedServer], hold: Callable[[ScriptedServer], object]
) -> tuple[ScriptedServer, HttpChannel]:
    """A server, and a channel holding three idle connections to it (one batch answered)."""
    server = serve(_answer_once_then(hold))
    channel = _channel(server)
    assert [r.status for _, r in _batch(channel, server, 3) if isinstance(r, Answer)] == [200] * 3
    assert server.accepted == 3
    return server, channel


@pytest.mark.parametrize("n", [3, 1], ids=["batch", "lone request"])
def test_a_gateway_that_drops_off_fails_a_batch_on_its_idle_connections_early(
    serve: Callable[..., ScriptedServer], monkeypatch: pytest.MonkeyPatch, n: int
) -> None:
    """A gateway gone from the network answers nothing on the connections it left behind: with no
    answer after ANSWER_PATIENCE_SECONDS, a new connection is tried, and when that fails too so do
    the requests, long before their deadline. A lone request (TEDAPI's, read with a blocking read)
    is checked the same way."""
    monkeypatch.setattr(wire, "ANSWER_PATIENCE_SECONDS", 0.05)
    monkeypatch.setattr(wire, "UNREACHABLE_CONNECT_SECONDS", 0.2)  # the check's time, whatever the usual
    monkeypatch.setattr(wire, "KNOWN_CONNECT_FACTOR", 1e6)
    server, channel = _idle_batch(serve, lambda server: server.release.wait(WAIT))  # never answers again
    try:
        server.handshake_after = 1_000_000  # and takes no new connection
        begun = time.monotonic()
        got = _batch(channel, server, n, seconds=WAIT * 4)
        assert len(got) == n and time.monotonic() - begun < WAIT * 2, "failed early, not at the deadline"
        for _, r in got:
            assert isinstance(r, FetchError) and r.reason == "timeout", r
            assert str(r).startswith("/x: no answer, and a new connection to the gateway failed meanwhile: no "), r
        assert server.accepted == 4, "one new connection tried, not one per request"
    finally:
        channel.close()


@pytest.mark.parametrize("n", [3, 1], ids=["batch", "lone request"])
def test_a_slow_gateway_is_checked_once_and_its_answers_awaited(
    serve: Callable[..., ScriptedServer], monkeypatch: pytest.MonkeyPatch, n: int
) -> None:
    """A gateway that is there but slow takes the check's new connection, and the answers on the idle
    connections are then waited for as before (here they come once it has; nothing is slept)."""
    monkeypatch.setattr(wire, "ANSWER_PATIENCE_SECONDS", 0.05)

    def until_checked(server: ScriptedServer) -> None:
        while server.accepted < 4 and not server.release.wait(0.01):
            pass

    server, channel = _idle_batch(serve, until_checked)
    try:
        got = _batch(channel, server, n)
        assert [r.status if isinstance(r, Answer) else r for _, r in got] == [200] * n
        assert server.accepted == 4
    finally:
        channel.close()


def test_a_batch_to_an_offline_gateway_makes_one_attempt(
    serve: Callable[..., ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scrape's requests to a gateway whose last attempt timed out open one connection, not one each:
    all fail with its failure, and once it gets through the others open side by side."""
    monkeypatch.setattr(wire, "UNREACHABLE_CONNECT_SECONDS", 0.2)
    server = serve(_keep_answering)
    server.handshake_after = 1_000_000
    channel = _channel(server)
    prepared = HttpChannel.prepare("GET", server.url(), {"Accept": "application/json"}, None)
    try:
        assert str(_failure(channel, server, seconds=0.4)) == "/x: timed out after 0.4 s"
        accepted = server.accepted
        answers = [r for _, r in channel.send_many([(prepared, "/x")] * 3, time.monotonic() + WAIT)]
        assert all(isinstance(r, FetchError) and "no connection within 0.2 s" in str(r) for r in answers), answers
        assert server.accepted == accepted + 1
        server.handshake_after = 0
        answers = [r for _, r in channel.send_many([(prepared, "/x")] * 3, time.monotonic() + WAIT)]
        assert [r.status if isinstance(r, Answer) else r for r in answers] == [200] * 3
    finally:
        channel.close()


def test_body_read_to_close_is_not_reused(serve: Callable[..., ScriptedServer]) -> None:
    def until_close(peer: Peer) -> None:
        if peer.request() is not None:
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")
            peer.sock.unwrap()

    server = serve(until_close)
    channel = _channel(server)
    try:
        assert _get(channel, server).body == b"all of it"
        assert _get(channel, server).body == b"all of it"
    finally:
        channel.close()
    assert server.accepted == 2


def test_connection_close_is_not_reused(serve: Callable[..., ScriptedServer]) -> None:
    def says_close(peer: Peer) -> None:
        if peer.request() is not None:
            peer.answer(extra=b"Connection: close\r\n")
            peer.wait_for_close()  # the client must close it: the server does not

    server = serve(says_close)
    channel = _channel(server)
    try:
        assert _get(channel, server).status == 200
        assert server.client_closed.acquire(timeout=WAIT), "the client kept a Connection: close connection"
        assert _get(channel, server).status == 200
    finally:
        channel.close()
    assert server.accepted == 2


def test_interim_answers_repeated_headers_gzip_and_bodiless_answers(serve: Callable[..., ScriptedServer]) -> None:
    packed = gzip.compress(b'{"a":1}')

    def varied(peer: Peer) -> None:
        head = peer.request()
        assert head is not None
        peer.send(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: 1\r\n\r\n")
        peer.send(
            b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSET-COOKIE: b=2\r\nContent-Encoding: gzip\r\n"
            b"X-Folded: one\r\n two\r\nContent-Length: %d\r\n\r\n%s" % (len(packed), packed)
        )
        assert peer.request() is not None
        peer.send(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n")  # no body whatever it says
        assert peer.request() is not None
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n")  # HEAD: no body either
        _keep_answering(peer)

    server = serve(varied)
    channel = _channel(server)
    try:
        a = _get(channel, server)
        assert (a.status, a.body) == (200, b'{"a":1}')
        assert a.headers["set-cookie"] == "a=1, b=2"
        assert a.headers["x-folded"] == "one two"
        assert (_get(channel, server).status, _get(channel, server, method="HEAD").body) == (204, b"")
        assert _get(channel, server).body == b'{"ok":true}'
    finally:
        channel.close()
    assert server.accepted == 1, "every answer above ends where its framing says: the connection stays"
    assert server.requests[2].startswith(b"HEAD /x HTTP/1.1\r\nHost: 127.0.0.1:")


def test_junk_after_the_body_is_not_reused(serve: Callable[..., ScriptedServer]) -> None:
    def junk(peer: Peer) -> None:
        if peer.request() is not None:
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\n")
            peer.wait_for_close()

    server = serve(junk)
    channel = _channel(server)
    try:
        assert _get(channel, server).body == b"{}"
        assert server.client_closed.acquire(timeout=WAIT)
        assert _get(channel, server).body == b"{}"
    finally:
        channel.close()
    assert server.accepted == 2


# -------------------------------------------------------------------------------- bounds
def test_an_oversized_head_is_refused(serve: Callable[..., ScriptedServer]) -> None:
    def endless_head(peer: Peer) -> None:
        if peer.request() is not None:
            peer.send(b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * (80 * 1024))
            server.release.wait(WAIT)

    server = serve(endless_head)
    channel = _channel(server)
    try:
        r = _failure(channel, server)
    finally:
        channel.close()
    assert (r.reason, str(r)) == ("connection", "/x: the answer's head is larger than 64 KiB")


def test_too_many_header_lines_are_refused(serve: Callable[..., ScriptedServer]) -> None:
    def many(peer: Peer) -> None:
        if peer.request() is not None:
            peer.send(b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"Content-Length: 0\r\n\r\n")

    server = serve(many)
    channel = _channel(server)
    try:
        r = _failure(channel, server)
    finally:
        channel.close()
    assert (r.reason, str(r)) == ("connection", "/x: the answer has more than 100 header lines")


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1),  # refused before reading
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % (MAX_BODY_BYTES + 1),
    ],
    ids=["content-length", "chunked"],
)
def test_a_body_over_the_bound_is_too_large(answer: bytes, serve: Callable[..., ScriptedServer]) -> None:
    def big(peer: Peer) -> None:
        if peer.request() is not None:
            peer.send(answer)
            server.release.wait(WAIT)

    server = serve(big)
    channel = _channel(server)
    try:
        r = _failure(channel, server)
    finally:
        channel.close()
    assert (r.reason, r.status, str(r)) == ("too_large", 200, f"/x: answer larger than {MAX_BODY_BYTES} bytes")


def test_a_body_read_to_close_is_bounded_as_it_arrives(serve: Callable[..., ScriptedServer]) -> None:
    def endless(peer: Peer) -> None:
        if peer.request() is not None:
            peer.send(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 5000)
            server.release.wait(WAIT)

    server = serve(endless)
    ctx = build_ssl_context(TLSConfig(ca_file=server.cert_path))
    pool = wire.Pool(ctx, "powerwall", None, 2, time.monotonic)
    request = wire.request_bytes("GET", "/x", "127.0.0.1", {}, None)
    try:
        with pytest.raises(wire.BodyTooLarge):
            pool.exchange("127.0.0.1", server.port, request, False, time.monotonic() + WAIT, 1000)
    finally:
        pool.close()


def test_a_server_stalling_mid_body_ends_at_the_deadline(serve: Callable[..., ScriptedServer]) -> None:
    def stall(peer: Peer) -> None:
        if peer.request() is not None:
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            server.release.wait(WAIT)

    server = serve(stall)
    channel = _channel(server)
    try:
        r = _failure(channel, server, seconds=0.3)
    finally:
        channel.close()
    assert (r.reason, str(r)) == ("timeout", "/x: body not complete after 0.3 s")


def test_a_server_stalling_before_the_head_times_out(serve: Callable[..., ScriptedServer]) -> None:
    def silent(peer: Peer) -> None:
        peer.request()
        server.release.wait(WAIT)

    server = serve(silent)
    channel = _channel(server)
    try:
        r = _failure(channel, server, seconds=0.3)
    finally:
        channel.close()
    assert (r.reason, str(r)) == ("timeout", "/x: timed out after 0.3 s")


# ------------------------------------------------------------------ stale keep-alive connections
def test_an_idle_connection_the_server_closed_is_replaced(serve: Callable[..., ScriptedServer]) -> None:
    def once_then_close(peer: Peer) -> None:
        if peer.request() is not None:
            peer.answer()
            peer.sock.shutdown(socket.SHUT_RDWR)  # no TLS close: unwrap() would wait for the client's
            server.client_closed.release()  # here: "the server has closed it"

    server = serve(once_then_close, _keep_answering)
    channel = _channel(server)
    try:
        assert _get(channel, server).status == 200
        assert server.client_closed.acquire(timeout=WAIT)
        assert _get(channel, server).body == b'{"ok":true}'
    finally:
        channel.close()
    assert server.accepted == 2
    assert len(server.requests) == 2, "the closed connection was seen before anything was sent on it"


def test_a_reused_connection_closed_before_the_answer_is_retried_once(serve: Callable[..., ScriptedServer]) -> None:
    """The keep-alive race: the server drops the connection as our next request arrives."""

    def second_request_dropped(peer: Peer) -> None:
        if peer.request() is not None:
            peer.answer()
        if peer.request() is not None:
            pass  # read, never answered: the connection closes as the script ends

    server = serve(second_request_dropped, _keep_answering)
    channel = _channel(server)
    try:
        assert _get(channel, server).status == 200
        assert _get(channel, server).body == b'{"ok":true}'  # one send, answered after one retry
    finally:
        channel.close()
    assert server.accepted == 2
    assert len(server.requests) == 3


def test_a_fresh_connection_closed_before_the_answer_is_not_retried(serve: Callable[..., ScriptedServer]) -> None:
    def dropped(peer: Peer) -> None:
        if peer.request() is not None:
            peer.sock.unwrap()  # TLS close in good order, no answer

    server = serve(dropped)
    channel = _channel(server)
    try:
        r = _failure(channel, server)
    finally:
        channel.close()
    assert (r.reason, str(r)) == ("connection", "/x: the gateway closed the connection without an answer")
    assert server.accepted == 1 and len(server.requests) == 1


# ----------------------------------------------------------------------------- TLS and pins
def test_the_pin_is_checked_on_the_certificate(serve: Callable[..., ScriptedServer], bundle: CertBundle) -> None:
    server = serve(_keep_answering)
    right = bundle.fingerprint_sha256.replace(":", "").lower()
    good = HttpChannel(TLSConfig(fingerprint_sha256=right), 2, time.monotonic)
    bad = HttpChannel(TLSConfig(fingerprint_sha256="00" * 32), 2, time.monotonic)
    try:
        assert _get(good, server).status == 200
        r = _failure(bad, server)
    finally:
        good.close()
        bad.close()
    assert r.reason == "tls_pin_mismatch"
    assert "TLS: the gateway's certificate does not match the pinned fingerprint" in str(r)
    assert len(server.requests) == 1, "nothing is sent over a connection whose pin does not match"


def test_channels_with_equal_tls_settings_share_one_context(tmp_path: Path, bundle: CertBundle) -> None:
    a, b = tmp_path / "a.pem", tmp_path / "b.pem"
    a.write_bytes(bundle.cert_pem)
    b.write_bytes(generate_certificate().cert_pem)
    assert shared_ssl_context(TLSConfig(fingerprint_sha256="ab" * 32)) is shared_ssl_context(
        TLSConfig(fingerprint_sha256="cd" * 32, server_name="teg")
    )
    assert shared_ssl_context(TLSConfig(ca_file=a)) is shared_ssl_context(TLSConfig(ca_file=a))
    assert shared_ssl_context(TLSConfig(ca_file=a)) is not shared_ssl_context(TLSConfig(ca_file=b))
    ctx = shared_ssl_context(TLSConfig(ca_file=a))
    a.write_bytes(b.read_bytes())  # a re-pinned file is a different trust anchor: not the old context
    assert shared_ssl_context(TLSConfig(ca_file=a)) is not ctx
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED


# --------------------------------------------------------------------------- sockets released
def test_close_closes_every_connection_and_nothing_leaks(serve: Callable[..., ScriptedServer]) -> None:
    def answer_then_wait(peer: Peer) -> None:
        while peer.request() is not None:
            peer.answer()
        server.client_closed.release()

    server = serve(answer_then_wait)
    before = _open_fds()
    channel = _channel(server)
    prepared = HttpChannel.prepare("GET", server.url(), {}, None)
    barrier = threading.Barrier(3)
    answers: list[int] = []

    def one() -> None:
        barrier.wait(WAIT)
        answers.append(channel.send(prepared, "/x", time.monotonic() + WAIT).status)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert answers == [200, 200, 200]
    opened = server.accepted
    channel.close()
    for _ in range(opened):
        assert server.client_closed.acquire(timeout=WAIT), "close() left a connection open"
    server.stop()  # its own sockets are in this process too
    assert _open_fds() <= before


# ------------------------------------------------------------- several requests from one thread
def _outcome(r: Answer | FetchError) -> tuple[object, ...]:
    if isinstance(r, FetchError):
        return ("failed", r.reason, r.status, str(r))
    return ("answered", r.status, dict(r.headers), r.body)


def _batch(
    channel: HttpChannel, server: ScriptedServer, n: int, seconds: float = WAIT
) -> list[tuple[int, Answer | FetchError]]:
    prepared = HttpChannel.prepare("GET", server.url(), {"Accept": "application/json"}, None)
    return list(channel.send_many([(prepared, "/x")] * n, time.monotonic() + seconds))


def _answers_of_one_batch(server: ScriptedServer, n: int) -> list[tuple[int, bytes]]:
    """Status and body of each answer to ``n`` requests sent as one batch over a channel of their own."""
    channel = _channel(server)
    try:
        got = _batch(channel, server, n)
    finally:
        channel.close()
    return [(r.status, r.body) for _, r in got if isinstance(r, Answer)]


def _chunked(peer: Peer) -> None:
    if peer.request() is not None:
        peer.send(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        peer.wait_for_close()


def _to_close(peer: Peer) -> None:
    if peer.request() is not None:
        peer.send(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")


def _interim_gzip(peer: Peer) -> None:
    packed = gzip.compress(b'{"a":1}')
    if peer.request() is not None:
        peer.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(packed), packed))
        peer.wait_for_close()


def _dripping(peer: Peer) -> None:
    if peer.request() is not None:
        for part in (b"HTTP/1.1 200 OK\r\nCon", b"tent-Length: 10\r\n\r\n01234", b"56789"):
            peer.send(part)
            time.sleep(0.02)  # arrives in pieces: each read finds only part of the answer
        peer.wait_for_close()


def _large_in_pieces(peer: Peer) -> None:
    body = bytes(range(256)) * 1024  # 256 KiB in 4 KiB writes: many TLS records, read as they come
    if peer.request() is not None:
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        for i in range(0, len(body), 4096):
            peer.send(body[i : i + 4096])
        peer.wait_for_close()


def _oversized_head(peer: Peer) -> None:
    if peer.request() is not None:
        peer.send(b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * (80 * 1024))
        peer.server.release.wait(WAIT)


def _stall_mid_body(peer: Peer) -> None:
    if peer.request() is not None:
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        peer.server.release.wait(WAIT)


def _silent(peer: Peer) -> None:
    peer.request()
    peer.server.release.wait(WAIT)


def _dropped(peer: Peer) -> None:
    if peer.request() is not None:
        peer.sock.unwrap()  # TLS close in good order, no answer


def _reset(peer: Peer) -> None:
    if peer.request() is not None:
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123")
        peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


@pytest.mark.parametrize(
    ("script", "seconds"),
    [
        (_keep_answering, WAIT),
        (_chunked, WAIT),
        (_to_close, WAIT),
        (_interim_gzip, WAIT),
        (_dripping, WAIT),
        (_large_in_pieces, WAIT),
        (_oversized_head, WAIT),
        (_stall_mid_body, 0.3),
        (_silent, 0.3),
        (_dropped, WAIT),
        (_reset, WAIT),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else None,
)
def test_a_batch_reads_every_answer_as_a_lone_request_would(
    script: Script, seconds: float, serve: Callable[..., ScriptedServer]
) -> None:
    """Several requests from one thread (:meth:`HttpChannel.send_many`) parse what arrives with the
    same reader, bounds and failures as a lone request's blocking read, however the answer arrives."""
    alone, together = serve(script), serve(script)
    one, many = _channel(alone), _channel(together)
    try:
        try:
            expected = _outcome(_get(one, alone, seconds))
        except FetchError as exc:
            expected = _outcome(exc)
        got = _batch(many, together, 3, seconds)
    finally:
        one.close()
        many.close()
    assert sorted(i for i, _ in got) == [0, 1, 2]
    assert [_outcome(r) for _, r in got] == [expected] * 3
    assert together.accepted == 3


def test_a_body_of_known_length_is_parsed_once_all_of_it_has_come() -> None:
    """A batch parses an answer from its first byte whenever it tries, so trying at every TLS record
    copied and parsed a large answer once per record: quadratic, about 0.3 s of CPU for two answers
    at the 4 MiB bound. Once the head says how long the body is, nothing is tried before it is all
    there. (A socket pair stands in for the TLS connection: reading it is the same calls.)"""
    ours, theirs = socket.socketpair()
    try:
        answer = Arriving(Connection(cast(ssl.SSLSocket, ours), time.monotonic, 0), False)
        deadline = time.monotonic() + WAIT

        def arrives(data: bytes) -> None:
            theirs.sendall(data)
            wait_for(f"{data!r} to arrive", lambda: answer.receive(MAX_BODY_BYTES), timeout=WAIT)

        arrives(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123")
        assert answer.ready()
        assert answer.attempt(False, deadline, MAX_BODY_BYTES) is None
        arrives(b"45678")
        assert not answer.ready()  # one byte short: no parse
        arrives(b"9")
        assert answer.ready()
        got = answer.attempt(False, deadline, MAX_BODY_BYTES)
        assert got is not None
        response, reusable = got
        assert (response.status, response.body, reusable) == (200, b"0123456789", True)
    finally:
        ours.close()
        theirs.close()


def test_a_batch_sends_every_request_before_it_reads_an_answer(serve: Callable[..., ScriptedServer]) -> None:
    """The gateway gets a scrape's requests side by side although one thread sends them: here no
    answer comes until all three requests have arrived."""

    def after_all_three(peer: Peer) -> None:
        if peer.request() is None:
            return
        deadline = time.monotonic() + WAIT
        while len(peer.server.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        peer.answer(b"%d" % len(peer.server.requests))
        peer.wait_for_close()

    server = serve(after_all_three)
    assert _answers_of_one_batch(server, 3) == [(200, b"3")] * 3


def test_in_a_batch_a_stalled_answer_does_not_hold_back_the_others(serve: Callable[..., ScriptedServer]) -> None:
    """Answers are handed on as they arrive: a scrape whose one endpoint stalls still gets the rest
    while that one is stalled (its server goes on only once the other answer was handed on)."""
    server = serve(_stall_mid_body, _keep_answering)
    channel = _channel(server)
    prepared = HttpChannel.prepare("GET", server.url(), {"Accept": "application/json"}, None)
    try:
        answers = channel.send_many([(prepared, "/x")] * 2, time.monotonic() + WAIT)
        first = next(answers)
        server.release.set()  # the stalled answer ends now: cut off mid-body
        second = next(answers)
    finally:
        channel.close()
    # Which request meets the stalling script depends on which connection the server accepted first.
    assert {first[0], second[0]} == {0, 1}
    assert isinstance(first[1], Answer) and first[1].body == b'{"ok":true}'
    assert isinstance(second[1], FetchError)
    assert (second[1].reason, str(second[1])) == ("connection", "/x: the connection broke while reading the answer")


def test_a_batch_retries_a_stale_reused_connection_once_and_reuses_the_others(
    serve: Callable[..., ScriptedServer],
) -> None:
    def second_request_dropped(peer: Peer) -> None:
        if peer.request() is not None:
            peer.answer()
        if peer.request() is not None:
            pass  # read, never answered: the connection closes as the script ends

    server = serve(second_request_dropped, _keep_answering, _keep_answering)
    channel = _channel(server)
    try:
        assert [r.status for _, r in _batch(channel, server, 2) if isinstance(r, Answer)] == [200, 200]
        fds = _open_fds()
        assert sorted(r.status for _, r in _batch(channel, server, 2) if isinstance(r, Answer)) == [200, 200]
        assert _open_fds() == fds, "the dropped connection is closed, its replacement kept"
    finally:
        channel.close()
    assert server.accepted == 3, "two at first, one more for the request the first connection dropped"


def test_a_batch_opens_its_new_connections_side_by_side(serve: Callable[..., ScriptedServer]) -> None:
    """A gateway's first contact (or one after it dropped idle connections) needs a handshake per
    request: they run side by side, not one after another. Here the server completes no handshake
    until all three connections have arrived, which connections opened in turn never would."""
    server = serve(_keep_answering)
    server.handshake_after = 3
    assert _answers_of_one_batch(server, 3) == [(200, b'{"ok":true}')] * 3

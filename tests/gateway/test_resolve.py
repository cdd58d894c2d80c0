"""Host name lookups (:mod:`exporter.gateway.resolve`): bounded by the caller's time, one per name, kept.

The system resolver cannot be pointed at a name server of the test's own, so the lookup a stalled or
failing name server would give is passed in (as a clock is); the wire tests at the end connect to a
real TLS server on 127.0.0.1 through it, and once through the system resolver (``localhost``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from exporter.config import TLSConfig
from exporter.gateway import resolve
from exporter.gateway.http import Answer, HttpChannel
from exporter.gateway.outcomes import FetchError
from exporter.gateway.resolve import AddrInfo, LookupTimeout, Resolver, system_lookup
from exporter.gateway.tls import fetch_certificate
from exporter.simulator import SimulatedGateway
from exporter.simulator.certs import CertBundle
from tests.gateway.test_wire import ScriptedServer, _keep_answering
from tests.support.polling import wait_for

WAIT = 5.0  # bound on waiting for a lookup thread; a passing test never waits this long
SHORT = 0.2  # the time a caller gives a lookup that is stuck for good: it ends the wait, nothing else


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class NameServer:
    """What the resolver's lookups get: an address, a failure, or no answer until released."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.failure: OSError | None = None
        self.stuck = False
        self.release = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, host: str, port: int) -> Sequence[AddrInfo]:
        with self.lock:
            self.calls.append(host)
        if self.stuck:
            self.release.wait(WAIT)
        if self.failure is not None:
            raise self.failure
        return system_lookup("127.0.0.1", port)


@pytest.fixture
def ns() -> Iterator[NameServer]:
    server = NameServer()
    yield server
    server.release.set()  # no lookup thread outlives the test


def _settled(resolver: Resolver, host: str) -> Callable[[], bool]:
    """True once ``host`` resolves without waiting (its lookup has handed its answer over)."""

    def probe() -> bool:
        try:
            return bool(resolver.addresses(host, 443, 0.0))
        except LookupTimeout:
            return False

    return probe


def test_an_ip_address_is_never_looked_up(ns: NameServer) -> None:
    resolver = Resolver(ns)
    assert resolver.addresses("127.0.0.1", 443, SHORT)[0][4] == ("127.0.0.1", 443)
    assert resolver.addresses("::1", 443, SHORT)[0][4][:2] == ("::1", 443)
    assert ns.calls == []


def test_a_stuck_lookup_ends_each_wait_in_time_and_runs_once_per_name(ns: NameServer) -> None:
    """Scrapes that need a name while its name server does not answer each wait for their own time
    only, for one lookup; its answer, when it comes, serves them all after."""
    resolver = Resolver(ns)
    ns.stuck = True
    for _ in range(3):
        with pytest.raises(LookupTimeout, match=r"'gw\.test' did not end in time"):
            resolver.addresses("gw.test", 443, SHORT)
    assert ns.calls == ["gw.test"]
    ns.release.set()
    wait_for("the lookup to end", _settled(resolver, "gw.test"), timeout=WAIT)
    assert resolver.addresses("gw.test", 443, SHORT)[0][4] == ("127.0.0.1", 443)
    assert ns.calls == ["gw.test"]


def test_only_a_few_lookups_run_at_once(ns: NameServer) -> None:
    """A stuck name server holds LOOKUPS_AT_ONCE threads, not one per name: the next name fails at
    once, without a lookup."""
    resolver = Resolver(ns)
    ns.stuck = True
    names = [f"gw{i}.test" for i in range(resolve.LOOKUPS_AT_ONCE)]
    for name in names:
        with pytest.raises(LookupTimeout):
            resolver.addresses(name, 443, SHORT)
    with pytest.raises(LookupTimeout, match="not started: 4 lookups are under way"):
        resolver.addresses("one-more.test", 443, WAIT)
    assert ns.calls == names
    ns.release.set()
    for name in names:
        wait_for(f"the lookup of {name} to end", _settled(resolver, name), timeout=WAIT)
    assert resolver.addresses("one-more.test", 443, WAIT)[0][4] == ("127.0.0.1", 443)


def test_an_answer_is_kept_and_stands_in_while_the_name_server_is_unreachable(ns: NameServer) -> None:
    clock = Clock()
    resolver = Resolver(ns, clock)
    first = resolver.addresses("gw.test", 443, WAIT)
    clock.now += resolve.FRESH_SECONDS - 1
    assert resolver.addresses("gw.test", 443, WAIT) == first
    assert len(ns.calls) == 1  # still fresh: not looked up again

    clock.now += 2
    ns.failure = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    assert resolver.addresses("gw.test", 443, WAIT) == first  # a DNS outage: the known addresses
    assert len(ns.calls) == 2
    clock.now += resolve.FAILED_SECONDS - 1
    assert resolver.addresses("gw.test", 443, WAIT) == first  # the failure remembered: no lookup
    assert len(ns.calls) == 2

    clock.now += 2  # looked up again: the name server says the name is gone
    ns.failure = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    with pytest.raises(socket.gaierror):
        resolver.addresses("gw.test", 443, WAIT)
    clock.now += resolve.FAILED_SECONDS + 1
    ns.failure = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    with pytest.raises(socket.gaierror):  # the old addresses went with the name
        resolver.addresses("gw.test", 443, WAIT)
    assert len(ns.calls) == 4


def test_the_addresses_stand_in_for_an_hour_at_most(ns: NameServer) -> None:
    clock = Clock()
    resolver = Resolver(ns, clock)
    first = resolver.addresses("gw.test", 443, WAIT)
    ns.failure = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    clock.now += resolve.STALE_SECONDS - 1
    assert resolver.addresses("gw.test", 443, WAIT) == first
    clock.now += resolve.FAILED_SECONDS + 1
    with pytest.raises(socket.gaierror):
        resolver.addresses("gw.test", 443, WAIT)


def test_a_failed_lookup_is_remembered_for_a_while(ns: NameServer) -> None:
    clock = Clock()
    resolver = Resolver(ns, clock)
    ns.failure = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    raised = []
    for _ in range(3):
        with pytest.raises(socket.gaierror) as info:
            resolver.addresses("typo.test", 443, WAIT)
        raised.append(info.value)
    assert ns.calls == ["typo.test"]
    assert [e.errno for e in raised] == [socket.EAI_NONAME] * 3
    assert len({id(e) for e in raised[1:]}) == 2  # remembered, raised anew: no traceback grows at each raise
    clock.now += resolve.FAILED_SECONDS + 1
    ns.failure = None
    assert resolver.addresses("typo.test", 443, WAIT)[0][4] == ("127.0.0.1", 443)
    assert ns.calls == ["typo.test", "typo.test"]


# ------------------------------------------------------------------------------- through the wire
@pytest.fixture
def server(bundle: CertBundle, tmp_path: Path) -> Iterator[ScriptedServer]:
    s = ScriptedServer(bundle, tmp_path, [_keep_answering])
    yield s
    s.stop()


def _get(server: ScriptedServer, host: str, resolver: Resolver, seconds: float) -> Answer:
    channel = HttpChannel(TLSConfig(ca_file=server.cert_path), 4, time.monotonic, resolver)
    try:
        prepared = HttpChannel.prepare("GET", f"https://{host}:{server.port}/x", {}, None)
        return channel.send(prepared, "/x", time.monotonic() + seconds)
    finally:
        channel.close()


def test_a_gateway_by_name_is_reached_at_the_address_found(server: ScriptedServer, ns: NameServer) -> None:
    assert _get(server, "gateway.test", Resolver(ns), WAIT).body == b'{"ok":true}'
    assert ns.calls == ["gateway.test"]


def test_a_stuck_name_server_fails_the_request_as_a_timeout_by_its_deadline(
    server: ScriptedServer, ns: NameServer
) -> None:
    ns.stuck = True
    with pytest.raises(FetchError) as info:
        _get(server, "gateway.test", Resolver(ns), SHORT)
    assert info.value.reason == "timeout"
    assert "name lookup of 'gateway.test' did not end in time" in str(info.value)
    assert server.accepted == 0


def test_a_name_that_does_not_exist_fails_the_request_as_a_connection_failure(
    server: ScriptedServer, ns: NameServer
) -> None:
    ns.failure = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    with pytest.raises(FetchError) as info:
        _get(server, "typo.test", Resolver(ns), WAIT)
    assert (info.value.reason, str(info.value)) == ("connection", "/x: cannot resolve the gateway's host name")
    assert server.accepted == 0


def test_the_system_resolver_finds_localhost(server: ScriptedServer) -> None:
    """``localhost`` may come first as ::1, where nothing listens here: the next address is tried."""
    assert _get(server, "localhost", Resolver(), WAIT).body == b'{"ok":true}'


def test_fetching_a_certificate_looks_the_name_up_within_its_timeout(ns: NameServer, sim: SimulatedGateway) -> None:
    """``--tls.fetch-certificate`` resolves through the same bounded lookup as the scrapes: a stuck
    name server ends the command by its timeout instead of whenever the system resolver gives up."""
    ns.stuck = True
    with pytest.raises(LookupTimeout):
        fetch_certificate("gateway.test", sim.port, "powerwall", timeout=SHORT, resolver=Resolver(ns))
    ns.stuck = False
    _, fingerprint = fetch_certificate("gateway.test", sim.port, "powerwall", timeout=WAIT, resolver=Resolver(ns))
    assert fingerprint == sim.fingerprint_sha256

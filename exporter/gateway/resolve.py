"""Gateway host names to addresses: within the scrape's deadline, one lookup per name at a time, kept.

Why: ``socket.getaddrinfo`` blocks until the system resolver answers or gives up, which with a name
server gone takes 5 s per try and server by default, often more, and no socket timeout bounds it.
A gateway addressed by name (a site over a VPN, ``powerwall.local``) whose name server stopped
answering held a thread that long at every new connection, past the scrape's deadline; a fleet's
names failing together held every thread of the shared pool, and the lookup failed at every scrape
again.

So a lookup runs on a thread of its own and the caller waits for it at most until its deadline
(:class:`LookupTimeout`, a timeout). One lookup per name runs at a time; the scrapes that need the
name meanwhile wait for that one. At most :data:`LOOKUPS_AT_ONCE` run in the process: a stuck name
server holds that many threads and no more, and a name that finds no slot free fails at once.

An answer is used for :data:`FRESH_SECONDS` and then looked up again at the next new connection.
While that lookup cannot reach a name server (it times out, or the resolver says "try again"), the
addresses last found stay in use for up to :data:`STALE_SECONDS`: a DNS outage does not take down
the gateways whose addresses are known. A name the resolver says does not exist is dropped at once.
A failed lookup is remembered for :data:`FAILED_SECONDS`, so a broken name is not asked at every
connection of every scrape. IP address literals never reach the resolver.

Keep-alive connections are opened rarely (a gateway's first contact, after it dropped idle ones),
so this is about bounding the rare case, not about speed.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

FRESH_SECONDS = 60.0  # an answer's use before the next new connection looks the name up again
STALE_SECONDS = 3600.0  # how long the last answer stands in while the name server cannot be reached
FAILED_SECONDS = 10.0  # how long a failed lookup is remembered (no lookup, the same failure)
LOOKUPS_AT_ONCE = 4  # lookups running at once in the process
MAX_NAMES = 4096  # names kept; the configured gateways' names are far fewer

# getaddrinfo's answer: (family, type, proto, canonname, sockaddr) per address, in the order to try.
AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]
Lookup = Callable[[str, int], Sequence[AddrInfo]]


class LookupTimeout(TimeoutError):
    """The name's lookup did not end in time, or could not start; a timeout, with its own message."""


def system_lookup(host: str, port: int) -> Sequence[AddrInfo]:
    """The system resolver's addresses for a TCP connection to ``host:port``."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def _literal(host: str, port: int) -> Sequence[AddrInfo] | None:
    """The address of an IP literal, without any lookup; None for a name."""
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError):
        return None


def _unreachable_server(exc: BaseException) -> bool:
    """Whether ``exc`` says the name server could not be asked (not that the name does not exist)."""
    return isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_AGAIN


def _again(exc: BaseException) -> BaseException:
    """A new exception like ``exc``: raising one instance again and again would grow its traceback
    at every raise, for as long as the failure is remembered."""
    try:
        return type(exc)(*exc.args)
    except Exception:
        return OSError(str(exc))


@dataclass(slots=True)
class _Name:
    addresses: Sequence[AddrInfo] | None = None  # the last answer
    fresh_until: float = 0.0
    stale_until: float = 0.0
    error: BaseException | None = None  # the last failure, remembered until failed_until
    failed_until: float = 0.0
    pending: Future[Sequence[AddrInfo]] | None = None  # the lookup under way

    def standing(self, now: float) -> Sequence[AddrInfo] | None:
        """The last answer, while it may stand in for a lookup that cannot be made (STALE_SECONDS)."""
        return self.addresses if self.addresses is not None and now < self.stale_until else None


class Resolver:
    """Addresses of host names for new connections (see the module docstring). Thread-safe."""

    def __init__(self, lookup: Lookup = system_lookup, clock: Callable[[], float] = time.monotonic) -> None:
        self._lookup = lookup
        self._clock = clock
        self._lock = threading.Lock()
        self._names: dict[tuple[str, int], _Name] = {}
        self._running = 0

    def addresses(self, host: str, port: int, timeout: float) -> Sequence[AddrInfo]:
        """The addresses to try for ``host:port``, within ``timeout`` seconds.

        Raises :class:`LookupTimeout` when the lookup does not end in time or cannot start, or the
        lookup's own failure (``socket.gaierror``, ``UnicodeError`` for a name IDNA refuses).
        """
        literal = _literal(host, port)
        if literal is not None:
            return literal
        key = (host, port)
        with self._lock:
            now = self._clock()
            name = self._names.get(key)
            if name is None:
                name = self._remember(key)
            if name.addresses is not None and now < name.fresh_until:
                return name.addresses
            standing = name.standing(now)
            if name.error is not None and now < name.failed_until:
                if standing is not None:
                    return standing
                raise _again(name.error)
            pending = name.pending
            if pending is None:
                if self._running >= LOOKUPS_AT_ONCE:
                    if standing is not None:
                        return standing
                    raise LookupTimeout(
                        f"name lookup of {host!r} not started: {LOOKUPS_AT_ONCE} lookups are under way "
                        "(is the name server answering?)"
                    )
                pending = name.pending = Future()
                self._running += 1
                threading.Thread(target=self._run, args=(key, name, pending), name="name-lookup", daemon=True).start()
        try:
            return pending.result(timeout=max(0.0, timeout))
        except FutureTimeout:
            with self._lock:
                standing = name.standing(self._clock())
            if standing is not None:
                return standing
            raise LookupTimeout(
                f"name lookup of {host!r} did not end in time (is the name server answering?)"
            ) from None

    def _remember(self, key: tuple[str, int]) -> _Name:
        if len(self._names) >= MAX_NAMES:  # keep the lookups under way; the rest are looked up again
            self._names = {k: n for k, n in self._names.items() if n.pending is not None}
        name = self._names[key] = _Name()
        return name

    def _run(self, key: tuple[str, int], name: _Name, pending: Future[Sequence[AddrInfo]]) -> None:
        """One lookup, on its own thread: its answer or failure goes to ``name`` and to the waiters."""
        try:
            found = self._lookup(*key)
        except Exception as exc:  # gaierror, UnicodeError: whatever it is, the waiters get it
            with self._lock:
                now = self._clock()
                name.pending = None
                name.failed_until = now + FAILED_SECONDS
                if not _unreachable_server(exc):
                    name.addresses = None  # the name is gone (or never was): not its old addresses
                self._running -= 1
                standing = name.standing(now)
                first = name.error is None  # the first failure since the name last resolved: said once
                name.error = exc
            log.log(
                logging.WARNING if first else logging.DEBUG,
                "name lookup of %s failed: %s%s",
                key[0],
                exc,
                "; using the addresses found earlier" if standing is not None else "",
            )
            if standing is not None:
                pending.set_result(standing)
            else:
                pending.set_exception(exc)
            return
        with self._lock:
            now = self._clock()
            name.pending = None
            name.addresses = found
            name.error = None
            name.fresh_until = now + FRESH_SECONDS
            name.stale_until = now + STALE_SECONDS
            self._running -= 1
        pending.set_result(found)


RESOLVER = Resolver()  # the process's: a name is looked up once for every gateway and channel using it

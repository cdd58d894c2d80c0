"""Loopback ports for tests: a free one for a server that must know its port before it starts, and
a listener that stands for a gateway gone silent."""

from __future__ import annotations

import contextlib
import socket
import threading


def free_port() -> int:
    """A loopback port nothing listens on now (for servers that must know their port in advance).

    The port is free when this returns, not reserved: a server started right after takes it.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SilentListener:
    """A loopback listener that stands for a gateway gone silent: it accepts TCP connections (into
    its backlog, and with ``accept`` also takes them up, counted in ``held``) and never sends a byte.

    Without ``accept`` nothing takes connections off the backlog: with a backlog of 0 a connection
    attempt then never completes (packets that go nowhere).
    """

    def __init__(self, accept: bool = True, backlog: int = 64) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=backlog)
        self.port: int = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="silent-gateway", daemon=True)
        if accept:
            self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            self.held.append(conn)

    def close(self) -> None:
        # shutdown() wakes the accept() blocked in the thread; close() alone may not.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        if self._thread.is_alive():
            self._thread.join(5)
        for conn in self.held:
            conn.close()

"""A loopback port for a server that must know its port before it starts."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port nothing listens on now (for servers that must know their port in advance).

    The port is free when this returns, not reserved: a server started right after takes it.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

"""A minimal stdlib HTTPS client for talking to the simulator in tests.

Deliberately not the exporter's client: the simulator must be verifiable independently of the code
it is used to test, and tests of misbehaviour need a client that exposes raw status/headers/body.
Each request uses a fresh connection (faults close connections) with the SNI/hostname ``powerwall``
and the simulator's certificate as the only trust anchor. :func:`gunzip_size` measures a raw body
the client received without inflating it into memory.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import zlib
from dataclasses import dataclass
from typing import Any

from exporter.simulator.server import SimulatedGateway


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Conn(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, ctx: ssl.SSLContext, sni: str | None, timeout: float) -> None:
        super().__init__(host, port, context=ctx, timeout=timeout)
        self._sni = sni
        self._ctx = ctx

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        try:
            self.sock = self._ctx.wrap_socket(sock, server_hostname=self._sni)
        except BaseException:
            sock.close()
            raise


class SimClient:
    def __init__(self, gw: SimulatedGateway, sni: str | None = "powerwall", timeout: float = 5.0) -> None:
        self.gw = gw
        self.sni = sni
        self.timeout = timeout
        self.token: str | None = None

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.gw.cert_path))
        if self.sni is None:
            ctx.check_hostname = False  # bare IP: nothing to match against the gateway's SANs
        return ctx

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
        decode_content: bool = True,
    ) -> Reply:
        hdrs = dict(headers or {})
        if auth and self.token and "Authorization" not in hdrs and "Cookie" not in hdrs:
            hdrs["Authorization"] = f"Bearer {self.token}"
        conn = _Conn("127.0.0.1", self.gw.port, self.context(), self.sni, self.timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return Reply(resp.status, resp.headers, data)
        finally:
            conn.close()

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def login(self, password: str | None = None, **extra: Any) -> Reply:
        payload = {
            "username": "customer",
            "password": self.gw.password if password is None else password,
            "email": "owner@example.com",
            "clientInfo": {"timezone": "UTC"},
            **extra,
        }
        r = self.request("POST", "/api/login/Basic", json.dumps(payload).encode(), {"Content-Type": "application/json"})
        if r.status == 200:
            self.token = r.json()["token"]
        return r


def gunzip_size(body: bytes) -> int:
    """Inflated size of a gzip body (the ``gzip_bomb`` fault's, say; streams, so it never holds
    the inflated data)."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    total = 0
    buf = body
    while buf:
        total += len(d.decompress(buf, 1 << 20))
        buf = d.unconsumed_tail
    return total + len(d.flush())

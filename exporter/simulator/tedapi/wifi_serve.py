"""TEDAPI on the gateway's own WiFi network: ``POST /tedapi/v1`` and ``/tedapi/device/<DIN>/v1``,
``GET /tedapi/din``, the portal page at ``/``, and the home-LAN form of ``GET /tedapi/din``.

Why apart from :mod:`exporter.simulator.server`: this is the gateway's second API with rules of its
own (Basic auth with the gateway password, protobuf bodies read with the simulator's own
:func:`~exporter.simulator.tedapi.classify.classify`, routing to a Powerwall 3 follower, the TEDAPI
faults, gzip from firmware 25.42.2). Signed TEDAPI on the home LAN (``POST /tedapi/v1r``) is
:mod:`exporter.simulator.tedapi.v1r_serve`'s.
"""

from __future__ import annotations

import base64
import gzip
import hmac
from typing import Protocol

from exporter.simulator.faults import Faults
from exporter.simulator.handler import (
    TEDAPI_DEVICE_RE,
    TEDAPI_DIN_PATH,
    TEDAPI_PATH,
    TEDAPI_USER,
    RecordedRequest,
)
from exporter.simulator.model import SiteModel
from exporter.simulator.records import RequestLog
from exporter.simulator.replies import BODY_401_SESSION, Reply, error_reply, json_reply
from exporter.simulator.sessions import Sessions
from exporter.simulator.tedapi import answers
from exporter.simulator.tedapi.classify import classify


class WifiGateway(Protocol):
    """What serving TEDAPI needs of the gateway (:class:`~exporter.simulator.server.SimulatedGateway`):
    its site, passwords, keys, sessions, faults and records. Spelled out so that this module touches
    nothing else of it."""

    model: SiteModel
    faults: Faults
    gateway_password: str | None
    tedapi_keys: tuple[bytes, ...]
    v1r_enabled: bool
    sessions: Sessions
    request_log: RequestLog

    def wait(self, seconds: float) -> bool: ...

    def random_bytes(self, n: int) -> bytes: ...

    def flag_dangerous(self, rec: RecordedRequest) -> None: ...


def serve(gw: WifiGateway, rec: RecordedRequest) -> Reply:
    """A TEDAPI request but v1r (see ``exporter.simulator.tedapi`` and the TEDAPI faults): classify and
    record the body first (a dangerous one is flagged whatever else happens), then faults, the
    gateway password, and the answer (gzipped, without a header, on firmware >= 25.42.2).

    ``GET /tedapi/din`` without Basic auth is the home-LAN form v1r clients use: where v1r is on,
    the customer session of the JSON API (Bearer or cookie) is the auth, and without one the answer
    is the JSON API's 401 "Login Required"."""
    path, method = rec.path, rec.method
    routed = TEDAPI_DEVICE_RE.match(path)
    if path == "/":
        kind = "portal" if method in ("GET", "HEAD") else "dangerous:non-GET on /"
    elif path == TEDAPI_DIN_PATH:
        kind = "din" if method in ("GET", "HEAD") else "dangerous:non-GET on /tedapi/din"
    elif path == TEDAPI_PATH or routed is not None:
        read = classify(rec.body) if method == "POST" else None
        kind = read.kind if read is not None else "other"
    else:
        kind = "other" if method in ("GET", "HEAD") else "dangerous:non-GET on an unknown TEDAPI path"
    gw.request_log.tedapi_request(path, kind)
    dangerous = kind.startswith("dangerous:")
    if dangerous:
        gw.flag_dangerous(rec)
    headers = {k.title(): v for k, v in rec.headers.items()}
    lan_din = (
        path == TEDAPI_DIN_PATH and gw.v1r_enabled and not headers.get("Authorization", "").lower().startswith("basic ")
    )
    if gw.gateway_password is None and not lan_din:
        return error_reply(404)
    f = gw.faults
    if f.take("tedapi_ap_gone", path, kind):
        return Reply(0, mode="reset")
    delay = f.take("tedapi_delay", path, kind)
    if delay and gw.wait(float(delay)):
        return Reply(0, mode="reset")
    forced = f.take("tedapi_status", path, kind)
    if forced:
        return error_reply(int(forced), f.peek("retry_after", path))
    if f.take("tedapi_lan_403", path, kind):
        return error_reply(403)
    m = gw.model
    if path == "/":
        if m.generation == "pw3":
            return error_reply(404)
        return Reply(200, _PORTAL_PAGE, "text/html; charset=utf-8")
    if lan_din and not dangerous:
        if not gw.sessions.authenticated(headers):
            return json_reply(401, BODY_401_SESSION)
        return _body(gw, path, kind, m.gateway_din.encode(), "text/plain; charset=utf-8")
    if not _authenticated(gw, headers.get("Authorization", "")):
        return Reply(403, b"Forbidden\n", "text/plain; charset=utf-8")
    if dangerous:
        return Reply(403, b"Forbidden\n", "text/plain; charset=utf-8")
    if kind == "other":
        return error_reply(404)
    if path == TEDAPI_DIN_PATH:
        return _body(gw, path, kind, m.gateway_din.encode(), "text/plain; charset=utf-8")
    req = read
    assert req is not None  # a POST to a query path, not dangerous: classify read all of it
    unit = 0
    if routed is not None:
        din = routed.group("din")
        if m.generation != "pw3" or din not in m.battery_dins:
            return error_reply(404)
        if req.recipient_din != din or req.sender_din != m.gateway_din or req.tail != 2:
            return Reply(400, b"Bad Request\n", "text/plain; charset=utf-8")
        unit = m.battery_dins.index(din)
    elif req.recipient_din != m.gateway_din or req.tail != 1:
        return Reply(400, b"Bad Request\n", "text/plain; charset=utf-8")
    sender = m.battery_dins[unit] if routed is not None else m.gateway_din
    m.set_forced_outage(bool(f.peek("grid_outage")))
    snap = m.snapshot()
    extra = f.take("tedapi_extra_json", path, kind) if kind != "firmware" else None
    patch = extra if isinstance(extra, dict) else None
    if kind == "config":
        blob = f.take("tedapi_config_blob", path, kind)
        body = answers.config_reply(snap, m, sender, req.tail, None if blob is None else bytes(blob), patch)
    elif kind == "firmware":
        body = answers.firmware_reply(m, sender, req.tail)
    else:
        empty = bool(f.take("tedapi_empty_data", path, kind))
        body = answers.query_reply(
            snap, m, req.query, req.tail, unit, gw.tedapi_keys, sender, empty_data=empty, extra=patch
        )
    return _body(gw, path, kind, body, "application/octet-stream")


def _body(gw: WifiGateway, path: str, kind: str, body: bytes, content_type: str) -> Reply:
    """A 200 answer carrying ``body``, through the faults that damage a TEDAPI answer (garbage, wrong
    wire type, bad gzip, truncation), gzipped where the firmware gzips."""
    f = gw.faults
    if f.take("tedapi_garbage", path, kind):
        return Reply(200, b"\x0f" + gw.random_bytes(63), content_type)
    if f.take("tedapi_wrong_wire_type", path, kind) and body[:1] == b"\x0a":
        body = answers.wrong_wire_type(body)
    if f.take("tedapi_bad_gzip", path, kind):
        # A gzip header, then a deflate block of the reserved type 3: no inflater accepts it.
        return Reply(200, b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" * 32, content_type)
    if f.take("tedapi_truncated", path, kind):
        body = body[: len(body) // 2]
    if gw.model.tedapi_gzip:
        body = gzip.compress(body, mtime=0)
    return Reply(200, body, content_type)


def _authenticated(gw: WifiGateway, header: str) -> bool:
    """Basic auth as the gateway checks it: user ``Tesla_Energy_Device`` and the gateway password."""
    if gw.gateway_password is None or not header.lower().startswith("basic "):
        return False
    try:
        user, _, given = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    ok_user = hmac.compare_digest(user.encode(), TEDAPI_USER.encode())
    return hmac.compare_digest(given.encode(), gw.gateway_password.encode()) and ok_user


_PORTAL_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Tesla Energy Gateway</title></head>"
    b"<body><div id='root'>Gateway portal</div><script src='/static/js/main.js'></script></body></html>\n"
)

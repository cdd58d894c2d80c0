"""What the simulated gateway answers: a reply value and the gateway's stock answers.

Why a module of its own: the gateway decides *what* to answer (:mod:`exporter.simulator.server`,
:mod:`exporter.simulator.json_api`, :mod:`exporter.simulator.tedapi.wifi_serve`,
:mod:`exporter.simulator.tedapi.v1r_serve`), the HTTP side decides *how* to send it
(:mod:`exporter.simulator.handler`: chunks, truncation, resets). A :class:`Reply` is the value that
passes between them, and the stock bodies below are the real gateway's own words, shared by both
API paths.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

BODY_401_SESSION = {"code": 401, "error": "Unable to authenticate", "message": "Login Required"}
BODY_401_BAD = {"code": 401, "error": "bad credentials", "message": "Login Error"}
BODY_403 = {"code": 403, "error": "Unable to GET to resource", "message": "User does not have adequate access rights"}
BODY_429 = {"code": 429, "error": "Api Limit reached for this endpoint", "message": "API Limit Reached"}
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Tesla Energy Gateway</title></head>"
    b"<body><div id='root'>Please log in</div><script src='/static/js/main.js'></script></body></html>\n"
)


@dataclass(slots=True)
class Reply:
    """One answer: status, body and headers, and how the HTTP side sends it (``mode``: ``normal``;
    ``reset`` closes the connection with an RST and no answer; ``giant`` streams ``size`` bytes of
    valid JSON; ``gzip_bomb`` sends a gzip body inflating to ``size`` bytes)."""

    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    mode: str = "normal"  # normal | reset | giant | gzip_bomb
    size: int = 0  # giant / gzip_bomb


def json_reply(status: int, obj: Any, headers: list[tuple[str, str]] | None = None) -> Reply:
    return Reply(status, json.dumps(obj).encode(), "application/json", headers or [])


def error_reply(code: int, retry_after: object = None) -> Reply:
    """The gateway's answer for a given error code (see Faults.status)."""
    if code in (401,):
        return json_reply(401, BODY_401_SESSION)
    if code == 403:
        return json_reply(403, BODY_403)
    if code == 404:
        return Reply(404, b"404 page not found\n", "text/plain; charset=utf-8")
    if code == 429:
        hdrs = [("Retry-After", str(retry_after))] if retry_after is not None else []
        return json_reply(429, BODY_429, hdrs)
    if code == 502:
        return Reply(502, b"", None)
    if code == 503:
        return Reply(503, b"Service Unavailable\n", "text/plain; charset=utf-8")
    return json_reply(code, {"code": code, "error": "simulated failure", "message": "Simulated Error"})

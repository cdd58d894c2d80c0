"""The gateway's JSON API (``/api/...``): what it answers, from the dangerous-call check on.

Why a module of its own: this is the older of the gateway's two APIs, with rules of its own (a
customer login, session cookies, pages built from the model or replayed from captures, and most of
the JSON faults); the TEDAPI side (:mod:`exporter.simulator.tedapi.wifi_serve`) shares nothing of it
but the sessions. :func:`answer` runs steps 3 to 7 of the request order in
:mod:`exporter.simulator.server`'s docstring, in that order.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from email.message import Message
from typing import Protocol

from exporter.simulator import payloads
from exporter.simulator.faults import Faults
from exporter.simulator.handler import (
    LOGIN_PATH,
    MODEL_PATHS,
    PW3_JSON_PATHS,
    STOPPED_502_PATHS,
    RecordedRequest,
    is_dangerous,
)
from exporter.simulator.model import SiteModel
from exporter.simulator.payloads import deep_merge
from exporter.simulator.records import RequestLog
from exporter.simulator.replay import CannedResponse, ReplayStore
from exporter.simulator.replies import BODY_401_BAD, BODY_401_SESSION, HTML_PAGE, Reply, error_reply, json_reply
from exporter.simulator.sessions import Sessions
from exporter.simulator.vitals import build_vitals


class JsonGateway(Protocol):
    """What the JSON API needs of the gateway (:class:`~exporter.simulator.server.SimulatedGateway`):
    its site (or replay tree), password, sessions, faults and records. Spelled out so that this
    module touches nothing else of it."""

    model: SiteModel
    replay: ReplayStore | None
    password: str
    faults: Faults
    sessions: Sessions
    request_log: RequestLog

    def flag_dangerous(self, rec: RecordedRequest) -> None: ...

    def random_bytes(self, n: int) -> bytes: ...


def answer(gw: JsonGateway, rec: RecordedRequest, headers: Message) -> Reply:
    """The answer to a request for the JSON API (``headers``: the request's, case-insensitive)."""
    f = gw.faults
    method, path = rec.method, rec.path
    if is_dangerous(method, path):
        gw.flag_dangerous(rec)
        return json_reply(200, {})
    forced = f.take("status", path)
    if forced:
        return error_reply(int(forced), f.peek("retry_after", path))
    if f.take("html", path):
        return Reply(200, HTML_PAGE, "text/html; charset=utf-8")
    garbage = f.take("garbage", path)
    if garbage:
        n = 512 if garbage is True else int(garbage)
        return Reply(200, gw.random_bytes(n), "application/json")
    body = f.take("body", path)
    if body:
        return Reply(200, bytes(body), "application/json")
    giant = f.take("giant", path)
    if giant:
        return Reply(200, content_type="application/json", mode="giant", size=int(giant))
    bomb = f.take("gzip_bomb", path)
    if bomb:
        return Reply(200, content_type="application/json", mode="gzip_bomb", size=int(bomb))
    if path == LOGIN_PATH and method == "POST":
        return _login(gw, rec)
    if method != "GET" or not path.startswith("/api/"):
        return error_reply(404)
    if not gw.sessions.authenticated(headers):
        return json_reply(401, BODY_401_SESSION)
    return _content(gw, path)


def _login(gw: JsonGateway, rec: RecordedRequest) -> Reply:
    """``POST /api/login/Basic`` (step 5): ``force_sm_off`` is refused and flagged, then the
    ``login_status`` fault, then the password check; a good login opens a session, handed out as a
    token and a cookie as the real gateway does."""
    if b"force_sm_off" in rec.body:
        gw.request_log.flag_force_sm_off(rec)
        return json_reply(400, {"code": 400, "error": "force_sm_off refused by simulator", "message": "Bad"})
    forced = gw.faults.take("login_status", LOGIN_PATH)
    if forced:
        code = int(forced)
        if code == 401:
            return json_reply(401, BODY_401_BAD)
        return error_reply(code, gw.faults.peek("retry_after", LOGIN_PATH))
    try:
        data = json.loads(rec.body or b"null")
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        return json_reply(400, {"code": 400, "error": "invalid request body", "message": "Bad Request"})
    password = data.get("password")
    ok = (
        data.get("username") == "customer"
        and isinstance(password, str)
        and hmac.compare_digest(password.encode(), gw.password.encode())
    )
    if not ok:
        return json_reply(401, BODY_401_BAD)
    token = gw.sessions.issue()
    email = str(data.get("email") or "")
    user = {"email": email, "firstname": "Tesla", "lastname": "Energy", "roles": ["Home_Owner"]}
    login_time = payloads.rfc3339_ns(time.time(), gw.model.utc_offset_hours)
    body = {**user, "token": token, "provider": "Basic", "loginTime": login_time}
    record = base64.b64encode(json.dumps({**user, "loginSource": "Password"}).encode()).decode()
    return json_reply(
        200,
        body,
        [("Set-Cookie", f"AuthCookie={token}; Path=/"), ("Set-Cookie", f"UserRecord={record}; Path=/")],
    )


def _content(gw: JsonGateway, path: str) -> Reply:
    """An ``/api/`` page for a valid session (step 7), with the faults that shape content:
    ``vitals_absent``, ``sitemaster_stopped`` and ``extra_json``."""
    f = gw.faults
    if path == "/api/devices/vitals" and f.take("vitals_absent", path):
        return error_reply(404)
    stopped = bool(f.peek("sitemaster_stopped", path))
    if stopped and path in STOPPED_502_PATHS:
        f.take("sitemaster_stopped", path)
        return Reply(502, b"", None)
    replayed = gw.replay is not None
    reply = _replay_content(gw, path, stopped) if replayed else _model_content(gw, path, stopped)
    extra = f.peek("extra_json", path)
    if isinstance(extra, dict) and reply.status == 200 and (reply.content_type or "").startswith("application/json"):
        f.take("extra_json", path)
        reply.body = json.dumps(deep_merge(json.loads(reply.body), extra)).encode()
    return reply


def _replay_content(gw: JsonGateway, path: str, stopped: bool) -> Reply:
    """A captured answer, changed only where a fault says what the capture cannot (a stopped
    sitemaster, a grid outage)."""
    assert gw.replay is not None
    canned: CannedResponse | None = gw.replay.lookup(path)
    if canned is None:
        return error_reply(404)
    body = canned.body
    if path == "/api/sitemaster" and stopped:
        body = json.dumps(payloads.sitemaster(False)).encode()
    if path == "/api/system_status/grid_status" and gw.faults.peek("grid_outage"):
        body = json.dumps({"grid_status": "SystemIslandedActive", "grid_services_active": False}).encode()
    ctype = None
    headers = []
    for name, value in canned.headers:
        if name.lower() == "content-type":
            ctype = value
        else:
            headers.append((name, value))
    return Reply(canned.status, body, ctype, headers)


def _model_content(gw: JsonGateway, path: str, stopped: bool) -> Reply:
    """A page built from the model's state now, where this site's generation and firmware still
    serve it (404 otherwise, as the real gateway answers)."""
    m = gw.model
    if path not in MODEL_PATHS or (path == "/api/solar_powerwall" and not m.solar_powerwall):
        return error_reply(404)
    if (m.generation == "pw3" and path not in PW3_JSON_PATHS) or (path == "/api/devices/vitals" and m.vitals_removed):
        return error_reply(404)
    m.set_forced_outage(bool(gw.faults.peek("grid_outage")))
    snap = m.snapshot()
    if path == "/api/devices/vitals":
        return Reply(200, build_vitals(snap, m), "application/octet-stream")
    return json_reply(200, payloads.JSON_PAGES[path](payloads.Page(snap, m, sitemaster_running=not stopped)))

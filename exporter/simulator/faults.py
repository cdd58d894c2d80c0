"""Run-time switchable misbehaviour of the simulated gateway.

Real gateways misbehave in many ways (see gateway-api.md): they rate-limit, answer 502 while the
sitemaster is stopped, serve HTML, reset connections, drip bytes or drop off WiFi. The exporter must
survive every one of them without crashing, hanging or leaking, and tests can only prove that if each
misbehaviour can be switched on precisely. Every fault defaults to off.

Each fault is a *rule*: a value plus an optional set of exact request paths (``None`` = every path),
for the TEDAPI faults an optional set of message kinds (``kinds``: ``din``, ``config``, ``firmware``,
``query:<Operation>``; every TEDAPI message shares one path, so this is how a fault hits config.json
alone) and an optional ``times`` budget (the rule switches itself off after firing that often, e.g. "the next
request gets a 503, the retry succeeds"). Setting an attribute is the short form for a global, unlimited
rule; ``set()`` is the long form::

    gw.faults.delay_seconds = 2.0                                  # every request
    gw.faults.set("status", 503, paths={"/api/status"}, times=1)   # next /api/status only
    gw.faults.set("tedapi_garbage", True, kinds={"config"})         # config.json answers only
    gw.faults.clear("status")                                      # or gw.faults.clear() for all

Faults (checked in this order for each request; see ``server.py``):

``tls_fail`` (bool, global only)
    Abort every TLS handshake (the TCP connection is closed before the handshake; paths are unknown
    at that point, so ``paths`` is ignored).
``delay_seconds`` (float)
    Sleep this long before answering (interrupted by ``stop()``).
``reset`` (bool)
    Read the request, then close the connection with a TCP RST and no answer.
``login_status`` (int, login path only)
    Answer ``POST /api/login/Basic`` with this code instead of logging in: 429 gives the gateway's
    "API Limit Reached" body, 401 its "bad credentials" body, anything else a JSON error (502: empty).
``status`` (int)
    Force this HTTP code (after auth): 401/403 JSON session errors, 404 empty, 429 "API Limit
    Reached" JSON, 500 JSON error, 502 empty body, 503 plain text, any other code a JSON error.
    Applies to the login path too when global.
``retry_after`` (str | int)
    ``Retry-After`` header value added to every 429 answer (forced or from ``login_status``).
``html`` (bool)
    Answer 200 with an HTML page (``text/html``) instead of JSON (what a captive portal or the
    gateway's web UI would return).
``garbage`` (int: number of random bytes)
    Answer 200 ``application/json`` whose body is that many random bytes.
``truncate_at`` (int)
    Announce the full ``Content-Length`` but send only the first N body bytes, then close.
``slow_drip`` (float: seconds per byte)
    Send the (correct) body one byte every X seconds.
``body`` (bytes)
    Answer 200 ``application/json`` with exactly these bytes (login path included): for answers
    nobody thought of, e.g. deeply nested JSON or a login token with CR/LF in it.
``giant`` (int: bytes)
    Answer 200 JSON with a body of exactly N bytes, streamed (valid JSON padding).
``gzip_bomb`` (int: inflated bytes)
    Answer 200 with ``Content-Encoding: gzip``; the body inflates to N zero bytes (rounded up to
    whole MiB) while only about N/1000 bytes go over the wire.
``sitemaster_stopped`` (bool)
    Like a stopped system: ``/api/meters/aggregates`` and ``/api/system_status`` (and its
    ``/soe``) answer 502 with an empty body; ``/api/sitemaster`` says ``running: false``,
    ``status: StatusDown``.
``grid_outage`` (bool, global only)
    The site model islands: ``grid_status`` = ``SystemIslandedActive``, site power 0, the battery
    covers the load (below the reserve if needed), solar is curtailed when the battery is full.
``vitals_absent`` (bool)
    ``/api/devices/vitals`` answers 404, as on firmware 23.44 and later.
``extra_json`` (dict)
    Deep-merge this object into a JSON endpoint's normal answer (nested dicts merge, anything else
    replaces), e.g. ``{"site": {"energy_imported": 1e306}}`` for ``/api/meters/aggregates``. For
    payloads a firmware might send that the model never does: absurd numbers, thousands of unknown
    fields, huge field names.

TEDAPI faults (only the TEDAPI paths ``/``, ``/tedapi/din``, ``/tedapi/v1``, ``/tedapi/device/<DIN>/v1``
see them, so the JSON API keeps working; checked in this order, after the global ``delay_seconds``
and ``reset``; see ``exporter.simulator.tedapi``). Their ``kinds`` name request kinds as
``tedapi_requests`` records them (``din``, ``config``, ``firmware``, ``query:DeviceControllerQuery``,
``query:ComponentsQuery``): config.json, the firmware read and the device controller all go to
``/tedapi/v1``, and a test of one step must fail that step only::

    gw.faults.set("tedapi_delay", 8.0, kinds={"config"}, times=1)   # the next config.json read hangs

``tedapi_ap_gone`` (bool)
    The gateway's WiFi access point is gone: the connection is closed with a TCP RST, no answer.
``tedapi_delay`` (float)
    Sleep this long before answering a TEDAPI request (the fragile Powerwall 3 AP).
``tedapi_status`` (int)
    Force this code: 403 / 401 (the gateway's JSON bodies), 429 "API Limit Reached", 503 plain text.
``tedapi_lan_403`` (bool)
    Firmware >= 25.10 refusing a request routed from the LAN: 403 with the JSON "User does not have
    adequate access rights" body, whatever the password.
``tedapi_empty_data`` (bool)
    A query is answered ``queryResponse{status 1, data ""}``.
``tedapi_truncated`` (bool)
    The protobuf answer is cut in half (inside the envelope, so it cannot decode); gzipped after the
    cut when the firmware gzips.
``tedapi_garbage`` (bool)
    200 with bytes that are no protobuf (the first tag has the invalid wire type 7).
``tedapi_bad_gzip`` (bool)
    200 with a gzip header and a corrupt deflate stream (whatever the firmware).
``tedapi_wrong_wire_type`` (bool)
    The answer's envelope field is sent as a varint (wire type 0) where the schema has a message
    (wire type 2): the bytes parse, the envelope is an unknown field, and no answer is in them.
``tedapi_config_blob`` (bytes)
    A readFileResponse carrying these bytes as config.json instead of the real file (JSON that is
    truncated, garbage, or not an object).
``tedapi_extra_json`` (dict)
    Deep-merge this object into the JSON of a TEDAPI answer before it is encoded, like
    ``extra_json``: config.json for kind ``config``, a query's data for ``query:<operation>``; aim it
    with ``kinds``. For answers the model never gives: a components answer listing 20,000 packs, a
    config.json whose ``site_info.country`` is a number::

        gw.faults.set("tedapi_extra_json", {"site_info": {"country": 61}}, kinds={"config"})

    The three content faults above (``tedapi_empty_data``, ``tedapi_config_blob``, ``tedapi_extra_json``)
    shape the reads of ``/tedapi/v1r`` too; aim them with ``paths={"/tedapi/v1r"}``.

v1r faults (``POST /tedapi/v1r`` only, the signed path on the home LAN; see
``exporter.simulator.tedapi.v1r_serve`` for where each one acts). ``kinds`` as for TEDAPI (``config``,
``firmware``, ``query:<Operation>``; ``undecodable`` for a body that does not walk)::

    gw.faults.set("v1r_fault", "BUSY", times=1)          # the next v1r read: message_fault 1

``v1r_delay`` (float)
    Sleep this long before answering.
``v1r_status`` (int)
    Force this HTTP code instead of an answer (401/403: the docs' "session expired"; 429, 503).
``v1r_fault`` (int | str)
    Answer HTTP 200 with this ``message_fault`` (number or name: ``BUSY``, ``TIMEOUT``,
    ``TIME_EXPIRED``, ...), whatever the signature, for a request addressed to domain 7.
``v1r_key_state`` (str | int)
    Judge a *registered* signer key as if it were in this state (``pending``, ``pending_timeout``,
    ``verified``, ``removed`` or 1-4), without touching the key ring.
``v1r_follower_timeout`` (bool)
    A read whose recipient is a follower Powerwall 3 faults TIMEOUT (without it the leader answers
    with its own data; the docs know both).
``v1r_garbage`` (bool)
    200 with bytes that are no protobuf instead of the answer.
``v1r_empty`` (bool)
    200 with a RoutableMessage that has neither envelope nor fault (the docs' silent rejection).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")

FAULT_NAMES: tuple[str, ...] = (
    "tls_fail",
    "delay_seconds",
    "reset",
    "login_status",
    "status",
    "retry_after",
    "html",
    "garbage",
    "body",
    "truncate_at",
    "slow_drip",
    "giant",
    "gzip_bomb",
    "sitemaster_stopped",
    "grid_outage",
    "vitals_absent",
    "extra_json",
)
# Kept apart from FAULT_NAMES (the JSON API's faults): they act on the TEDAPI paths only.
TEDAPI_FAULT_NAMES: tuple[str, ...] = (
    "tedapi_ap_gone",
    "tedapi_delay",
    "tedapi_status",
    "tedapi_lan_403",
    "tedapi_empty_data",
    "tedapi_truncated",
    "tedapi_garbage",
    "tedapi_bad_gzip",
    "tedapi_wrong_wire_type",
    "tedapi_config_blob",
    "tedapi_extra_json",
)
# The signed LAN path has its own: a test of WiFi TEDAPI failures leaves v1r alone, and vice versa.
V1R_FAULT_NAMES: tuple[str, ...] = (
    "v1r_delay",
    "v1r_status",
    "v1r_fault",
    "v1r_key_state",
    "v1r_follower_timeout",
    "v1r_garbage",
    "v1r_empty",
)
_ALL_FAULTS = frozenset(FAULT_NAMES + TEDAPI_FAULT_NAMES + V1R_FAULT_NAMES)


@dataclass(slots=True)
class FaultRule:
    """One active fault. ``paths``/``kinds`` None: every path / message kind; ``times`` None: unlimited."""

    value: Any
    paths: frozenset[str] | None = None
    times: int | None = None
    fired: int = 0
    kinds: frozenset[str] | None = None

    def matches(self, path: str | None, kind: str | None = None) -> bool:
        if self.kinds is not None and (kind is None or kind not in self.kinds):
            return False
        return self.paths is None or (path is not None and path in self.paths)


class _Fault(Generic[T]):
    """Descriptor giving each fault a typed attribute (``faults.status = 503``) for mypy and readers."""

    name: str

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> _Fault[T]: ...
    @overload
    def __get__(self, obj: Faults, objtype: type | None = None) -> T | None: ...
    def __get__(self, obj: Faults | None, objtype: type | None = None) -> T | _Fault[T] | None:
        if obj is None:
            return self
        rule = obj.rule(self.name)
        return None if rule is None else rule.value

    def __set__(self, obj: Faults, value: T | None) -> None:
        obj.set(self.name, value)


def _is_off(value: object) -> bool:
    # 0 and 0.0 are meaningful for none of the faults (a 0 s delay or a 0-byte giant body is "off").
    return value is None or value is False or (isinstance(value, int | float) and value == 0)


class Faults:
    """Thread-safe set of fault rules, read by the server on every request (see module docstring)."""

    tls_fail: _Fault[bool] = _Fault()
    delay_seconds: _Fault[float] = _Fault()
    reset: _Fault[bool] = _Fault()
    login_status: _Fault[int] = _Fault()
    status: _Fault[int] = _Fault()
    retry_after: _Fault[str | int] = _Fault()
    html: _Fault[bool] = _Fault()
    garbage: _Fault[int] = _Fault()
    body: _Fault[bytes] = _Fault()
    truncate_at: _Fault[int] = _Fault()
    slow_drip: _Fault[float] = _Fault()
    giant: _Fault[int] = _Fault()
    gzip_bomb: _Fault[int] = _Fault()
    sitemaster_stopped: _Fault[bool] = _Fault()
    grid_outage: _Fault[bool] = _Fault()
    vitals_absent: _Fault[bool] = _Fault()
    extra_json: _Fault[dict[str, Any]] = _Fault()
    tedapi_ap_gone: _Fault[bool] = _Fault()
    tedapi_delay: _Fault[float] = _Fault()
    tedapi_status: _Fault[int] = _Fault()
    tedapi_lan_403: _Fault[bool] = _Fault()
    tedapi_empty_data: _Fault[bool] = _Fault()
    tedapi_truncated: _Fault[bool] = _Fault()
    tedapi_garbage: _Fault[bool] = _Fault()
    tedapi_bad_gzip: _Fault[bool] = _Fault()
    tedapi_wrong_wire_type: _Fault[bool] = _Fault()
    tedapi_config_blob: _Fault[bytes] = _Fault()
    tedapi_extra_json: _Fault[dict[str, Any]] = _Fault()
    v1r_delay: _Fault[float] = _Fault()
    v1r_status: _Fault[int] = _Fault()
    v1r_fault: _Fault[int | str] = _Fault()
    v1r_key_state: _Fault[str | int] = _Fault()
    v1r_follower_timeout: _Fault[bool] = _Fault()
    v1r_garbage: _Fault[bool] = _Fault()
    v1r_empty: _Fault[bool] = _Fault()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: dict[str, FaultRule] = {}

    def set(
        self,
        name: str,
        value: Any,
        paths: Iterable[str] | None = None,
        times: int | None = None,
        kinds: Iterable[str] | None = None,
    ) -> None:
        """Activate fault ``name`` (a falsy value clears it), for ``paths`` and TEDAPI message
        ``kinds`` only, and ``times`` times."""
        if name not in _ALL_FAULTS:
            known = ", ".join(FAULT_NAMES + TEDAPI_FAULT_NAMES + V1R_FAULT_NAMES)
            raise ValueError(f"unknown fault {name!r}; known: {known}")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 (or None for unlimited)")
        with self._lock:
            if _is_off(value):
                self._rules.pop(name, None)
            else:
                path_set = None if paths is None else frozenset(paths)
                kind_set = None if kinds is None else frozenset(kinds)
                self._rules[name] = FaultRule(value, path_set, times, kinds=kind_set)

    def clear(self, name: str | None = None) -> None:
        """Switch one fault off, or all of them."""
        with self._lock:
            if name is None:
                self._rules.clear()
            else:
                self._rules.pop(name, None)

    def rule(self, name: str) -> FaultRule | None:
        with self._lock:
            return self._rules.get(name)

    def active(self) -> dict[str, Any]:
        """Snapshot ``{name: value}`` of the active faults (for logs and assertions)."""
        with self._lock:
            return {n: r.value for n, r in self._rules.items()}

    def peek(self, name: str, path: str | None = None, kind: str | None = None) -> Any:
        """Value of ``name`` if it applies to ``path`` (and request ``kind``), without consuming a ``times`` budget."""
        with self._lock:
            rule = self._rules.get(name)
            return rule.value if rule is not None and rule.matches(path, kind) else None

    def take(self, name: str, path: str | None = None, kind: str | None = None) -> Any:
        """Value of ``name`` if it applies to ``path`` (and request ``kind``), using up one of its ``times``."""
        with self._lock:
            rule = self._rules.get(name)
            if rule is None or not rule.matches(path, kind):
                return None
            rule.fired += 1
            if rule.times is not None and rule.fired >= rule.times:
                del self._rules[name]
            return rule.value

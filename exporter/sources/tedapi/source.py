"""The TEDAPI source: per-device data on firmware >= 23.44 and on Powerwall 3 (shared/docs/tedapi.md).

One scrape's requests form a short chain, each step a follow-up of the answer before it
(:meth:`Source.followups`), each cached on its own cadence by the transport's single flight:

    GET /tedapi/din (1 h) -> config.json (10 min), getSystemInfo (1 h), DeviceControllerQuery
                             (tedapi.min_interval_seconds)
    config.json           -> the components query per Powerwall 3 (same cadence): the plain path
                             for a single unit, /tedapi/device/<DIN>/v1 for each of several

So N scrapers cost the access point what one does, and a scrape with warm caches sends nothing.
The requests use their own auth domain ("tedapi": HTTP Basic with the gateway password, at most
:data:`MAX_CONNECTIONS` connections, its own 429/503 cooldown and unreachable back-off), so a
TEDAPI failure never holds back the JSON API, and it never counts towards ``powerwall_up`` being 0.

Where the JSON API lacks an endpoint (a Powerwall 3 answers 404 for most), :meth:`finish` fills in
its site-level series from config.json, the device controller and the firmware answer, through the
JSON API's own mappers, so the series have the same names on every generation.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from exporter.config import GatewayConfig
from exporter.devices.bounds import DeviceBudget
from exporter.devices.flatten import flatten_devices
from exporter.gateway.allowlist import Allowed
from exporter.gateway.auth import HttpBasic
from exporter.gateway.outcomes import Fetched, FetchError
from exporter.gateway.request import Body, Request
from exporter.metrics.metricset import MetricSet, gauge, info
from exporter.sources.base import Output, RequestView, Source
from exporter.sources.json_api import endpoints as ep
from exporter.sources.json_api.mappers import JSON_MAPPERS, gateway_info_labels
from exporter.sources.json_api.tables import GATEWAY_INFO
from exporter.sources.peranswer import PerAnswer
from exporter.sources.tedapi import envelope, queries
from exporter.sources.tedapi.devices import Block, blocks, components_devices, controller_devices
from exporter.sources.tedapi.envelope import DEVICE_PATH_RE, DIN_RE, EnvelopeError, Route, SystemInfo
from exporter.sources.tedapi.site import controller_site_metrics, site_answers
from exporter.sources.vitals.source import VITALS

log = logging.getLogger(__name__)

AUTH_DOMAIN = "tedapi"
USER = "Tesla_Energy_Device"
MAX_CONNECTIONS = 2
DIN_PATH = "/tedapi/din"
DIN_INTERVAL_SECONDS = 3600.0
CONFIG_INTERVAL_SECONDS = 600.0
FIRMWARE_INTERVAL_SECONDS = 3600.0
REFUSED_HINT = (
    "either the gateway password (tedapi.gateway_password, the full password on the QR sticker) is wrong, "
    "or the firmware (>= 25.10) refuses TEDAPI routed from the LAN: run the exporter on a host that is a "
    "WiFi client of the gateway's own access point (192.168.91.1)"
)
OK_STATUSES = (1, 2)  # SUCCESS, ERROR_PARTIAL (data with some fields missing)
CONTROLLER_DEVICES = "tedapi:controller_devices"  # decoded: the controller's devices, flattened, and their budget
# What the site stand-ins (exporter.sources.tedapi.site.site_answers) read of a DeviceControllerQuery
# answer: kept in place of the whole answer, whose bulk (the device bus) is kept flattened only.
CONTROLLER_SITE_KEYS = ("control", "system")

TEDAPI_ENABLED = gauge(
    "powerwall_tedapi_enabled", "1 when TEDAPI is configured and usable signed queries were loaded, else 0."
)
QUERY_INFO = info(
    "powerwall_tedapi_query_info",
    "A signed TEDAPI query loaded for a role: operation, origin, sha256 of the signed bytes, "
    "whether the signature verifies against Tesla's key; always 1.",
)
QUERY_ERRORS = gauge(
    "powerwall_tedapi_query_errors", "GraphQL errors the gateway listed in the last answer to a query."
)


@dataclass(frozen=True, slots=True)
class _Step:
    kind: str  # din | config | firmware | controller | components
    block: Block | None = None


class TedapiSource(Source):
    name = "tedapi"
    ALLOWED = (
        Allowed("GET", DIN_PATH),
        # Not sent today: how a Gateway 2 (200) and a Powerwall 3 (404) are told apart, kept on
        # the list so that a future use does not need a new path.
        Allowed("GET", "/"),
        Allowed("POST", envelope.PATH, vet=envelope.vet),
        Allowed("POST", "/tedapi/device/<DIN>/v1", vet=envelope.vet, pattern=DEVICE_PATH_RE.pattern),
    )

    def __init__(self, cfg: GatewayConfig) -> None:
        super().__init__(cfg)
        assert cfg.tedapi is not None
        self.tcfg = cfg.tedapi
        keys = (self.tcfg.query_public_key,) if self.tcfg.query_public_key else (queries.TESLA_PUBLIC_KEY,)
        self.queries = queries.load(self.tcfg.queries_file, keys)
        self._lock = threading.Lock()
        self._steps: dict[tuple[str, str, str], _Step] = {}
        self._din_request = self._request("GET", DIN_PATH, b"", "din", None, DIN_INTERVAL_SECONDS, Body.TEXT)
        # Identity from the last good answers, for labels only (the firmware label of devices).
        self._firmware: SystemInfo | None = None
        self._din: str | None = None
        self._followups: dict[tuple[str, str, str], tuple[Fetched, tuple[Request, ...]]] = {}
        self._configs: PerAnswer[dict[str, Any]] = PerAnswer()  # follow-ups and collect share one parse

    @classmethod
    def enabled(cls, cfg: GatewayConfig) -> bool:
        return cfg.tedapi is not None

    def auth(self) -> tuple[HttpBasic, int]:
        """The auth domain this source's requests use, and its connection bound (the collector registers it)."""
        basic = HttpBasic(AUTH_DOMAIN, self.cfg.name, USER, self.tcfg.gateway_password, REFUSED_HINT)
        return basic, MAX_CONNECTIONS

    # ---- requests ---------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        body: bytes,
        kind: str,
        block: Block | None,
        interval: float,
        accept: Body = Body.PROTOBUF,
        label: str | None = None,
    ) -> Request:
        request = Request(
            method,
            path,
            accept,
            body=body,
            content_type="application/octet-stream" if body else None,
            auth=AUTH_DOMAIN,
            min_interval_seconds=interval,
            label=label or f"tedapi:{kind}",
            base_url=self.tcfg.base_url,
        )
        with self._lock:
            if len(self._steps) > 256:  # DINs changed many times (a replaced unit): forget old ones
                self._steps = {k: v for k, v in self._steps.items() if v.kind == "din"}
                self._followups.clear()
            self._steps[request.key] = _Step(kind, block)
        return request

    def _step(self, request: Request) -> _Step:
        with self._lock:
            return self._steps.get(request.key, _Step(""))

    def requests(self, view: RequestView) -> Sequence[Request]:
        return (self._din_request,) if self.queries is not None else ()

    def followups(self, request: Request, answer: Fetched) -> Sequence[Request]:
        # A reused answer (the same Fetched as last scrape) makes the same follow-ups: built once.
        with self._lock:
            memo = self._followups.get(request.key)
        if memo is not None and memo[0] is answer:
            return memo[1]
        try:
            made = self._make_followups(request, answer)
        except FetchError:
            # An answer that does not decode makes no follow-ups. Not a bug, and not counted here:
            # collect() of the same answer fails with the same error, counted once per answer.
            made = ()
        with self._lock:
            self._followups[request.key] = (answer, made)
        return made

    def _make_followups(self, request: Request, answer: Fetched) -> tuple[Request, ...]:
        assert self.queries is not None  # no request is made without
        step = self._step(request)
        if step.kind == "din":
            din = _din(answer.body)
            with self._lock:
                self._din = din
            gateway = Route(din)
            post = envelope.PATH
            interval = self.tcfg.min_interval_seconds
            out = [
                self._request("POST", post, envelope.config_request(gateway), "config", None, CONFIG_INTERVAL_SECONDS),
                self._request(
                    "POST", post, envelope.firmware_request(gateway), "firmware", None, FIRMWARE_INTERVAL_SECONDS
                ),
            ]
            controller = self.queries.queries["device_controller"]
            out.append(
                self._request(
                    "POST",
                    post,
                    envelope.query_request(gateway, controller),
                    "controller",
                    None,
                    interval,
                    label=f"tedapi:{controller.operation}",
                )
            )
            return tuple(out)
        if step.kind == "config":
            with self._lock:
                gateway_din = self._din
            return tuple(self._components_requests(gateway_din, self._config(request, answer)))
        return ()

    def _config(self, request: Request, answer: Fetched) -> dict[str, Any]:
        """config.json of an answer, parsed once per answer (follow-ups and mapping both need it)."""
        made = self._configs.get(answer, partial(_decoded, request, answer, envelope.config_answer))
        if made.error is not None:
            raise made.error
        assert made.value is not None
        return made.value

    def _components_requests(self, din: str | None, config: dict[str, Any]) -> list[Request]:
        assert self.queries is not None
        query = self.queries.queries.get("components")
        pw3 = [b for b in blocks(config) if b.is_pw3 and DIN_RE.match(b.din)]
        if not pw3 and din is not None and Block(din, "", ()).is_pw3:
            pw3 = [Block(din, "Powerwall3", ())]  # a leader whose config lists no blocks: itself
        if din is None or query is None or not pw3:
            return []
        interval = self.tcfg.min_interval_seconds
        if len(pw3) == 1:
            route = Route(din)
            return [
                self._request(
                    "POST",
                    route.path,
                    envelope.query_request(route, query),
                    "components",
                    pw3[0],
                    interval,
                    label=f"tedapi:{query.operation}",
                )
            ]
        out = []
        for block in pw3:
            route = Route(block.din, leader=din)
            out.append(
                self._request(
                    "POST",
                    route.path,
                    envelope.query_request(route, query),
                    "components",
                    block,
                    interval,
                    label=f"tedapi:{query.operation}:{block.din}",
                )
            )
        return out

    # ---- answers ----------------------------------------------------------------------------
    def collect(self, request: Request, answer: Fetched, out: Output) -> None:
        step = self._step(request)
        try:
            self._collect(step, request, answer, out)
        except EnvelopeError as exc:
            raise FetchError("decode", f"{request.label}: {exc}", answer.status) from None

    def _collect(self, step: _Step, request: Request, answer: Fetched, out: Output) -> None:
        if step.kind == "din":
            out.decoded["tedapi:din"] = _din(answer.body)
        elif step.kind == "config":
            out.decoded["tedapi:config"] = self._config(request, answer)
        elif step.kind == "firmware":
            system = envelope.firmware_answer(answer.body)
            with self._lock:
                self._firmware = system
            out.decoded["tedapi:firmware"] = system
        elif step.kind in ("controller", "components"):
            data = self._query_data(request, answer, out.ms)
            firmware = self._firmware.version if self._firmware else None
            if step.kind == "controller":
                with self._lock:
                    din = self._din or ""
                # Merged in finish(), once it is known whether vitals answered in this scrape.
                devices = MetricSet(base_labels=out.ms.base_labels)
                bound = DeviceBudget()  # handed to finish's output with the series, if they are merged
                flatten_devices(controller_devices(data, din, firmware), devices, request.label, bound=bound)
                out.decoded[CONTROLLER_DEVICES] = (devices, bound)
                controller_site_metrics(data, out.ms)
                out.decoded["tedapi:controller"] = {k: data[k] for k in CONTROLLER_SITE_KEYS if k in data}
            else:
                assert step.block is not None
                flatten_devices(
                    components_devices(data, step.block, firmware), out.ms, request.label, bound=out.devices
                )
        else:
            raise FetchError("decode", f"{request.label}: answer to a request this source no longer knows")

    def _query_data(self, request: Request, answer: Fetched, ms: MetricSet) -> dict[str, Any]:
        result = envelope.query_answer(answer.body)
        ms.add(QUERY_ERRORS, len(result.errors), {"endpoint": request.label})
        if result.status not in OK_STATUSES or not isinstance(result.data, dict) or not result.data:
            why = "; ".join(result.errors[:3]) or "no data"
            reason = "unauthorized" if any("code 2" in e for e in result.errors) else "decode"
            raise FetchError(
                reason, f"{request.label}: the gateway answered status {result.status} ({why})", answer.status
            )
        return result.data

    def finish(self, decoded: dict[str, Any], out: Output) -> None:
        out.ms.add(TEDAPI_ENABLED, 1 if self.queries is not None else 0)
        if self.queries is None:
            return
        devices = decoded.get(CONTROLLER_DEVICES)
        # Firmware before 23.44 still serves vitals, which reports the same devices (the inverters
        # under their own serials): then vitals alone speaks for them, never both.
        if devices is not None and VITALS.label not in decoded:
            series, bound = devices
            out.ms.merge(series)
            out.devices.absorb(bound)  # so the gateway's device bound counts them where they are merged
        for role, query in sorted(self.queries.queries.items()):
            verified = {True: "yes", False: "no", None: "unchecked"}[query.verified]
            out.ms.add(
                QUERY_INFO,
                1,
                {
                    "role": role,
                    "operation": query.operation,
                    "origin": self.queries.origin,
                    "sha256": query.sha256,
                    "verified": verified,
                },
            )
        with self._lock:
            din = self._din
        # Only this scrape's answers (a reused one within its cadence included): when config.json
        # or the firmware read fails, their series are absent, never the last known values.
        stand_ins = site_answers(
            decoded.get("tedapi:config"), decoded.get("tedapi:controller"), decoded.get("tedapi:firmware"), din
        )
        added: set[str] = set()
        for label, obj in stand_ins.items():
            if label in decoded or label not in _JSON_PATHS:
                continue  # the JSON API answered it itself
            part = MetricSet(base_labels=out.ms.base_labels)
            JSON_MAPPERS[_JSON_PATHS[label]](obj, part)
            out.ms.merge(part)
            decoded[label] = obj  # the accounting stage reads it like the JSON API's own
            added.add(label)
        if ep.STATUS.label in added:  # the JSON API's finish had no /api/status to make it from
            info_labels = gateway_info_labels(decoded.get(ep.STATUS.label), decoded.get(ep.SITE_INFO.label))
            if info_labels is not None:
                out.ms.add(GATEWAY_INFO, 1, info_labels)


_JSON_PATHS = {r.label: r.path for r in ep.REQUESTS}


def _decoded(request: Request, answer: Fetched, parse: Callable[[bytes], Any]) -> Any:
    """``parse(answer.body)``, an answer that is not what it should be failing as ``decode``."""
    try:
        return parse(answer.body)
    except EnvelopeError as exc:
        raise FetchError("decode", f"{request.label}: {exc}", answer.status) from None


def _din(body: bytes) -> str:
    text = body.decode("ascii", errors="replace").strip()
    if not DIN_RE.match(text):
        raise FetchError("decode", f"{DIN_PATH}: not a DIN ({text[:40]!r})")
    return text

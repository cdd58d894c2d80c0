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

from exporter.config import ConfigError, GatewayConfig
from exporter.devices.flatten import flatten_devices
from exporter.devices.reports import BUS, unit
from exporter.gateway.allowlist import Allowed
from exporter.gateway.auth import Auth, HttpBasic
from exporter.gateway.outcomes import Fetched, FetchError
from exporter.gateway.request import Body, Request
from exporter.metrics.metricset import MetricSet, counter, gauge, info
from exporter.sources.base import Output, RequestView, Source
from exporter.sources.peranswer import PerAnswer
from exporter.sources.tedapi import envelope, queries, v1r, v1r_key
from exporter.sources.tedapi.devices import Block, blocks, components_devices, controller_devices
from exporter.sources.tedapi.envelope import DEVICE_PATH_RE, DIN_RE, EnvelopeError, Route, SystemInfo
from exporter.sources.tedapi.site import controller_site_metrics, site_answers
from exporter.sources.tedapi.v1r_signer import AUTH_DOMAIN as V1R_DOMAIN
from exporter.sources.tedapi.v1r_signer import Failover, V1rSigner

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
V1R_FAULTS = counter(
    "powerwall_tedapi_v1r_faults_total",
    "v1r answers that refused the request, by fault (Tesla's name in snake case; authorization_not_verified: "
    "a registered key not yet verified at the unit; empty_answer: neither data nor fault).",
)
V1R_KEY_ACCEPTED = gauge(
    "powerwall_tedapi_v1r_key_accepted",
    "1 when the gateway accepted the v1r key in its last verdict, 0 after a key fault (unknown, inactive, "
    "not verified, refused signature); absent before the first verdict.",
)
CLOCK_OFFSET = gauge(
    "powerwall_tedapi_clock_offset_seconds",
    "The gateway's clock minus this host's, from the Date header of its v1r answers (v1r signatures expire "
    "on the gateway's clock).",
)
PATH_INFO = info(
    "powerwall_tedapi_path_info",
    "Which TEDAPI path (v1r: signed, on the home LAN; wifi: the gateway's access point) served each unit's "
    "last answer; always 1.",
)


@dataclass(frozen=True, slots=True)
class _Step:
    kind: str  # din | config | firmware | controller | components (a probe reads the firmware)
    block: Block | None = None
    path: str = "wifi"  # wifi | v1r: which path the request takes (a v1r answer is a bare envelope)
    unit: str = ""  # the DIN of the unit the answer speaks for (powerwall_tedapi_path_info)


class TedapiSource(Source):
    name = "tedapi"
    ALLOWED = (
        Allowed("GET", DIN_PATH),
        # Not sent today: how a Gateway 2 (200) and a Powerwall 3 (404) are told apart, kept on
        # the list so that a future use does not need a new path.
        Allowed("GET", "/"),
        Allowed("POST", envelope.PATH, vet=envelope.vet),
        Allowed("POST", "/tedapi/device/<DIN>/v1", vet=envelope.vet, pattern=DEVICE_PATH_RE.pattern),
        Allowed("POST", v1r.PATH, vet=v1r.vet),
    )

    def __init__(self, cfg: GatewayConfig) -> None:
        super().__init__(cfg)
        assert cfg.tedapi is not None
        self.tcfg = cfg.tedapi
        keys = (self.tcfg.query_public_key,) if self.tcfg.query_public_key else (queries.TESLA_PUBLIC_KEY,)
        self.queries = queries.load(self.tcfg.queries_file, keys)
        self._lock = threading.Lock()
        self._steps: dict[tuple[str, str, str], _Step] = {}
        self.signer: V1rSigner | None = None
        if self.tcfg.v1r_key_file is not None:
            failover = Failover(cfg.name, enabled=self.tcfg.wifi)
            self.signer = V1rSigner(cfg.name, v1r_key.load(self.tcfg.v1r_key_file), failover)
        # The DIN: over WiFi with the gateway password; with v1r, from the LAN with the customer
        # session the JSON API holds (or tedapi.din, which needs none).
        self._wifi_din = self._request("GET", DIN_PATH, b"", "din", None, DIN_INTERVAL_SECONDS, Body.TEXT)
        self._lan_din = Request(
            "GET", DIN_PATH, Body.TEXT, min_interval_seconds=DIN_INTERVAL_SECONDS, label="tedapi:din"
        )
        self._remember(self._lan_din, _Step("din", path="v1r"))
        # Identity from the last good answers, for labels only (the firmware label of devices).
        self._firmware: SystemInfo | None = None
        self._din: str | None = self.tcfg.din
        self._followups: dict[tuple[str, str, str], tuple[Fetched, bool, tuple[Request, ...]]] = {}
        self._configs: PerAnswer[dict[str, Any]] = PerAnswer()  # follow-ups and collect share one parse
        self._paths: dict[str, str] = {}  # unit DIN -> the path of its last answer
        self._uncovered: tuple[str, ...] = ()  # followers no path reads, as last logged

    @classmethod
    def enabled(cls, cfg: GatewayConfig) -> bool:
        return cfg.tedapi is not None

    @classmethod
    def check(cls, cfg: GatewayConfig, key: str) -> list[ConfigError]:
        """A named queries_file must hold usable signed queries, and a v1r key file a usable RSA key:
        a bad one fails at start. (Without queries_file, a missing pypowerwall only turns TEDAPI off,
        with a log line.)"""
        t = cfg.tedapi
        if t is None:
            return []
        found = []
        if t.queries_file is not None:
            keys = (t.query_public_key,) if t.query_public_key is not None else (queries.TESLA_PUBLIC_KEY,)
            report = queries.inspect(t.queries_file, keys)
            if report.queries is None:
                found.append(ConfigError(f"{key}.tedapi.queries_file", report.off_reason or "no usable signed queries"))
        if t.v1r_key_file is not None:
            try:
                v1r_key.load(t.v1r_key_file)
            except (v1r_key.KeyFileError, v1r_key.CryptographyMissingError) as exc:
                found.append(ConfigError(f"{key}.tedapi.v1r_key_file", str(exc)))
        return found

    def auths(self) -> Sequence[tuple[Auth, int | None]]:
        """The auth domains of this source's paths, each with its connection bound (the collector registers them)."""
        out: list[tuple[Auth, int | None]] = []
        if self.tcfg.gateway_password is not None:
            basic = HttpBasic(AUTH_DOMAIN, self.cfg.name, USER, self.tcfg.gateway_password, REFUSED_HINT)
            out.append((basic, MAX_CONNECTIONS))
        if self.signer is not None:
            out.append((self.signer, MAX_CONNECTIONS))
        return out

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
        unit: str = "",
    ) -> Request:
        """A request over WiFi (HTTP Basic, the access point's address)."""
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
        return self._remember(request, _Step(kind, block, "wifi", unit))

    def _v1r_request(
        self,
        body: bytes,
        kind: str,
        block: Block | None,
        interval: float,
        label: str,
        unit: str,
        *,
        probe: bool = False,
    ) -> Request:
        """A request over v1r: the bare envelope, signed by the transport as it leaves for the LAN address.

        A probe names the gateway's address explicitly, which makes it a request of its own for the
        single flight: it must reach the LAN, never be answered from a read of the same envelope.
        """
        request = Request(
            "POST",
            v1r.PATH,
            Body.PROTOBUF,
            body=body,
            content_type="application/octet-stream",
            auth=V1R_DOMAIN,
            min_interval_seconds=interval,
            label=label,
            base_url=self.cfg.base_url if probe else None,
        )
        return self._remember(request, _Step(kind, block, "v1r", unit))

    def _remember(self, request: Request, step: _Step) -> Request:
        with self._lock:
            if len(self._steps) > 256:  # DINs changed many times (a replaced unit): forget old ones
                self._steps = {k: v for k, v in self._steps.items() if v.kind == "din"}
                self._followups.clear()
            self._steps[request.key] = step
        return request

    def _step(self, request: Request) -> _Step:
        with self._lock:
            return self._steps.get(request.key, _Step(""))

    def _lan(self) -> bool:
        """Whether the leader's reads go over v1r in this scrape (always with v1r alone; else until failover)."""
        return self.signer is not None and (not self.tcfg.wifi or self.signer.failover.lan())

    def requests(self, view: RequestView) -> Sequence[Request]:
        if self.queries is None:
            return ()
        if self.tcfg.din is not None:
            return self._leader_requests(self.tcfg.din)
        return (self._lan_din if self._lan() else self._wifi_din,)

    def followups(self, request: Request, answer: Fetched) -> Sequence[Request]:
        # A reused answer (the same Fetched as last scrape) makes the same follow-ups on the same
        # path: built once. A due probe of the LAN is the exception: one scrape carries it.
        lan = self._lan()
        with self._lock:
            memo = self._followups.get(request.key)
        if memo is not None and memo[0] is answer and memo[1] == lan and not self._probe_due(request):
            return memo[2]
        try:
            made = self._make_followups(request, answer)
        except FetchError:
            # An answer that does not decode makes no follow-ups. Not a bug, and not counted here:
            # collect() of the same answer fails with the same error, counted once per answer.
            made = ()
        with self._lock:
            self._followups[request.key] = (answer, lan, made)
        return made

    def _probe_due(self, request: Request) -> bool:
        return self._step(request).kind == "din" and self.signer is not None and self.signer.failover.probe_ready()

    def _make_followups(self, request: Request, answer: Fetched) -> tuple[Request, ...]:
        step = self._step(request)
        if step.kind == "din":
            din = _din(answer.body)
            with self._lock:
                self._din = din
            return self._leader_requests(din)
        if step.kind == "config":
            with self._lock:
                gateway_din = self._din
            return tuple(self._components_requests(gateway_din, self._config(request, answer), step.path == "v1r"))
        return ()

    def _leader_requests(self, din: str) -> tuple[Request, ...]:
        """The leader's config, firmware and device-controller reads, on this scrape's path (and a due probe)."""
        assert self.queries is not None  # no request is made without
        controller = self.queries.queries["device_controller"]
        interval = self.tcfg.min_interval_seconds
        label = f"tedapi:{controller.operation}"
        if self._lan():
            return (
                self._v1r_request(
                    envelope.bare_config_request(din), "config", None, CONFIG_INTERVAL_SECONDS, "tedapi:config", din
                ),
                self._v1r_request(
                    envelope.bare_firmware_request(din),
                    "firmware",
                    None,
                    FIRMWARE_INTERVAL_SECONDS,
                    "tedapi:firmware",
                    din,
                ),
                self._v1r_request(
                    envelope.bare_query_request(din, controller), "controller", None, interval, label, din
                ),
            )
        gateway = Route(din)
        post = envelope.PATH
        out = [
            self._request(
                "POST", post, envelope.config_request(gateway), "config", None, CONFIG_INTERVAL_SECONDS, unit=din
            ),
            self._request(
                "POST", post, envelope.firmware_request(gateway), "firmware", None, FIRMWARE_INTERVAL_SECONDS, unit=din
            ),
            self._request(
                "POST",
                post,
                envelope.query_request(gateway, controller),
                "controller",
                None,
                interval,
                label=label,
                unit=din,
            ),
        ]
        if self.signer is not None and self.signer.failover.take_probe():
            # On WiFi after a LAN failover: one cheap read asks whether the LAN answers again.
            body = envelope.bare_firmware_request(din)
            out.append(self._v1r_request(body, "firmware", None, 1.0, "tedapi:v1r_probe", din, probe=True))
        return tuple(out)

    def _config(self, request: Request, answer: Fetched) -> dict[str, Any]:
        """config.json of an answer, parsed once per answer (follow-ups and mapping both need it)."""
        bare = self._step(request).path == "v1r"
        parse = partial(envelope.config_answer, bare=bare)
        made = self._configs.get(answer, partial(_decoded, request, answer, parse))
        if made.error is not None:
            raise made.error
        assert made.value is not None
        return made.value

    def _components_requests(self, din: str | None, config: dict[str, Any], lan: bool) -> list[Request]:
        """The components query of each Powerwall 3: the leader's on this scrape's path, followers over
        WiFi only (over v1r the leader would answer for them with its own data)."""
        assert self.queries is not None
        query = self.queries.queries.get("components")
        pw3 = [b for b in blocks(config) if b.is_pw3 and DIN_RE.match(b.din)]
        if not pw3 and din is not None and Block(din, "", ()).is_pw3:
            pw3 = [Block(din, "Powerwall3", ())]  # a leader whose config lists no blocks: itself
        if din is None or query is None or not pw3:
            return []
        interval = self.tcfg.min_interval_seconds
        single = len(pw3) == 1
        out = []
        if lan:
            # Over v1r the answer is always the leader's own: it is labelled with the leader's DIN,
            # never with a block of another (a config whose blocks all differ from it lists followers).
            leader = next((b for b in pw3 if b.din == din), Block(din, "Powerwall3", ()))
            label = f"tedapi:{query.operation}" if single else f"tedapi:{query.operation}:{leader.din}"
            body = envelope.bare_query_request(din, query)
            out.append(self._v1r_request(body, "components", leader, interval, label, leader.din))
            followers = [b for b in pw3 if b.din != din]
            if not self.tcfg.wifi:
                self._note_uncovered(tuple(b.din for b in followers))
                return out
        elif single:
            route = Route(din)
            body = envelope.query_request(route, query)
            label = f"tedapi:{query.operation}"
            return [self._request("POST", route.path, body, "components", pw3[0], interval, label=label, unit=din)]
        else:
            followers = pw3
        for block in followers:
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
                    unit=block.din,
                )
            )
        return out

    def _note_uncovered(self, followers: tuple[str, ...]) -> None:
        """Say once (per set of units) which follower Powerwall 3s no configured path reads."""
        with self._lock:
            if followers == self._uncovered:
                return
            self._uncovered = followers
        if followers:
            log.warning(
                "gateway %s: follower Powerwall 3 unit(s) %s are not read: v1r reaches the leader only. To read "
                "them, add the WiFi path too (tedapi.gateway_password_file and tedapi.address, the gateway's "
                "access point) on a host that joins the gateway's WiFi",
                self.cfg.name,
                ", ".join(followers),
            )

    # ---- answers ----------------------------------------------------------------------------
    def collect(self, request: Request, answer: Fetched, out: Output) -> None:
        step = self._step(request)
        try:
            self._collect(step, request, answer, out)
        except EnvelopeError as exc:
            raise FetchError("decode", f"{request.label}: {exc}", answer.status) from None

    def _collect(self, step: _Step, request: Request, answer: Fetched, out: Output) -> None:
        bare = step.path == "v1r"
        if bare and step.kind == "components" and step.block is not None and step.block.din != self._din:
            # Over v1r the leader answers for any recipient with its own data: never under another name.
            raise FetchError("decode", f"{request.label}: a follower is never read over v1r")
        if step.unit:
            with self._lock:
                if len(self._paths) >= 64 and step.unit not in self._paths:
                    self._paths.clear()
                self._paths[step.unit] = step.path
        if step.kind == "din":
            out.decoded["tedapi:din"] = _din(answer.body)
        elif step.kind == "config":
            out.decoded["tedapi:config"] = self._config(request, answer)
        elif step.kind == "firmware":
            system = envelope.firmware_answer(answer.body, bare)
            with self._lock:
                self._firmware = system
            out.decoded["tedapi:firmware"] = system
        elif step.kind in ("controller", "components"):
            data = self._query_data(request, answer, out.ms, bare)
            firmware = self._firmware.version if self._firmware else None
            if step.kind == "controller":
                with self._lock:
                    din = self._din or ""
                # The site's device bus: shown unless vitals (firmware < 23.44) reported it too
                # (the device merge, exporter.devices.reports, by the registry's precedence).
                report = out.report(BUS)
                flatten_devices(controller_devices(data, din, firmware), report.ms, request.label, bound=report.budget)
                controller_site_metrics(data, out.ms)
                out.decoded["tedapi:controller"] = {k: data[k] for k in CONTROLLER_SITE_KEYS if k in data}
            else:
                assert step.block is not None
                report = out.report(unit(step.block.din))
                flatten_devices(
                    components_devices(data, step.block, firmware), report.ms, request.label, bound=report.budget
                )
        else:
            raise FetchError("decode", f"{request.label}: answer to a request this source no longer knows")

    def _query_data(self, request: Request, answer: Fetched, ms: MetricSet, bare: bool) -> dict[str, Any]:
        result = envelope.query_answer(answer.body, bare)
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
        # or the firmware read fails, their shapes are absent, never the last known values. Offered
        # to the site merge, which shows them where the JSON API has no answer of its own.
        out.site.update(
            site_answers(
                decoded.get("tedapi:config"), decoded.get("tedapi:controller"), decoded.get("tedapi:firmware"), din
            )
        )

    def health(self, ms: MetricSet) -> None:
        """Which path served each unit, and the v1r domain's verdicts and clock."""
        if self.queries is None:
            return
        with self._lock:
            paths = sorted(self._paths.items())
        for din, path in paths:
            ms.add(PATH_INFO, 1, {"unit": din, "path": path})
        if self.signer is None:
            return
        stats = self.signer.stats()
        for fault, n in sorted(stats.faults.items()):
            ms.add(V1R_FAULTS, n, {"fault": fault})
        if stats.key_accepted is not None:
            ms.add(V1R_KEY_ACCEPTED, 1 if stats.key_accepted else 0)
        if stats.clock_offset is not None:
            ms.add(CLOCK_OFFSET, round(stats.clock_offset, 1))


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

"""The TEDAPI source: per-device data on firmware >= 23.44 and on Powerwall 3 (shared/docs/tedapi.md).

One scrape's requests form a short chain, each step a follow-up of the answer before it
(:meth:`Source.followups`), each cached on its own cadence by the transport's single flight:

    GET /tedapi/din (1 h) -> config.json (10 min), getSystemInfo (1 h), DeviceControllerQuery
                             (tedapi.min_interval_seconds)
    config.json           -> the components query per Powerwall 3 (same cadence)

So N scrapers cost the gateway what one does, and a scrape with warm caches sends nothing. Which
request goes over which path (WiFi with the gateway password, or signed v1r on the home LAN, with
failover between them) is :mod:`exporter.sources.tedapi.plan`'s job; each path is an auth domain of
its own (``tedapi``: HTTP Basic; ``tedapi_v1r``: :mod:`exporter.sources.tedapi.v1r_signer`), at most
:data:`MAX_CONNECTIONS` connections each, with its own cooldowns and back-offs, so a TEDAPI failure
never holds back the JSON API, and it never counts towards ``powerwall_up`` being 0.

Where the JSON API lacks an endpoint (a Powerwall 3 answers 404 for most), :meth:`finish` offers
stand-ins of the site's shapes rebuilt from config.json, the device controller and the firmware
answer; the site merge maps them with the same mappers where the JSON API has no answer of its own,
so the series have the same names on every generation.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from exporter.config import ConfigError, GatewayConfig
from exporter.devices.flatten import flatten_devices
from exporter.devices.reports import BUS, unit
from exporter.gateway.allowlist import Allowed
from exporter.gateway.auth import Auth, HttpBasic
from exporter.gateway.outcomes import Fetched, FetchError
from exporter.gateway.request import Request
from exporter.metrics.metricset import MetricSet
from exporter.site.shapes import Shape
from exporter.sources.base import Output, RequestView, Source
from exporter.sources.peranswer import PerAnswer
from exporter.sources.tedapi import envelope, plan, queries, v1r, v1r_key
from exporter.sources.tedapi.devices import components_devices, controller_devices
from exporter.sources.tedapi.envelope import DEVICE_PATH_RE, DIN_RE, EnvelopeError, SystemInfo
from exporter.sources.tedapi.plan import RequestPlan, Step
from exporter.sources.tedapi.series import (
    CLOCK_OFFSET,
    PATH_INFO,
    QUERY_ERRORS,
    QUERY_INFO,
    TEDAPI_ENABLED,
    V1R_FAULTS,
    V1R_KEY_ACCEPTED,
)
from exporter.sources.tedapi.site import controller_site_metrics, site_answers
from exporter.sources.tedapi.v1r_signer import Failover, V1rSigner

log = logging.getLogger(__name__)

USER = "Tesla_Energy_Device"
MAX_CONNECTIONS = 2
REFUSED_HINT = (
    "either the gateway password (tedapi.gateway_password, the full password on the QR sticker) is wrong, "
    "or the firmware (>= 25.10) refuses TEDAPI routed from the LAN: run the exporter on a host that is a "
    "WiFi client of the gateway's own access point (192.168.91.1)"
)
OK_STATUSES = (1, 2)  # SUCCESS, ERROR_PARTIAL (data with some fields missing)
# What the site stand-ins (exporter.sources.tedapi.site.site_answers) read of a DeviceControllerQuery
# answer: kept in place of the whole answer, whose bulk (the device bus) is kept flattened only.
CONTROLLER_SITE_KEYS = ("control", "system")


class TedapiSource(Source):
    name = "tedapi"
    ALLOWED = (
        Allowed("GET", plan.DIN_PATH),
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
        self.signer: V1rSigner | None = None
        if self.tcfg.v1r_key_file is not None:
            failover = Failover(cfg.name, enabled=self.tcfg.wifi)
            self.signer = V1rSigner(cfg.name, v1r_key.load(self.tcfg.v1r_key_file), failover)
        self.plan = RequestPlan(cfg.name, cfg.base_url, self.tcfg, self.queries, self.signer, self._forget)
        # Identity from the last good answers, for labels only (the firmware label of devices).
        self._firmware: SystemInfo | None = None
        self._din: str | None = self.tcfg.din
        self._followups: dict[tuple[str, str, str], tuple[Fetched, bool, tuple[Request, ...]]] = {}
        self._configs: PerAnswer[dict[str, Any]] = PerAnswer()  # follow-ups and collect share one parse
        self._paths: dict[str, str] = {}  # unit DIN -> the path of its last answer
        self._last_stand_ins: tuple[tuple[Any, ...], dict[Shape, dict[str, Any]]] | None = None

    def _forget(self) -> None:
        with self._lock:
            self._followups.clear()

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
            basic = HttpBasic(plan.AUTH_DOMAIN, self.cfg.name, USER, self.tcfg.gateway_password, REFUSED_HINT)
            out.append((basic, MAX_CONNECTIONS))
        if self.signer is not None:
            out.append((self.signer, MAX_CONNECTIONS))
        return out

    # ---- requests (which ones, over which path: exporter.sources.tedapi.plan) --------------------
    def requests(self, view: RequestView) -> Sequence[Request]:
        if self.queries is None:
            return ()
        if self.tcfg.din is not None:
            return self.plan.leader_requests(self.tcfg.din)
        return (self.plan.din_request(),)

    def followups(self, request: Request, answer: Fetched) -> Sequence[Request]:
        # A reused answer (the same Fetched as last scrape) makes the same follow-ups on the same
        # path: built once. A due probe of the LAN is the exception: one scrape carries it.
        lan = self.plan.lan()
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
        return self.plan.step(request).kind == "din" and self.signer is not None and self.signer.failover.probe_ready()

    def _make_followups(self, request: Request, answer: Fetched) -> tuple[Request, ...]:
        step = self.plan.step(request)
        if step.kind == "din":
            din = _din(answer.body)
            with self._lock:
                self._din = din
            return self.plan.leader_requests(din)
        if step.kind == "config":
            with self._lock:
                gateway_din = self._din
            return tuple(self.plan.components_requests(gateway_din, self._config(request, answer), step.path == "v1r"))
        return ()

    def _config(self, request: Request, answer: Fetched) -> dict[str, Any]:
        """config.json of an answer, parsed once per answer (follow-ups and mapping both need it)."""
        bare = self.plan.step(request).path == "v1r"
        parse = partial(envelope.config_answer, bare=bare)
        made = self._configs.get(answer, partial(_decoded, request, answer, parse))
        if made.error is not None:
            raise made.error
        assert made.value is not None
        return made.value

    # ---- answers ----------------------------------------------------------------------------
    def collect(self, request: Request, answer: Fetched, out: Output) -> None:
        step = self.plan.step(request)
        try:
            self._collect(step, request, answer, out)
        except EnvelopeError as exc:
            raise FetchError("decode", f"{request.label}: {exc}", answer.status) from None

    def _collect(self, step: Step, request: Request, answer: Fetched, out: Output) -> None:
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
        inputs = (decoded.get("tedapi:config"), decoded.get("tedapi:controller"), decoded.get("tedapi:firmware"), din)
        out.site.update(self._stand_ins(inputs))

    def _stand_ins(self, inputs: tuple[Any, Any, Any, str | None]) -> dict[Shape, dict[str, Any]]:
        """The stand-ins of these very answers: the same objects again for reused answers, so the
        site merge, which caches its mapping per answer object, maps nothing on a warm scrape."""
        with self._lock:
            last = self._last_stand_ins
        if last is not None and all(a is b for a, b in zip(last[0], inputs, strict=True)):
            return last[1]
        made = site_answers(*inputs)
        with self._lock:
            self._last_stand_ins = (inputs, made)
        return made

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
        raise FetchError("decode", f"{plan.DIN_PATH}: not a DIN ({text[:40]!r})")
    return text

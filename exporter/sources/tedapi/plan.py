"""Which TEDAPI requests a scrape sends, over which path, and what each one is (its step).

Why apart from the source: the source decodes answers; this decides the requests, and with v1r that
became a job of its own. The leader's reads go over signed v1r on the home LAN (with a v1r key, until
a LAN failover), else over WiFi with the gateway password; followers only ever over WiFi, since the
leader answers a follower's v1r request with its own data. A probe of the LAN rides along on WiFi
once one is due. Every request is remembered with its :class:`Step` so its answer can be read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exporter.config.tedapi import TedapiConfig
from exporter.gateway.request import Body, Request
from exporter.sources.tedapi import envelope, v1r
from exporter.sources.tedapi.devices import Block, blocks
from exporter.sources.tedapi.envelope import DIN_RE, Route
from exporter.sources.tedapi.queries import QuerySet
from exporter.sources.tedapi.v1r_signer import AUTH_DOMAIN as V1R_DOMAIN
from exporter.sources.tedapi.v1r_signer import V1rSigner

log = logging.getLogger(__name__)

AUTH_DOMAIN = "tedapi"  # the WiFi path's HTTP Basic domain
DIN_PATH = "/tedapi/din"
DIN_INTERVAL_SECONDS = 3600.0
CONFIG_INTERVAL_SECONDS = 600.0
FIRMWARE_INTERVAL_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Step:
    kind: str  # din | config | firmware | controller | components (a probe reads the firmware)
    block: Block | None = None
    path: str = "wifi"  # wifi | v1r: which path the request takes (a v1r answer is a bare envelope)
    unit: str = ""  # the DIN of the unit the answer speaks for (powerwall_tedapi_path_info)


class RequestPlan:
    """One gateway's TEDAPI requests (thread-safe); ``on_forget`` runs when old steps are dropped."""

    def __init__(
        self,
        gateway: str,
        gateway_url: str,
        tcfg: TedapiConfig,
        queries: QuerySet | None,
        signer: V1rSigner | None,
        on_forget: Callable[[], None],
    ) -> None:
        self._gateway = gateway
        self._gateway_url = gateway_url
        self.tcfg = tcfg
        self.queries = queries
        self.signer = signer
        self._on_forget = on_forget
        self._lock = threading.Lock()
        self._steps: dict[tuple[str, str, str], Step] = {}
        self._uncovered: tuple[str, ...] = ()  # followers no path reads, as last logged
        # The DIN: over WiFi with the gateway password; with v1r, from the LAN with the customer
        # session the JSON API holds (or tedapi.din, which needs none).
        self.wifi_din = self.wifi_request("GET", DIN_PATH, b"", "din", None, DIN_INTERVAL_SECONDS, Body.TEXT)
        self.lan_din = Request(
            "GET", DIN_PATH, Body.TEXT, min_interval_seconds=DIN_INTERVAL_SECONDS, label="tedapi:din"
        )
        self.remember(self.lan_din, Step("din", path="v1r"))

    def din_request(self) -> Request:
        """This scrape's DIN read, on the leader's path."""
        return self.lan_din if self.lan() else self.wifi_din

    def wifi_request(
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
        return self.remember(request, Step(kind, block, "wifi", unit))

    def v1r_request(
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
            base_url=self._gateway_url if probe else None,
        )
        return self.remember(request, Step(kind, block, "v1r", unit))

    def remember(self, request: Request, step: Step) -> Request:
        with self._lock:
            if len(self._steps) > 256:  # DINs changed many times (a replaced unit): forget old ones
                self._steps = {k: v for k, v in self._steps.items() if v.kind == "din"}
                self._on_forget()
            self._steps[request.key] = step
        return request

    def step(self, request: Request) -> Step:
        with self._lock:
            return self._steps.get(request.key, Step(""))

    def lan(self) -> bool:
        """Whether the leader's reads go over v1r in this scrape (always with v1r alone; else until failover)."""
        return self.signer is not None and (not self.tcfg.wifi or self.signer.failover.lan())

    def leader_requests(self, din: str) -> tuple[Request, ...]:
        """The leader's config, firmware and device-controller reads, on this scrape's path (and a due probe)."""
        assert self.queries is not None  # no request is made without
        controller = self.queries.queries["device_controller"]
        interval = self.tcfg.min_interval_seconds
        label = f"tedapi:{controller.operation}"
        if self.lan():
            return (
                self.v1r_request(
                    envelope.bare_config_request(din), "config", None, CONFIG_INTERVAL_SECONDS, "tedapi:config", din
                ),
                self.v1r_request(
                    envelope.bare_firmware_request(din),
                    "firmware",
                    None,
                    FIRMWARE_INTERVAL_SECONDS,
                    "tedapi:firmware",
                    din,
                ),
                self.v1r_request(
                    envelope.bare_query_request(din, controller), "controller", None, interval, label, din
                ),
            )
        gateway = Route(din)
        post = envelope.PATH
        out = [
            self.wifi_request(
                "POST", post, envelope.config_request(gateway), "config", None, CONFIG_INTERVAL_SECONDS, unit=din
            ),
            self.wifi_request(
                "POST", post, envelope.firmware_request(gateway), "firmware", None, FIRMWARE_INTERVAL_SECONDS, unit=din
            ),
            self.wifi_request(
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
            out.append(self.v1r_request(body, "firmware", None, 1.0, "tedapi:v1r_probe", din, probe=True))
        return tuple(out)

    def components_requests(self, din: str | None, config: dict[str, Any], lan: bool) -> list[Request]:
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
            out.append(self.v1r_request(body, "components", leader, interval, label, leader.din))
            followers = [b for b in pw3 if b.din != din]
            if not self.tcfg.wifi:
                self._note_uncovered(tuple(b.din for b in followers))
                return out
        elif single:
            route = Route(din)
            body = envelope.query_request(route, query)
            label = f"tedapi:{query.operation}"
            return [self.wifi_request("POST", route.path, body, "components", pw3[0], interval, label=label, unit=din)]
        else:
            followers = pw3
        for block in followers:
            route = Route(block.din, leader=din)
            out.append(
                self.wifi_request(
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
                self._gateway,
                ", ".join(followers),
            )

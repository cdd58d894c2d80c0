"""The solar_powerwall source: the Powerwall+ inverter and its strings, where vitals are gone.

It only repeats what vitals carries, so it is asked for only when this gateway's vitals request is
known to be unsupported (firmware 23.44 and later): the registry's ``ASKED_ONLY_WITHOUT``. Mapped
through the same device rule table, so the strings have the same metric names and labels as from vitals.
"""

from __future__ import annotations

from collections.abc import Sequence

from exporter.devices.flatten import flatten_devices
from exporter.devices.reports import PV
from exporter.gateway.allowlist import Allowed
from exporter.gateway.outcomes import Fetched
from exporter.gateway.request import Request, get
from exporter.sources.base import Output, RequestView, Source
from exporter.sources.solar_powerwall.decode import decode_solar_powerwall

SOLAR_POWERWALL = get("/api/solar_powerwall", optional=True)


class SolarPowerwallSource(Source):
    name = "solar_powerwall"
    ALLOWED = (Allowed("GET", SOLAR_POWERWALL.path),)

    def requests(self, view: RequestView) -> Sequence[Request]:
        return (SOLAR_POWERWALL,)

    def collect(self, request: Request, answer: Fetched, out: Output) -> None:
        obj = answer.json_object()
        # The endpoint carries no identity at all (one PV inverter, one PVS): serial="" is all it has.
        report = out.report(PV)
        flatten_devices(decode_solar_powerwall(obj), report.ms, request.label, anonymous=True, bound=report.budget)

"""The vitals source: ``GET /api/devices/vitals``, per-device data on firmware before 23.44.

Decoded into the one device model and flattened by the one rule table, like every per-device
source. On firmware 23.44 and later the gateway answers 404: ``powerwall_vitals_supported 0``, not
a failure, and the request is asked again only every 10 minutes.
"""

from __future__ import annotations

from collections.abc import Sequence

from exporter.devices.flatten import flatten_devices
from exporter.devices.reports import BUS, PV
from exporter.gateway.allowlist import Allowed
from exporter.gateway.outcomes import Fetched, FetchError
from exporter.gateway.request import Body, Request, get
from exporter.metrics.metricset import gauge
from exporter.sources.base import Output, RequestView, Source
from exporter.sources.vitals.decode import VitalsDecodeError, decode_vitals

VITALS = get("/api/devices/vitals", Body.PROTOBUF, optional=True)
VITALS_SUPPORTED = gauge("powerwall_vitals_supported", "1 when the firmware serves /api/devices/vitals.")


class VitalsSource(Source):
    name = "vitals"
    ALLOWED = (Allowed("GET", VITALS.path),)

    def requests(self, view: RequestView) -> Sequence[Request]:
        return (VITALS,)

    def collect(self, request: Request, answer: Fetched, out: Output) -> None:
        try:
            devices = decode_vitals(answer.body)
        except VitalsDecodeError as exc:
            raise FetchError(
                "decode", f"{request.label}: protobuf answer did not decode: {exc}", answer.status
            ) from None
        out.ms.add(VITALS_SUPPORTED, 1)
        # The whole device bus, the Powerwall+ PV inverter included: ranked first (registry).
        report = out.report(BUS, PV)
        flatten_devices(devices, report.ms, request.label, bound=report.budget)

    def not_supported(self, request: Request, out: Output) -> None:
        out.ms.add(VITALS_SUPPORTED, 0)

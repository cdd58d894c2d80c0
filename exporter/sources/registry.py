"""The one place sources are registered, and the allow-list they add up to.

Adding a source: add its folder under ``exporter/sources/`` and its class here. The allow-list is
assembled from the sources' own declarations plus the customer login, frozen at import, and pinned
by a test so that any new path shows up in review.
"""

from __future__ import annotations

from exporter.config import Config, ConfigError, ConfigErrors, GatewayConfig
from exporter.gateway.allowlist import LOGIN, AllowList
from exporter.gateway.request import Request
from exporter.sources.base import Source
from exporter.sources.json_api import endpoints as json_api
from exporter.sources.json_api.source import JsonApiSource
from exporter.sources.solar_powerwall.source import SOLAR_POWERWALL, SolarPowerwallSource
from exporter.sources.tedapi.source import TedapiSource
from exporter.sources.vitals.source import VITALS, VitalsSource

SOURCES: tuple[type[Source], ...] = (JsonApiSource, VitalsSource, SolarPowerwallSource, TedapiSource)

# The one precedence, applied after every answer of a scrape (whatever order sources run in).
# Site-level shapes: the JSON API's own answers, else TEDAPI's stand-ins (a Powerwall 3 answers 404).
SITE_PRECEDENCE: tuple[str, ...] = (JsonApiSource.name, TedapiSource.name)
# Devices: vitals (firmware < 23.44) speaks for the device bus and the PV inverter, then TEDAPI's
# device controller and components, then /api/solar_powerwall (exporter.devices.reports).
DEVICE_PRECEDENCE: tuple[str, ...] = (VitalsSource.name, TedapiSource.name, SolarPowerwallSource.name)
# A source asked only while the one it repeats is known not to be served (it would only repeat it).
ASKED_ONLY_WITHOUT: dict[str, str] = {SolarPowerwallSource.name: VitalsSource.name}

ALLOW_LIST = AllowList([LOGIN, *(a for s in SOURCES for a in s.ALLOWED)])

# Every fixed request any source may make in a scrape (for tests, docs and the benchmark); TEDAPI's
# bodies depend on the gateway's DIN and are made at run time.
ALL_REQUESTS: tuple[Request, ...] = (*json_api.REQUESTS, VITALS, SOLAR_POWERWALL)


def source_of(request: Request) -> type[Source]:
    """The source class that declares ``request`` (for tests and tools that replay one answer)."""
    for cls in SOURCES:
        if any(a.method == request.method and a.path == request.path for a in cls.ALLOWED):
            return cls
    raise KeyError(f"no source declares {request.method} {request.path}")


def check_gateway(cfg: GatewayConfig, key: str) -> list[ConfigError]:
    """Every enabled source's objections to one gateway's settings (see :meth:`Source.check`): the
    config package checks syntax only; what a file holds is the source's business. Pass it as
    ``load_config(path, check=check_gateway)`` to have them reported with the syntax problems."""
    return [problem for cls in SOURCES if cls.enabled(cfg) for problem in cls.check(cfg, key)]


def check_config(config: Config) -> Config:
    """``config`` when every source accepts every gateway's settings, else :class:`ConfigErrors`."""
    found = [p for i, g in enumerate(config.gateways) for p in check_gateway(g, f"gateways[{i}]")]
    if found:
        raise ConfigErrors(found)
    return config


def sources_for(cfg: GatewayConfig) -> list[Source]:
    """A fresh instance of every source this gateway's config enables (sources keep per-gateway memory)."""
    return [cls(cfg) for cls in SOURCES if cls.enabled(cfg)]


READ_PATHS: frozenset[str] = frozenset(p for m, p in ALLOW_LIST.requests if m == "GET")

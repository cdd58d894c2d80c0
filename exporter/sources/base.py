"""What a data source is: the requests it needs, and how it turns their answers into metrics.

A source declares its requests for this scrape (with their cadence and whether they are optional),
decodes each answer and maps the decoded data into the metric model. The collector loops over a
gateway's sources and treats every request the same way: success, duration and errors are
reported per request label, a request that fails costs only its own series, and a source that fails
never hides another's. Adding a source = adding its folder and registering it in
:mod:`exporter.sources.registry`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from exporter.config import ConfigError, GatewayConfig
from exporter.devices.reports import DeviceReport
from exporter.gateway.allowlist import Allowed
from exporter.gateway.auth import Auth
from exporter.gateway.outcomes import Fetched
from exporter.gateway.request import Request
from exporter.metrics.metricset import MetricSet
from exporter.site.shapes import Shape


@dataclass(slots=True)
class Output:
    """Where a source writes what one answer yields. Each answer gets a fresh ``Output``, merged only
    when the whole answer decoded and mapped (all or nothing per request).

    * ``ms``: series of this answer that no other source could also give;
    * ``site``: the site-level shapes this answer offers (:class:`~exporter.site.shapes.Shape`); the
      site merge picks, per shape, the offer of the source ranked first, and the accounting reads
      the chosen ones. ``site_mapped``: the source mapped them into ``ms`` itself;
    * ``reports``: its devices, flattened, each report saying what part of the site it covers; the
      device merge keeps those no higher-ranked source covered (:mod:`exporter.devices.reports`);
    * ``decoded``: what the source keeps for its own :meth:`Source.finish` (no other source sees it).
    """

    ms: MetricSet
    decoded: dict[str, Any] = field(default_factory=dict)
    site: dict[Shape, Any] = field(default_factory=dict)
    site_mapped: bool = False
    reports: list[DeviceReport] = field(default_factory=list)

    def report(self, *covers: str) -> DeviceReport:
        """A new device report of this answer covering ``covers``: flatten its devices into its
        ``ms`` with its ``budget`` as the bound."""
        made = DeviceReport(frozenset(covers), MetricSet(base_labels=self.ms.base_labels))
        self.reports.append(made)
        return made


class RequestView(Protocol):
    """What a source may ask the transport when choosing its requests."""

    def not_supported(self, request: Request) -> bool: ...


class Source:
    """Base class of every data source (see the module docstring)."""

    name: ClassVar[str]
    # Every (method, path) this source may ever send, for the frozen allow-list.
    ALLOWED: ClassVar[tuple[Allowed, ...]] = ()

    def __init__(self, cfg: GatewayConfig) -> None:
        self.cfg = cfg

    @classmethod
    def enabled(cls, cfg: GatewayConfig) -> bool:
        """Whether this gateway's config asks for this source."""
        return True

    @classmethod
    def check(cls, cfg: GatewayConfig, key: str) -> list[ConfigError]:
        """What this source finds wrong with a gateway's config beyond its syntax (files it will read,
        keys it will sign with), each naming its key under ``key`` (``gateways[0]``). Called when a
        config is loaded for use: at start-up, by ``--config.check`` and on reload. Default: nothing."""
        return []

    def auths(self) -> Sequence[tuple[Auth, int | None]]:
        """Auth domains of this source's own and their connection bounds, registered with the
        gateway's transport when the source is created; none: the source uses the customer session."""
        return ()

    def health(self, ms: MetricSet) -> None:
        """The exporter's own series about this source's paths (not readings of the gateway): added after
        the counter guard, whose dips and resets are about the gateway's counters only. Default: none."""
        return None

    def requests(self, view: RequestView) -> Sequence[Request]:
        """The requests of this scrape, in order of importance."""
        raise NotImplementedError

    def followups(self, request: Request, answer: Fetched) -> Sequence[Request]:
        """Requests that ``answer`` makes possible in the same scrape, started as soon as it arrives.

        TEDAPI cannot address a message before it knows the gateway's DIN, nor a Powerwall 3 of
        several before config.json lists them. Called from a worker thread; an exception costs the
        follow-ups only. An answer that does not decode makes none: return nothing or raise its
        :class:`FetchError` (logged at debug only); :meth:`collect` of the same answer reports and
        counts that failure, once per answer. Default: none.
        """
        return ()

    def collect(self, request: Request, answer: Fetched, out: Output) -> None:
        """Decode one answer and map it into ``out``; any exception fails this request only ("decode").

        Called once per answer, not once per scrape: every scrape handed the same answer shares what
        this wrote into ``out`` (:mod:`exporter.sources.peranswer`), so ``out`` must depend on the
        answer alone (and on what earlier answers taught the source, like a DIN), and nobody may
        change its objects afterwards.
        """
        raise NotImplementedError

    def not_supported(self, request: Request, out: Output) -> None:
        """An optional request this firmware lacks (not a failure): add what that says, if anything."""

    def finish(self, decoded: dict[str, Any], out: Output) -> None:
        """After every request of the scrape: what combines this source's answers (``decoded``: what
        its own answers kept in ``Output.decoded``); site shapes and device reports go into ``out``
        like an answer's."""

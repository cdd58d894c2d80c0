"""How many devices one gateway may export in one scrape, and what becomes of the others.

Why: which devices exist is the gateway's to say, and its answers are hostile input. A components
answer listing 20,000 battery packs was exported whole: 60,000 pod series, a 15 MB ``/metrics``
and 300 MiB of peak memory, with nothing counted. Every per-device source (vitals,
``/api/solar_powerwall``, the TEDAPI controller and components answers) hands its records to
:func:`exporter.devices.flatten.flatten_devices`, which asks the answer's :class:`DeviceBudget`
before a record becomes series; so the bound is applied in one place, for every source.

Limits, per answer and again per gateway and scrape over all its answers together:

* :data:`MAX_DEVICES_PER_FAMILY` devices of one family (the ``device`` label: ``TEPOD``, ``HVP`` ...).
  The largest real sites have 12 Powerwall 2 (12 each of ``TETHC``, ``TEPINV``, ``TEPOD``) or four
  Powerwall 3 with three expansions each (16 ``HVP`` packs): 64 leaves four times that headroom.
* :data:`MAX_DEVICES` devices in all. Such a site has about 50 (the three records per Powerwall 2,
  solar inverters and their strings, synchrometer, Neurio meters, the gateway): 256 is five times that.

Two steps, because an answer is decoded and mapped once and shared by every scrape handed it
(:mod:`exporter.sources.peranswer`), so what it exports may depend on that answer alone:

1. per answer, while it is flattened: its records in payload order, the first ones within the
   limits kept (a 20,000-pack answer never becomes 20,000 devices' series);
2. per gateway and scrape (:func:`bound_gateway`, by the collector once every answer is merged):
   the answers' kept devices in the order their requests started (the JSON sources, then TEDAPI's
   components answers in config.json's block order, then the controller's, merged last), the first
   ones within the limits kept and the series of the others removed.

So the same answers keep the same devices on every scrape, the first ones listed. A device two
answers report (a Powerwall 3 leader is the controller's gateway record and its components answer's
unit record) counts once. With the limits full a site's worst case stays far below 2 MB of
``/metrics`` (the 20,000-pack answer gives 0.12 MB).

What is dropped, in either step, is counted in ``powerwall_devices_dropped_total{reason}``
(``family_limit``: its family was full; ``total_limit``: the gateway was) for every scrape it is
left out of; every gateway exposes it from 0 on so ``increase()`` sees the first drop. It is logged
once per episode: a warning on the first scrape that drops, naming the answer and the first device
dropped, and an info line on the first scrape that fits again, not a line per scrape.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable

from exporter.devices.model import Device
from exporter.metrics.metricset import MetricSet, counter

log = logging.getLogger(__name__)

MAX_DEVICES_PER_FAMILY = 64
"""Most devices of one family (``device`` label) a gateway exports per scrape (module docstring)."""

MAX_DEVICES = 256
"""Most devices a gateway exports per scrape, all families together (module docstring)."""

REASONS = ("family_limit", "total_limit")

DEVICES_DROPPED = counter(
    "powerwall_devices_dropped_total",
    "Devices the gateway reported but the exporter left out, by reason: family_limit (more than "
    f"{MAX_DEVICES_PER_FAMILY} of one family in a scrape), total_limit (more than {MAX_DEVICES} in all).",
)


Identity = tuple[str, str, str, str]
"""A kept device: (family, DIN or serial: what makes it one device, serial, part number)."""


class DeviceBudget:
    """The devices one answer (or one scrape of a gateway) may still export (module docstring).

    One per device report (``DeviceReport.budget``), shared by that report's ``flatten_devices``
    calls; the default of ``flatten_devices`` is a budget of the call alone. Remembers what it kept, in order,
    for the gateway's step (:func:`bound_gateway`). Not thread-safe: one answer is mapped by one
    thread, and read-only once mapped.
    """

    __slots__ = ("_admitted", "_families", "dropped", "example", "kept", "max_devices", "max_per_family")

    def __init__(self, max_per_family: int = MAX_DEVICES_PER_FAMILY, max_devices: int = MAX_DEVICES) -> None:
        self.max_per_family = max_per_family
        self.max_devices = max_devices
        self._admitted: set[tuple[str, str]] = set()
        self._families: Counter[str] = Counter()
        self.kept: list[tuple[Identity, str]] = []
        """The devices admitted, each once, in order, with the answer (request label) they came from."""
        self.dropped: Counter[str] = Counter()
        """Devices left out, by reason."""
        self.example = ""
        """The first device left out, and the answer it came from (for the log line)."""

    def admit(self, device: Device, endpoint: str) -> bool:
        """True if ``device`` (from the answer to ``endpoint``) may be exported; else counted and False."""
        ident = (device.family, device.din or device.serial, device.serial, device.part_number)
        return self._admit(ident, endpoint)

    def _admit(self, ident: Identity, endpoint: str) -> bool:
        family, key = ident[0], ident[1]
        if (family, key) in self._admitted:
            return True
        if self._families[family] >= self.max_per_family:
            reason = "family_limit"
        elif len(self._admitted) >= self.max_devices:
            reason = "total_limit"
        else:
            self._admitted.add((family, key))
            self._families[family] += 1
            self.kept.append((ident, endpoint))
            return True
        self._drop(reason, 1, f"{family[:40]!r} serial {ident[2][:40]!r} from {endpoint}")
        return False

    def _drop(self, reason: str, n: int, example: str) -> None:
        # Gateway text in a log line: quoted and cut (above), whatever it holds.
        if not self.dropped and example:
            self.example = example
        self.dropped[reason] += n


def bound_gateway(answers: Iterable[DeviceBudget], ms: MetricSet) -> DeviceBudget:
    """The gateway's step (module docstring): admit the answers' kept devices in order, remove the
    series of those beyond the limits from ``ms``, and return the scrape's budget (every drop of the
    scrape, the answers' own included)."""
    scrape = DeviceBudget()
    cut: set[tuple[str, str, str]] = set()
    for answer in answers:
        for reason, n in sorted(answer.dropped.items()):
            scrape._drop(reason, n, answer.example)
        for ident, endpoint in answer.kept:
            if not scrape._admit(ident, endpoint):
                cut.add((ident[0], ident[2], ident[3]))
    if cut:
        ms.remove_samples(lambda labels: (labels.get("device"), labels.get("serial"), labels.get("part_number")) in cut)
    return scrape


class DeviceDrops:
    """One gateway's cumulative drop counts and whether its last scrape dropped (for the log)."""

    def __init__(self, gateway: str) -> None:
        self.gateway = gateway
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._dropping = False

    def record(self, budget: DeviceBudget, ms: MetricSet) -> None:
        """Add a finished scrape's drops, log a change of episode, and expose the counter in ``ms``."""
        dropped = budget.dropped
        with self._lock:
            self._counts.update(dropped)
            started, ended = bool(dropped) and not self._dropping, self._dropping and not dropped
            self._dropping = bool(dropped)
            counts = {reason: self._counts[reason] for reason in REASONS}
        if started:
            log.warning(
                "gateway %s: more devices than the exporter exports (at most %d per family, %d in all); "
                "%s left out, the first being %s; counted in %s, logged again only after a scrape that fits",
                self.gateway,
                budget.max_per_family,
                budget.max_devices,
                ", ".join(f"{n} ({reason})" for reason, n in sorted(dropped.items())),
                budget.example,
                DEVICES_DROPPED.name,
            )
        elif ended:
            log.info("gateway %s: every device reported is exported again", self.gateway)
        for reason, n in counts.items():
            ms.add(DEVICES_DROPPED, n, {"reason": reason})

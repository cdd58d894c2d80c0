"""What the simulated site is: its parameters, the preset sites, and what follows from them alone.

Why apart from the time evolution (:mod:`exporter.simulator.model`): the knobs a test turns (how many
Powerwalls, which generation and firmware, the sky, the outages) and the facts that follow from them
without any simulation (which API the firmware speaks, the gateway's DIN) are read by every payload
builder, and change for other reasons than the physics of sun, load and battery.

Conventions follow the gateway: power W, energies Wh, state of energy on the raw gateway scale (which
includes the hidden 5 %).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from exporter.simulator.hardware import PW3_PART_NUMBER, serial

SKIES = ("variable", "sunny", "cloudy")
GENERATIONS = ("pw2", "pw3")
TEDAPI_FIRMWARE = "23.44"  # first firmware without /api/devices/vitals
GZIP_FIRMWARE = "25.42.2"  # first firmware gzipping every TEDAPI answer
V1R_PW2_FIRMWARE = "26"  # a Powerwall 2 / Gateway answers /tedapi/v1r from firmware 26.x (a Powerwall 3: always)

_Site = TypeVar("_Site", bound="SiteProfile")


def firmware_at_least(version: str, minimum: str) -> bool:
    """``"25.10.1 1a2b3c4d" >= "23.44"``, comparing the dotted numbers before the git hash (and
    before a build suffix: ``"24.12.6-PW3-AFCI 008bf6ff"`` is 24.12.6)."""

    def nums(v: str) -> tuple[int, ...]:
        head = v.strip().split(" ")[0].split("-")[0]
        return tuple(int(x) if x.isdigit() else 0 for x in head.split("."))

    return nums(version) >= nums(minimum)


@dataclass
class SiteProfile:
    """The parameters of a simulated site (the fields) and the facts that follow from them.

    :class:`~exporter.simulator.model.SiteModel` is the profile set in motion; use that."""

    seed: int = 1
    powerwalls: int = 2
    solar_powerwall: bool = True
    time_scale: float = 1.0
    clock: Callable[[], float] = time.time
    start_time: float | None = None  # simulated Unix time at creation; default: clock()
    random_outages: bool = False
    solar_peak_w: float = 7680.0  # 0 = no solar at all
    backup_reserve_percent: float = 24.0  # raw scale (app 20 %)
    initial_soe_percent: float = 55.0  # raw scale
    utc_offset_hours: float = -8.0
    timezone: str = "America/Los_Angeles"
    site_name: str = "Simulated Home"
    real_mode: str = "self_consumption"
    firmware_version: str = "22.26.2 8cd8cac4"
    nominal_voltage: float = 240.0
    nominal_frequency: float = 60.0
    sky: str = "variable"  # "sunny": no clouds; "cloudy": heavy cloud all day; "variable": a random walk
    # Grid outages at fixed simulated times: (start, end) Unix seconds, islanded for start <= t < end.
    outage_windows: tuple[tuple[float, float], ...] = ()
    # "pw2": Powerwall 2/+ behind a Gateway 2 (the JSON API; vitals until firmware 23.44).
    # "pw3": Powerwall 3 units (the first is the leader and the gateway), most of the JSON API gone.
    generation: str = "pw2"
    # pw3 only: DC expansion packs per Powerwall 3, leader first (missing entries = 0).
    expansions: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        """Refuse a site that cannot exist, then name its parts (serials are a function of the seed)."""
        if self.powerwalls < 0:
            raise ValueError("powerwalls must be >= 0")
        if self.time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        if self.sky not in SKIES:
            raise ValueError(f"sky must be one of {', '.join(SKIES)}")
        if self.generation not in GENERATIONS:
            raise ValueError(f"generation must be one of {', '.join(GENERATIONS)}")
        if self.generation != "pw3" and any(self.expansions):
            raise ValueError("expansions are Powerwall 3 only")
        if any(n < 0 for n in self.expansions) or len(self.expansions) > max(self.powerwalls, 0):
            raise ValueError("expansions: one count >= 0 per Powerwall 3 at most")
        self.gateway_serial = serial(self.seed, "gateway", "TG1", 11)
        self.tesync_serial = serial(self.seed, "tesync", "TG1", 11)
        self.pvac_serial = serial(self.seed, "pvac", "TG1", 11)
        self.neurio_serial = serial(self.seed, "neurio", "OBB", 10)
        self.git_hash = hashlib.sha1(f"fw/{self.firmware_version}".encode(), usedforsecurity=False).hexdigest()

    # ---------------------------------------------------------------- presets
    @classmethod
    def pw2_tedapi(cls: type[_Site], **kwargs: Any) -> _Site:
        """A Powerwall 2 site on firmware 25.10: every JSON endpoint but vitals, plus TEDAPI."""
        kwargs.setdefault("firmware_version", "25.10.1 9c1a7e20")
        return cls(**kwargs)

    @classmethod
    def pw3(cls: type[_Site], **kwargs: Any) -> _Site:
        """A Powerwall 3 site on firmware 26.18: leader + follower, two expansion packs on the leader,
        solar on the Powerwall 3 inverters, JSON API reduced to three endpoints, gzipped TEDAPI."""
        kwargs.setdefault("firmware_version", "26.18.3-PW3-AFCI 1a2b3c4d")  # a real PW3's build suffix
        kwargs.setdefault("powerwalls", 2)
        kwargs.setdefault("expansions", (2, 0))
        kwargs.setdefault("solar_powerwall", False)
        kwargs.setdefault("solar_peak_w", 9600.0)
        return cls(generation="pw3", **kwargs)

    # ---------------------------------------------------------------- facts
    @property
    def gateway_part_number(self) -> str:
        return PW3_PART_NUMBER if self.generation == "pw3" else "1232100-00-E"

    @property
    def gateway_din(self) -> str:
        """The DIN ``/tedapi/din`` gives (and ``/api/status`` says on a Gateway 2)."""
        return f"{self.gateway_part_number}--{self.gateway_serial}"

    @property
    def tedapi_gzip(self) -> bool:
        return firmware_at_least(self.firmware_version, GZIP_FIRMWARE)

    @property
    def tedapi_v1r(self) -> bool:
        """Whether the gateway answers signed TEDAPI on its home-LAN address (``/tedapi/v1r``,
        shared/docs/tedapi.md §6): every Powerwall 3, a Powerwall 2 / Gateway on firmware 26.x."""
        return self.generation == "pw3" or firmware_at_least(self.firmware_version, V1R_PW2_FIRMWARE)

    @property
    def vitals_removed(self) -> bool:
        return self.generation == "pw3" or firmware_at_least(self.firmware_version, TEDAPI_FIRMWARE)

    def local_hour(self, t: float) -> float:
        """Hour of the day at simulated Unix time ``t``, at the fixed ``utc_offset_hours`` (no DST, so
        results do not depend on the machine's time zone database)."""
        return ((t + self.utc_offset_hours * 3600.0) % 86400.0) / 3600.0

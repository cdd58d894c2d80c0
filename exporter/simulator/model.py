"""A small, deterministic, time-varying model of a Powerwall site.

Why our own model instead of replaying captures: dashboards, alert rules and counter handling can
only be exercised against data that *moves* the way a real site does (sun up and down, a battery that
fills and empties, lifetime counters that only grow, the odd grid outage) and tests need that to be
reproducible. The model integrates on a fixed grid of simulated time (``STEP_SECONDS``) with one random
draw sequence per seed, so the state at simulated time ``t`` does not depend on how often or when it
was queried: same seed + same clock readings = same answers.

This module is the model's clock and state: it creates the site's units and counters, steps them
along the grid and answers snapshots. What the site is lives in :mod:`exporter.simulator.profile`
(the parameters and presets), its units in :mod:`exporter.simulator.hardware`, a step's powers in
:mod:`exporter.simulator.powers`, their integration (and the true energy flows, the ground truth for
the exporter's energy accounting, ``Snapshot.true_flows``) in :mod:`exporter.simulator.energy`, and
what a gateway reads off the site in :mod:`exporter.simulator.readout`.

Simulated time: ``start_time + (clock() - clock_at_creation) * time_scale``. Time of day for the sun
and the load profile uses the fixed ``utc_offset_hours``. An accelerated day is a ``time_scale`` (or an
injected ``clock``) plus ``sky`` ("variable", "sunny", "cloudy") and ``outage_windows`` (simulated Unix
time spans without grid).
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from exporter.simulator.energy import Counters, Ledger
from exporter.simulator.hardware import (
    PACK_WH,
    POD_PART_NUMBERS,
    POWERWALL_PART_NUMBERS,
    PW3_PART_NUMBER,
    Block,
    Pack,
    pw3_packs,
    serial,
)
from exporter.simulator.powers import STEP_SECONDS, Powers, Surroundings, step_powers
from exporter.simulator.profile import SiteProfile
from exporter.simulator.readout import read_site
from exporter.simulator.snapshot import Snapshot

COMMISSIONED_DAYS_BEFORE_START = 400.25  # the batteries went in a while before the simulation starts

__all__ = ["STEP_SECONDS", "SiteModel"]


@dataclass
class SiteModel(SiteProfile):
    """A site profile set in motion: parameters (see :class:`SiteProfile`) and state. Thread-safe;
    see the module docstring."""

    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._rng = random.Random(self.seed)
        self._clock0 = self.clock()
        self._sim0 = self.start_time if self.start_time is not None else self._clock0
        # Gateway booted a while before the simulation starts (uptime should not start at 0).
        self._boot_time = self._sim0 - 3600.0 * (20 + self._rng.random() * 100)
        self.packs: tuple[tuple[Pack, ...], ...] = ()  # pw3: the packs of each Powerwall 3
        blocks = self._install_powerwalls()
        counters = Counters(
            site_imported=3_000_000.0 + 1_000_000.0 * self._rng.random(),
            site_exported=2_000_000.0 + 1_000_000.0 * self._rng.random(),
            load_imported=6_000_000.0 + 1_000_000.0 * self._rng.random(),
            solar_exported=5_000_000.0 + 1_000_000.0 * self._rng.random(),
            solar_imported=1_000.0 * self._rng.random(),
        )
        counters.battery_imported = sum(b.energy_charged_wh for b in blocks)
        counters.battery_exported = sum(b.energy_discharged_wh for b in blocks)
        self._energy = Ledger(counters, blocks, solar_lifetime=counters.solar_exported)
        self._surroundings = Surroundings(self._rng)
        self._forced_outage = False
        self._string_connected = tuple(self._rng.random() > 0.1 for _ in range(4)) if self.solar_powerwall else ()
        # The grid: state at step index self._step covers [t_step, t_step + STEP).
        self._step = math.floor(self._sim0 / STEP_SECONDS)
        self._powers = self._compute_powers(self._step * STEP_SECONDS)

    def _install_powerwalls(self) -> list[Block]:
        """The Powerwalls (and on a Powerwall 3 site, ``packs``), drawing from the random sequence in
        a fixed order: each unit's capacity (a little degradation) and lifetime energies."""
        blocks: list[Block] = []
        pw3 = self.generation == "pw3"
        for i in range(self.powerwalls):
            n_packs = 1 + (self.expansions[i] if pw3 and i < len(self.expansions) else 0)
            full = PACK_WH * n_packs * (0.92 + 0.1 * self._rng.random())  # a little degradation per unit
            unit_serial = serial(self.seed, f"pw{i}", "TG1", 11)
            if pw3:
                unit_serial = self.gateway_serial if i == 0 else unit_serial  # the leader is the gateway
                self.packs += (pw3_packs(self.seed, i, n_packs),)
            blocks.append(
                Block(
                    part_number=PW3_PART_NUMBER if pw3 else POWERWALL_PART_NUMBERS[i % len(POWERWALL_PART_NUMBERS)],
                    serial=unit_serial,
                    pod_part_number=POD_PART_NUMBERS[i % len(POD_PART_NUMBERS)],
                    pod_serial=serial(self.seed, f"pod{i}", "TG1", 11),
                    pinv_serial=serial(self.seed, f"pinv{i}", "TG1", 11),
                    full_pack_wh=full,
                    remaining_wh=full * self.initial_soe_percent / 100.0,
                    energy_charged_wh=2_000_000.0 + 1_000_000.0 * self._rng.random(),
                    energy_discharged_wh=1_800_000.0 + 900_000.0 * self._rng.random(),
                    ambient_c=18.0 + 6.0 * self._rng.random(),
                )
            )
        return blocks

    # ---------------------------------------------------------------- the units
    @property
    def battery_dins(self) -> tuple[str, ...]:
        return tuple(f"{b.part_number}--{b.serial}" for b in self._energy.blocks)

    @property
    def nominal_full_pack_wh(self) -> float:
        return sum(b.full_pack_wh for b in self._energy.blocks)

    @property
    def max_power_w(self) -> float:
        return (11500.0 if self.generation == "pw3" else 5000.0) * len(self._energy.blocks)

    @property
    def battery_commission_time(self) -> float:
        """When the batteries were commissioned (Unix seconds, whole): a fixed time before the start."""
        return float(math.floor(self._sim0 - COMMISSIONED_DAYS_BEFORE_START * 86400.0))

    @property
    def battery_commission_date(self) -> str:
        """:attr:`battery_commission_time` as a real Powerwall 3's config.json writes it: ISO 8601
        with the site's UTC offset, whole seconds (``"2026-04-22T12:07:43+10:00"``)."""
        tz = timezone(timedelta(hours=self.utc_offset_hours))
        return datetime.fromtimestamp(self.battery_commission_time, tz).isoformat(timespec="seconds")

    # ---------------------------------------------------------------- time
    def sim_time(self) -> float:
        """Current simulated Unix time."""
        return self._sim0 + (self.clock() - self._clock0) * self.time_scale

    def set_forced_outage(self, on: bool) -> None:
        """Island (or reconnect) the site from now on: history up to now is integrated first."""
        with self._lock:
            self._advance(self.sim_time())
            if on != self._forced_outage:
                self._forced_outage = on
                self._powers = self._compute_powers(self._step * STEP_SECONDS)

    def snapshot(self, at: float | None = None) -> Snapshot:
        """State at simulated time ``at`` (default: now). Time only moves forward: an earlier ``at``
        than already integrated returns the latest state."""
        with self._lock:
            t = self.sim_time() if at is None else at
            self._advance(t)
            return self._make_snapshot(max(t, self._step * STEP_SECONDS))

    def _advance(self, t: float) -> None:
        target = math.floor(t / STEP_SECONDS)
        while self._step < target:
            self._energy.integrate(self._powers, STEP_SECONDS)
            self._step += 1
            self._powers = self._compute_powers(self._step * STEP_SECONDS)

    def _compute_powers(self, t: float) -> Powers:
        return step_powers(
            self,
            self._surroundings,
            t,
            forced_outage=self._forced_outage,
            strings_connected=self._string_connected,
            stored_wh=sum(b.remaining_wh for b in self._energy.blocks),
            full_wh=self.nominal_full_pack_wh,
            max_power_w=self.max_power_w,
        )

    def _make_snapshot(self, t: float) -> Snapshot:
        # Energies at t (inside the current step) without committing: integrate a copy.
        now = self._energy.copy()
        now.integrate(self._powers, t - self._step * STEP_SECONDS)
        return read_site(
            self, self._powers, now, t, boot_time=self._boot_time, strings_connected=self._string_connected
        )

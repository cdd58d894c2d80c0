"""A small, deterministic, time-varying model of a Powerwall site.

Why our own model instead of replaying captures: dashboards, alert rules and counter handling can
only be exercised against data that *moves* the way a real site does (sun up and down, a battery that
fills and empties, lifetime counters that only grow, the odd grid outage) and tests need that to be
reproducible. The model integrates on a fixed grid of simulated time (``STEP_SECONDS``) with one random
draw sequence per seed, so the state at simulated time ``t`` does not depend on how often or when it
was queried: same seed + same clock readings = same answers.

Simulated time: ``start_time + (clock() - clock_at_creation) * time_scale``. Time of day for the sun
and the load profile uses the fixed ``utc_offset_hours`` (no DST, so results do not depend on the
machine's time zone database).

Ground truth for the exporter's energy accounting: every integration step also splits its (constant)
powers into the seven energy flows (solar/battery/grid → home/battery/grid, joules, see
``Snapshot.true_flows``), so a test can compare the exporter's counter-based attribution with what the
model really did. An accelerated day is a ``time_scale`` (or an injected ``clock``) plus ``sky``
("variable", "sunny", "cloudy") and ``outage_windows`` (simulated Unix time spans without grid).

Conventions follow the gateway: power W (site + import, battery + discharge, solar + production,
load >= 0), energies Wh, state of energy on the raw gateway scale (which includes the hidden 5 %).
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from exporter.simulator.hardware import (
    PACK_WH,
    POD_PART_NUMBERS,
    POWERWALL_PART_NUMBERS,
    PW3_PART_NUMBER,
    Block,
    Pack,
    block_shares,
    pw3_packs,
    serial,
)
from exporter.simulator.profile import SiteProfile
from exporter.simulator.snapshot import BlockState, MeterReading, Snapshot, StringState

STEP_SECONDS = 10.0
CLOUDY_FACTOR = 0.35  # the cloudiness floor of the variable sky, held all day
FLOW_PAIRS = (
    ("solar", "home"),
    ("battery", "home"),
    ("grid", "home"),
    ("solar", "battery"),
    ("grid", "battery"),
    ("solar", "grid"),
    ("battery", "grid"),
)
COMMISSIONED_DAYS_BEFORE_START = 400.25  # the batteries went in a while before the simulation starts

__all__ = ["STEP_SECONDS", "SiteModel"]


@dataclass
class _Counters:
    site_imported: float = 0.0
    site_exported: float = 0.0
    battery_imported: float = 0.0
    battery_exported: float = 0.0
    load_imported: float = 0.0
    solar_exported: float = 0.0
    solar_imported: float = 0.0


@dataclass
class _Powers:
    """Powers held constant over one integration step."""

    solar: float = 0.0
    load: float = 0.0
    battery: float = 0.0
    site: float = 0.0
    islanded: bool = False
    voltage_l1: float = 120.5
    voltage_l2: float = 120.5
    frequency: float = 60.0
    site_q: float = 0.0
    load_q: float = 0.0
    battery_q: float = 0.0
    solar_q: float = 0.0
    string_split: tuple[float, ...] = ()


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
        self._blocks = self._install_powerwalls()
        self._counters = _Counters(
            site_imported=3_000_000.0 + 1_000_000.0 * self._rng.random(),
            site_exported=2_000_000.0 + 1_000_000.0 * self._rng.random(),
            load_imported=6_000_000.0 + 1_000_000.0 * self._rng.random(),
            solar_exported=5_000_000.0 + 1_000_000.0 * self._rng.random(),
            solar_imported=1_000.0 * self._rng.random(),
        )
        self._counters.battery_imported = sum(b.energy_charged_wh for b in self._blocks)
        self._counters.battery_exported = sum(b.energy_discharged_wh for b in self._blocks)
        self._solar_lifetime = self._counters.solar_exported
        self._flows: dict[tuple[str, str], float] = dict.fromkeys(FLOW_PAIRS, 0.0)
        self._cloud = 1.0
        self._load_noise = 0.0
        self._spike_left = 0.0
        self._outage_left = 0.0  # simulated seconds of random outage remaining
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
        return tuple(f"{b.part_number}--{b.serial}" for b in self._blocks)

    @property
    def nominal_full_pack_wh(self) -> float:
        return sum(b.full_pack_wh for b in self._blocks)

    @property
    def max_power_w(self) -> float:
        return (11500.0 if self.generation == "pw3" else 5000.0) * len(self._blocks)

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

    # ---------------------------------------------------------------- integration
    def _advance(self, t: float) -> None:
        target = math.floor(t / STEP_SECONDS)
        while self._step < target:
            self._integrate(self._powers, STEP_SECONDS)
            self._step += 1
            self._powers = self._compute_powers(self._step * STEP_SECONDS)

    def _integrate(self, p: _Powers, dt: float) -> None:
        """Apply powers ``p`` for ``dt`` seconds to the stored energy and the lifetime counters."""
        c = self._counters
        h = dt / 3600.0
        c.site_imported += max(p.site, 0.0) * h
        c.site_exported += max(-p.site, 0.0) * h
        c.battery_exported += max(p.battery, 0.0) * h
        c.battery_imported += max(-p.battery, 0.0) * h
        c.load_imported += p.load * h
        c.solar_exported += p.solar * h
        self._solar_lifetime += p.solar * h
        for pair, watts in _split_powers(p).items():
            self._flows[pair] += watts * dt
        if p.solar == 0.0:
            c.solar_imported += 2.0 * h  # inverter standby draw at night, as real sites show
        for b, share in zip(self._blocks, block_shares(self._blocks), strict=True):
            bp = p.battery * share
            if bp >= 0:
                b.energy_discharged_wh += bp * h
                b.remaining_wh = max(0.0, b.remaining_wh - bp * h)
            else:
                b.energy_charged_wh += -bp * h
                b.remaining_wh = min(b.full_pack_wh, b.remaining_wh + 0.95 * -bp * h)

    def _compute_powers(self, t: float) -> _Powers:
        """Powers for the step starting at ``t``. Draws from the RNG exactly the same way every step."""
        rng = self._rng
        hour = self.local_hour(t)
        # Weather: a slow random walk of cloudiness, plus per-step flicker.
        self._cloud = min(1.0, max(CLOUDY_FACTOR, self._cloud + rng.gauss(0.0, 0.02)))
        flicker = 1.0 + rng.gauss(0.0, 0.01)
        cloud = {"variable": self._cloud, "sunny": 1.0, "cloudy": CLOUDY_FACTOR}[self.sky]
        sun = math.sin(math.pi * (hour - 6.5) / 13.0) if 6.5 < hour < 19.5 else 0.0
        solar = 0.0
        if self.solar_peak_w > 0 and sun > 0:
            solar = self.solar_peak_w * 0.85 * (sun**1.4) * cloud * flicker
            solar = max(0.0, solar)
        # Load: base + morning and evening peaks + AR(1) noise + occasional appliance spikes.
        morning = 900.0 * math.exp(-(((hour - 7.5) / 1.0) ** 2))
        evening = 1600.0 * math.exp(-(((hour - 19.0) / 2.0) ** 2))
        self._load_noise = 0.9 * self._load_noise + rng.gauss(0.0, 40.0)
        if self._spike_left > 0:
            self._spike_left -= STEP_SECONDS
        elif rng.random() < 0.004:
            self._spike_left = rng.uniform(60.0, 900.0)  # kettle, oven, EV top-up
        spike = 2500.0 if self._spike_left > 0 else 0.0
        load = max(80.0, 350.0 + morning + evening + self._load_noise + spike)
        # Random outages (~ one per three simulated days, 5 to 60 minutes).
        outage_draw = rng.random()
        outage_len = rng.uniform(300.0, 3600.0)
        if self._outage_left > 0:
            self._outage_left -= STEP_SECONDS
        elif self.random_outages and outage_draw < STEP_SECONDS / (3 * 86400.0):
            self._outage_left = outage_len
        scheduled = any(start <= t < end for start, end in self.outage_windows)
        islanded = self._forced_outage or self._outage_left > 0 or scheduled
        v1 = self.nominal_voltage / 2 + rng.gauss(0.0, 0.6)
        v2 = self.nominal_voltage / 2 + rng.gauss(0.0, 0.6)
        freq = self.nominal_frequency + rng.gauss(0.0, 0.01)
        q_noise = [rng.gauss(0.0, 30.0) for _ in range(4)]
        split = tuple(max(0.0, rng.gauss(1.0, 0.03)) if on else 0.0 for on in self._string_connected)

        remaining = sum(b.remaining_wh for b in self._blocks)
        full = self.nominal_full_pack_wh
        reserve_wh = full * self.backup_reserve_percent / 100.0
        h = STEP_SECONDS / 3600.0
        max_w = self.max_power_w
        surplus = solar - load
        # The battery never tracks the load perfectly: a little grid exchange remains, as on real sites.
        tracking_error = rng.gauss(0.0, 15.0)
        if islanded:
            # No grid: the battery must balance the site; it may go below the reserve to empty.
            if surplus >= 0:
                room_w = max(0.0, (full - remaining) / 0.95 / h)
                charge = min(surplus, max_w, room_w)
                solar -= surplus - charge  # curtail what cannot be stored
                battery = -charge
            else:
                avail_w = max(0.0, remaining / h)
                discharge = min(-surplus, max_w, avail_w)
                load = solar + discharge  # shed what cannot be supplied
                battery = discharge
            site = 0.0
        else:
            if surplus >= 0:
                room_w = max(0.0, (full - remaining) / 0.95 / h)
                battery = -min(max(0.0, surplus + tracking_error), max_w, room_w)
            else:
                avail_w = max(0.0, (remaining - reserve_wh) / h)
                battery = min(max(0.0, -surplus + tracking_error), max_w, avail_w)
            site = load - solar - battery
        return _Powers(
            solar=solar,
            load=load,
            battery=battery,
            site=site,
            islanded=islanded,
            voltage_l1=v1,
            voltage_l2=v2,
            frequency=freq,
            site_q=q_noise[0] - 150.0,
            load_q=q_noise[1] - 80.0,
            battery_q=q_noise[2],
            solar_q=q_noise[3] + 20.0,
            string_split=split,
        )

    # ---------------------------------------------------------------- snapshot
    def _make_snapshot(self, t: float) -> Snapshot:
        p = self._powers
        # Energies at t (inside the current step) without committing: integrate a copy.
        frac = t - self._step * STEP_SECONDS
        saved_counters = _Counters(**vars(self._counters))
        saved_blocks = [Block(**vars(b)) for b in self._blocks]
        saved_lifetime = self._solar_lifetime
        saved_flows = dict(self._flows)
        self._integrate(p, frac)
        c = _Counters(**vars(self._counters))
        blocks_now = [Block(**vars(b)) for b in self._blocks]
        lifetime = self._solar_lifetime
        flows_now = self._flows
        self._counters, self._blocks, self._solar_lifetime = saved_counters, saved_blocks, saved_lifetime
        self._flows = saved_flows

        voltage = p.voltage_l1 + p.voltage_l2
        freq_grid = 0.0 if p.islanded else p.frequency

        def meter(power: float, q: float, exp: float, imp: float, f: float) -> MeterReading:
            return MeterReading(
                power_w=power,
                reactive_var=q,
                voltage_v=voltage,
                current_a=power / voltage if voltage else 0.0,
                frequency_hz=f,
                exported_wh=exp,
                imported_wh=imp,
            )

        shares = block_shares(self._blocks)
        blocks = tuple(
            BlockState(
                part_number=b.part_number,
                serial=b.serial,
                pod_part_number=b.pod_part_number,
                pod_serial=b.pod_serial,
                pinv_serial=b.pinv_serial,
                full_pack_wh=b.full_pack_wh,
                remaining_wh=b.remaining_wh,
                power_w=p.battery * s,
                reactive_var=p.battery_q * s,
                voltage_v=voltage + 3.0,
                frequency_hz=p.frequency,
                current_a=p.battery * s / (voltage + 3.0),
                energy_charged_wh=b.energy_charged_wh,
                energy_discharged_wh=b.energy_discharged_wh,
                ambient_c=b.ambient_c + 4.0 * abs(p.battery * s) / 5000.0,
                max_charge_w=5000.0 if b.remaining_wh < b.full_pack_wh * 0.999 else 0.0,
                max_discharge_w=5000.0 if b.remaining_wh > 0 else 0.0,
            )
            for b, s in zip(blocks_now, shares, strict=True)
        )
        strings: list[StringState] = []
        if self.solar_powerwall:
            weights = p.string_split
            wsum = sum(weights)
            for i, (name, on) in enumerate(zip("ABCD", self._string_connected, strict=True)):
                pw = p.solar / 0.97 * weights[i] / wsum if wsum > 0 and on else 0.0
                v = (280.0 + 15.0 * math.sqrt(pw / 2000.0)) if pw > 0 else (12.0 if on else 0.0)
                strings.append(StringState(name, on, v, pw / v if v > 0 else 0.0, pw))
        full = sum(b.full_pack_wh for b in blocks_now)
        remaining = sum(b.remaining_wh for b in blocks_now)
        return Snapshot(
            sim_time=t,
            uptime_seconds=t - self._boot_time,
            start_time=self._boot_time,
            islanded=p.islanded,
            grid_status="SystemIslandedActive" if p.islanded else "SystemGridConnected",
            soe_percent=100.0 * remaining / full if full > 0 else 0.0,
            backup_reserve_percent=self.backup_reserve_percent,
            site=meter(p.site, 0.0 if p.islanded else p.site_q, c.site_exported, c.site_imported, 0.0),
            battery=meter(p.battery, p.battery_q, c.battery_exported, c.battery_imported, p.frequency),
            load=meter(p.load, p.load_q, 0.0, c.load_imported, 0.0),
            solar=meter(p.solar, p.solar_q, c.solar_exported, c.solar_imported, 0.0),
            blocks=blocks,
            strings=tuple(strings),
            solar_lifetime_wh=lifetime,
            voltage_l1=p.voltage_l1,
            voltage_l2=p.voltage_l2,
            frequency_hz=freq_grid if not p.islanded else p.frequency,
            true_flows=flows_now,
        )


def _split_powers(p: _Powers) -> dict[tuple[str, str], float]:
    """Who feeds whom during one step (watts). Powers are constant inside a step, so each source has
    one direction and the split is exact: the home takes solar first, then battery, then grid; what
    the battery charges comes from leftover solar first, then the grid; the rest of solar and of the
    battery's discharge is exported. Written here in the power domain, independently of the
    exporter's counter-based attribution it is the ground truth for."""
    solar = max(p.solar, 0.0)
    discharge = max(p.battery, 0.0)
    charge = max(-p.battery, 0.0)
    home = max(p.load, 0.0)
    solar_home = min(solar, home)
    battery_home = min(discharge, home - solar_home)
    grid_home = home - solar_home - battery_home
    solar_battery = min(solar - solar_home, charge)
    grid_battery = charge - solar_battery
    # Whatever solar and battery did not deliver at home or into the battery left through the site meter.
    solar_grid = solar - solar_home - solar_battery
    battery_grid = discharge - battery_home
    return {
        ("solar", "home"): solar_home,
        ("battery", "home"): battery_home,
        ("grid", "home"): grid_home,
        ("solar", "battery"): solar_battery,
        ("grid", "battery"): grid_battery,
        ("solar", "grid"): solar_grid,
        ("battery", "grid"): battery_grid,
    }

"""What the gateway reads off the simulated site at one instant: the frozen :class:`Snapshot` built
from a step's powers and the energy ledger at that instant.

Why a module of its own: the model's state is powers and energies; a gateway shows meters (voltage,
current, frequency, reactive power), per-Powerwall readings, solar strings and a grid status. Turning
the one into the other is a job apart from evolving the state, and the payload builders
(:mod:`exporter.simulator.payloads`, :mod:`exporter.simulator.tedapi`) only ever see its result.
"""

from __future__ import annotations

import math

from exporter.simulator.energy import Ledger
from exporter.simulator.hardware import block_shares
from exporter.simulator.powers import Powers
from exporter.simulator.profile import SiteProfile
from exporter.simulator.snapshot import BlockState, MeterReading, Snapshot, StringState


def read_site(
    site: SiteProfile,
    p: Powers,
    ledger: Ledger,
    t: float,
    *,
    boot_time: float,
    strings_connected: tuple[bool, ...],
) -> Snapshot:
    """The snapshot at simulated time ``t``: ``p`` are the powers of the step ``t`` is in, ``ledger``
    the energies already integrated up to ``t``; ``boot_time`` when the gateway started."""
    c = ledger.counters
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

    shares = block_shares(ledger.blocks)
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
        for b, s in zip(ledger.blocks, shares, strict=True)
    )
    strings: list[StringState] = []
    if site.solar_powerwall:
        weights = p.string_split
        wsum = sum(weights)
        for i, (name, on) in enumerate(zip("ABCD", strings_connected, strict=True)):
            pw = p.solar / 0.97 * weights[i] / wsum if wsum > 0 and on else 0.0
            v = (280.0 + 15.0 * math.sqrt(pw / 2000.0)) if pw > 0 else (12.0 if on else 0.0)
            strings.append(StringState(name, on, v, pw / v if v > 0 else 0.0, pw))
    full = sum(b.full_pack_wh for b in ledger.blocks)
    remaining = sum(b.remaining_wh for b in ledger.blocks)
    return Snapshot(
        sim_time=t,
        uptime_seconds=t - boot_time,
        start_time=boot_time,
        islanded=p.islanded,
        grid_status="SystemIslandedActive" if p.islanded else "SystemGridConnected",
        soe_percent=100.0 * remaining / full if full > 0 else 0.0,
        backup_reserve_percent=site.backup_reserve_percent,
        site=meter(p.site, 0.0 if p.islanded else p.site_q, c.site_exported, c.site_imported, 0.0),
        battery=meter(p.battery, p.battery_q, c.battery_exported, c.battery_imported, p.frequency),
        load=meter(p.load, p.load_q, 0.0, c.load_imported, 0.0),
        solar=meter(p.solar, p.solar_q, c.solar_exported, c.solar_imported, 0.0),
        blocks=blocks,
        strings=tuple(strings),
        solar_lifetime_wh=ledger.solar_lifetime,
        voltage_l1=p.voltage_l1,
        voltage_l2=p.voltage_l2,
        frequency_hz=freq_grid if not p.islanded else p.frequency,
        true_flows=ledger.flows,
    )

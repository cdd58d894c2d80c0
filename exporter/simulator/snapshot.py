"""What the simulated site looks like at one instant: frozen readings the payload builders render."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class BlockState:
    """One Powerwall (battery block) at a moment."""

    part_number: str
    serial: str
    pod_part_number: str
    pod_serial: str
    pinv_serial: str
    full_pack_wh: float
    remaining_wh: float
    power_w: float
    reactive_var: float
    voltage_v: float
    frequency_hz: float
    current_a: float
    energy_charged_wh: float
    energy_discharged_wh: float
    ambient_c: float
    max_charge_w: float
    max_discharge_w: float


@dataclass(frozen=True, slots=True)
class StringState:
    name: str
    connected: bool
    voltage_v: float
    current_a: float
    power_w: float


@dataclass(frozen=True, slots=True)
class MeterReading:
    power_w: float
    reactive_var: float
    voltage_v: float
    current_a: float
    frequency_hz: float
    exported_wh: float
    imported_wh: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the endpoints need, at one simulated instant. Immutable, so handlers share it freely."""

    sim_time: float  # Unix seconds, simulated
    uptime_seconds: float
    start_time: float
    islanded: bool
    grid_status: str
    soe_percent: float  # raw gateway scale
    backup_reserve_percent: float  # raw scale
    site: MeterReading
    battery: MeterReading
    load: MeterReading
    solar: MeterReading
    blocks: tuple[BlockState, ...]
    strings: tuple[StringState, ...]
    solar_lifetime_wh: float
    voltage_l1: float
    voltage_l2: float
    frequency_hz: float
    # The model's own energy flows since creation, (source, sink) → joules; see the module docstring.
    true_flows: dict[tuple[str, str], float] = field(default_factory=dict)

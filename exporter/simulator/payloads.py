"""JSON bodies of the gateway endpoints, built from a model ``Snapshot``.

Field names and shapes follow the firmware 21.39 / 23.44 captures (see gateway-api.md section 3), so a
parser that works here works on a real gateway; values come from our own site model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from exporter.simulator.model import SiteModel
from exporter.simulator.snapshot import MeterReading, Snapshot

JSON = dict[str, Any]


def deep_merge(base: Any, extra: dict[str, Any]) -> Any:
    """``extra`` merged into ``base`` (the ``extra_json`` and ``tedapi_extra_json`` faults): nested
    dicts merge, other values replace."""
    if not isinstance(base, dict):
        return extra
    out = dict(base)
    for key, value in extra.items():
        out[key] = deep_merge(out.get(key), value) if isinstance(value, dict) else value
    return out


def rfc3339_ns(t: float, offset_hours: float) -> str:
    """Gateway-style timestamp with nanoseconds and a numeric offset: 2021-12-13T00:24:46.192599545-07:00."""
    tz = timezone(timedelta(hours=offset_hours))
    dt = datetime.fromtimestamp(int(t), tz)
    ns = round((t - int(t)) * 1e9) % 1_000_000_000
    off = dt.strftime("%z")
    return f"{dt.strftime('%Y-%m-%dT%H:%M:%S')}.{ns:09d}{off[:3]}:{off[3:]}"


def go_duration(seconds: float) -> str:
    """Go's time.Duration.String() for durations over a second, as in up_time_seconds: 55h46m11.021029341s."""
    total_ns = round(seconds * 1e9)
    h, rem = divmod(total_ns, 3600 * 10**9)
    m, rem = divmod(rem, 60 * 10**9)
    s, ns = divmod(rem, 10**9)
    frac = f".{ns:09d}".rstrip("0").rstrip(".")
    if h:
        return f"{h}h{m}m{s}{frac}s"
    if m:
        return f"{m}m{s}{frac}s"
    return f"{s}{frac}s"


def _meter(r: MeterReading, ts: str, aggregated: int | None) -> JSON:
    apparent = (r.power_w**2 + r.reactive_var**2) ** 0.5
    out: JSON = {
        "last_communication_time": ts,
        "instant_power": round(r.power_w, 2),
        "instant_reactive_power": round(r.reactive_var, 2),
        "instant_apparent_power": apparent,
        "frequency": round(r.frequency_hz, 3),
        "energy_exported": r.exported_wh,
        "energy_imported": r.imported_wh,
        "instant_average_voltage": r.voltage_v,
        "instant_average_current": r.current_a,
        "i_a_current": 0,
        "i_b_current": 0,
        "i_c_current": 0,
        "last_phase_voltage_communication_time": "0001-01-01T00:00:00Z",
        "last_phase_power_communication_time": "0001-01-01T00:00:00Z",
        "last_phase_energy_communication_time": "0001-01-01T00:00:00Z",
        "timeout": 1500000000,
    }
    if aggregated is not None:
        out["num_meters_aggregated"] = aggregated
    out["instant_total_current"] = r.current_a
    return out


def aggregates(s: Snapshot, m: SiteModel) -> JSON:
    ts = rfc3339_ns(s.sim_time, m.utc_offset_hours)
    out = {
        "site": _meter(s.site, ts, 1),
        "battery": _meter(s.battery, ts, len(s.blocks)),
        "load": _meter(s.load, ts, None),
    }
    if m.solar_peak_w > 0:
        out["solar"] = _meter(s.solar, ts, 1)
    return out


def soe(s: Snapshot) -> JSON:
    return {"percentage": s.soe_percent}


def grid_status(s: Snapshot) -> JSON:
    return {"grid_status": s.grid_status, "grid_services_active": False}


def operation(m: SiteModel) -> JSON:
    return {
        "real_mode": m.real_mode,
        "backup_reserve_percent": m.backup_reserve_percent,
        "freq_shift_load_shed_soe": 75,
        "freq_shift_load_shed_delta_f": -0.32,
    }


def site_info(m: SiteModel) -> JSON:
    kwh = round(13.5 * m.powerwalls, 1)
    kw = 5.0 * m.powerwalls
    return {
        "max_system_energy_kWh": kwh,
        "max_system_power_kW": kw,
        "site_name": m.site_name,
        "timezone": m.timezone,
        "max_site_meter_power_kW": 1000000000,
        "min_site_meter_power_kW": -1000000000,
        "nominal_system_energy_kWh": kwh,
        "nominal_system_power_kW": kw,
        "panel_max_current": 100,
        "grid_code": {
            "grid_code": f"{int(m.nominal_frequency)}Hz_{int(m.nominal_voltage)}V_s_UL1741SA:2019_California",
            "grid_voltage_setting": int(m.nominal_voltage),
            "grid_freq_setting": int(m.nominal_frequency),
            "grid_phase_setting": "Split",
            "country": "United States",
            "state": "California",
            "utility": "Simulated Power & Light",
        },
    }


def status(s: Snapshot, m: SiteModel) -> JSON:
    tz = timezone(timedelta(hours=m.utc_offset_hours))
    start = datetime.fromtimestamp(int(s.start_time), tz)
    return {
        "din": f"1232100-00-E--{m.gateway_serial}",
        "start_time": start.strftime("%Y-%m-%d %H:%M:%S %z"),
        "up_time_seconds": go_duration(s.uptime_seconds),
        "is_new": False,
        "version": m.firmware_version,
        "git_hash": m.git_hash,
        "commission_count": 3,
        "device_type": "teg",
        "teg_type": "unknown",
        "sync_type": "v2.1",
        "cellular_disabled": False,
        "can_reboot": True,
    }


def system_status(s: Snapshot, m: SiteModel) -> JSON:
    full = sum(b.full_pack_wh for b in s.blocks)
    remaining = sum(b.remaining_wh for b in s.blocks)
    n = len(s.blocks)
    blocks: list[JSON] = [
        {
            "Type": "",
            "PackagePartNumber": b.part_number,
            "PackageSerialNumber": b.serial,
            "disabled_reasons": [],
            "pinv_state": "PINV_GridForming" if s.islanded else "PINV_GridFollowing",
            "pinv_grid_state": "Grid_Uncompliant" if s.islanded else "Grid_Compliant",
            "nominal_energy_remaining": round(b.remaining_wh),
            "nominal_full_pack_energy": round(b.full_pack_wh),
            "p_out": round(b.power_w, 1),
            "q_out": round(b.reactive_var, 1),
            "v_out": round(b.voltage_v, 1),
            "f_out": round(b.frequency_hz, 3),
            "i_out": round(b.current_a, 1),
            "energy_charged": round(b.energy_charged_wh),
            "energy_discharged": round(b.energy_discharged_wh),
            "off_grid": s.islanded,
            "vf_mode": s.islanded,
            "wobble_detected": False,
            "charge_power_clamped": False,
            "backup_ready": True,
            "OpSeqState": "Active",
            "version": m.git_hash[:14],
        }
        for b in s.blocks
    ]
    return {
        "command_source": "Configuration",
        "battery_target_power": s.battery.power_w,
        "battery_target_reactive_power": 0,
        "nominal_full_pack_energy": round(full),
        "nominal_energy_remaining": round(remaining),
        "max_power_energy_remaining": 0,
        "max_power_energy_to_be_charged": 0,
        "max_charge_power": 5000 * n,
        "max_discharge_power": 5000 * n,
        "max_apparent_power": 5000 * n,
        "instantaneous_max_discharge_power": round(sum(b.max_discharge_w for b in s.blocks) * 2.4),
        "instantaneous_max_charge_power": round(sum(b.max_charge_w for b in s.blocks) * 1.4),
        "grid_services_power": 0,
        "system_island_state": s.grid_status,
        "available_blocks": n,
        "battery_blocks": blocks,
        "ffr_power_availability_high": 5800 * n,
        "ffr_power_availability_low": 5800 * n,
        "load_charge_constraint": 0,
        "max_sustained_ramp_rate": 1350000 * n,
        "grid_faults": [],
        "can_reboot": "Yes",
        "smart_inv_delta_p": 0,
        "smart_inv_delta_q": 0,
        "last_toggle_timestamp": rfc3339_ns(s.start_time + 60.0, m.utc_offset_hours),
        "solar_real_power_limit": -1,
        "score": 10000,
        "blocks_controlled": n,
        "primary": True,
        "auxiliary_load": 0,
        "all_enable_lines_high": True,
        "inverter_nominal_usable_power": 5800 * n,
        "expected_energy_remaining": 0,
    }


def _diagnostic(name: str, checks: list[str], disruptive: bool) -> JSON:
    return {
        "name": name,
        "category": "InternalComms",
        "disruptive": disruptive,
        "inputs": None,
        "checks": [
            {
                "name": c,
                "status": "not_run",
                "start_time": None,
                "end_time": None,
                "progress": 0,
                "results": None,
                "debug": None,
                "checks": None,
            }
            for c in checks
        ],
        "alert": False,
    }


def powerwalls(s: Snapshot, m: SiteModel) -> JSON:
    return {
        "enumerating": False,
        "updating": False,
        "checking_if_offgrid": False,
        "running_phase_detection": False,
        "phase_detection_last_error": "no phase information",
        "bubble_shedding": False,
        "on_grid_check_error": "",
        "grid_qualifying": False,
        "grid_code_validating": False,
        "phase_detection_not_available": True,
        "powerwalls": [
            {
                "Type": "",
                "PackagePartNumber": b.part_number,
                "PackageSerialNumber": b.serial,
                "type": "SolarPowerwall" if (m.solar_powerwall and i == 0) else "ACPW",
                "grid_state": "Grid_Uncompliant" if s.islanded else "Grid_Compliant",
                "grid_reconnection_time_seconds": 0,
                "under_phase_detection": False,
                "updating": False,
                "commissioning_diagnostic": _diagnostic("Commissioning", ["CAN connectivity"], False),
                "update_diagnostic": _diagnostic("Firmware Update", ["Powerwall firmware"], True),
                "bc_type": None,
                "in_config": True,
            }
            for i, b in enumerate(s.blocks)
        ],
        "gateway_din": f"1232100-00-E--{m.gateway_serial}",
        "sync": {
            "updating": False,
            "commissioning_diagnostic": _diagnostic("Commissioning", ["CAN connectivity"], False),
            "update_diagnostic": _diagnostic("Firmware Update", ["Synchronizer firmware"], True),
        },
        "msa": None,
        "states": None,
    }


def sitemaster(running: bool) -> JSON:
    return {
        "status": "StatusUp" if running else "StatusDown",
        "running": running,
        "connected_to_tesla": True,
        "power_supply_mode": False,
        "can_reboot": "Yes",
    }


def solar_powerwall(s: Snapshot) -> JSON:
    pout = sum(st.power_w for st in s.strings) * 0.97
    v_out = s.voltage_l1 + s.voltage_l2
    return {
        "pvac_status": {
            "state": "PVAC_Active" if pout > 0 else "PVAC_Standby",
            "disabled": False,
            "disabled_reasons": [],
            "grid_state": "Grid_Compliant",
            "inv_state": "INV_Grid_Connected" if pout > 0 else "INV_Standby",
            "v_out": v_out,
            "f_out": s.frequency_hz,
            "p_out": round(pout),
            "q_out": -10,
            "i_out": pout / v_out if v_out else 0.0,
            "string_vitals": [
                {
                    "string_id": i + 1,
                    "connected": st.connected,
                    "measured_voltage": round(st.voltage_v, 1),
                    "current": round(st.current_a, 2),
                    "measured_power": round(st.power_w),
                }
                for i, st in enumerate(s.strings)
            ],
        },
        "pvs_status": {
            "state": "PVS_Active",
            "disabled": False,
            "enable_output": True,
            "v_ll": v_out,
            "self_test_state": "PVS_SelfTestOff",
        },
        "pv_power_limit": 7680.0,
        "power_status_setpoint": "on",
        "pvac_alerts": {"PVAC_a001_inv_L1_HW_overcurrent": False, "PVAC_a019_ambient_overtemperature": False},
        "pvs_alerts": {f"PVS_a0{17 + i}_MciString{st.name}": not st.connected for i, st in enumerate(s.strings)},
    }


# --------------------------------------------------------------------------- routing
@dataclass(frozen=True, slots=True)
class Page:
    """What one JSON answer is built from: the model's state at one instant, the model itself, and
    whether the site master runs (the ``sitemaster_stopped`` fault)."""

    snapshot: Snapshot
    model: SiteModel
    sitemaster_running: bool


# Path -> the builder of its JSON body, for the paths the model serves. Why a table and not code in the
# gateway: which endpoint answers what is a fact of the API (gateway-api.md section 3), and a table reads
# like one. /api/devices/vitals is protobuf (exporter.simulator.vitals), not here.
JSON_PAGES: Mapping[str, Callable[[Page], JSON]] = {
    "/api/meters/aggregates": lambda p: aggregates(p.snapshot, p.model),
    "/api/system_status/soe": lambda p: soe(p.snapshot),
    "/api/system_status/grid_status": lambda p: grid_status(p.snapshot),
    "/api/operation": lambda p: operation(p.model),
    "/api/site_info": lambda p: site_info(p.model),
    "/api/status": lambda p: status(p.snapshot, p.model),
    "/api/system_status": lambda p: system_status(p.snapshot, p.model),
    "/api/powerwalls": lambda p: powerwalls(p.snapshot, p.model),
    "/api/sitemaster": lambda p: sitemaster(p.sitemaster_running),
    "/api/solar_powerwall": lambda p: solar_powerwall(p.snapshot),
}

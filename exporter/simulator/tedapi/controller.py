"""The simulated DeviceControllerQuery answer: control, system, neurio, the esCan bus and msa.

On a Powerwall 2 site the bus carries the vitals builder's values (so vitals and TEDAPI report one
model state alike); on a Powerwall 3 site it is fixed-size empty slots (zeros and defaults beside
``isMIA: true`` inside each sub-message) and ``components.msa`` lists the battery packs under an
all-zero part number, as a real Powerwall 3 on 26.10 answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from exporter.simulator.model import SiteModel
from exporter.simulator.payloads import rfc3339_ns
from exporter.simulator.snapshot import Snapshot
from exporter.simulator.tedapi import signals as shape
from exporter.simulator.tedapi.signals import COMPONENT_TYPES, JSON, f32
from exporter.simulator.vitals import NEURIO_FIRMWARE, VitalsDevice, VitalValue, vitals_devices

# Slots a Powerwall 3 gateway reports on its (empty) esCan bus.
PW3_EMPTY_SLOTS = 4

# Signal-name prefix -> the gateway component type a DeviceControllerQuery msa entry belongs to.
_FAMILY = {
    "STSTSM": "STSTSM",
    "SYNC": "TESYNC",
    "METER": "TESYNC",
    "ISLAND": "TESYNC",
    "THC": "TETHC",
    "POD": "TEPOD",
    "PINV": "TEPINV",
    "PVAC": "PVAC",
    "PVI": "PVAC",
    "PVS": "PVS",
    "MSA": "TEMSA",
}
# Known signals no simulated device has: asked for, they come back null.
_KNOWN_ABSENT_MSA = frozenset({"PINV_LifetimeEnergyCharged", "PINV_LifetimeEnergyDischarged", "MSA_State"})
_PREFIX_RE = re.compile(r"[A-Z]+")


def _by_kind(devices: Sequence[VitalsDevice], kind: str) -> list[VitalsDevice]:
    return [d for d in devices if d.kind == kind]


def _msa_extras(d: VitalsDevice, s: Snapshot) -> dict[str, VitalValue]:
    """Signals only TEDAPI reports (kept out of the vitals so their bytes stay as captured)."""
    if d.kind == "TESYNC":
        return {"SYNC_Uptime": float(round(s.uptime_seconds * 1000.0))}
    if d.kind == "TEPINV":
        return {"PINV_HeatsinkTemp": 30.0 + abs(float(d.vitals.get("PINV_Pout", 0.0))) * 2.0}
    if d.kind == "PVAC":
        return {"PVAC_Fan_Speed_Actual_RPM": 1800.0 if float(d.vitals.get("PVAC_Pout", 0.0)) > 0 else 0.0}
    if d.kind == "TETHC":
        return {"THC_InfoMsg": "THC_INFO_OK"}
    return {}


def _es_can_pw2(s: Snapshot, devices: Sequence[VitalsDevice], ts: str) -> JSON:
    def v(d: VitalsDevice, *names: str) -> JSON:
        return {n: d.vitals[n] for n in names if n in d.vitals}

    sync = _by_kind(devices, "TESYNC")
    bus: JSON = {
        "PVAC": [
            {
                "packagePartNumber": d.part,
                "packageSerialNumber": d.serial,
                "PVAC_Status": shape.group(ts, v(d, "PVAC_Pout", "PVAC_State", "PVAC_Vout", "PVAC_Fout")),
                "PVAC_Logging": shape.group(
                    ts,
                    v(
                        d,
                        *(f"PVAC_PVCurrent_{x}" for x in "ABCD"),
                        *(f"PVAC_PVMeasuredVoltage_{x}" for x in "ABCD"),
                        "PVAC_VL1Ground",
                        "PVAC_VL2Ground",
                    ),
                ),
                "PVAC_InfoMsg": {"PVAC_appGitHash": d.firmware},
                "alerts": {"active": list(d.alerts)},
            }
            for d in _by_kind(devices, "PVAC")
        ],
        "PVS": [
            {
                "packagePartNumber": d.part,
                "packageSerialNumber": d.serial,
                "PVS_Status": shape.group(
                    ts,
                    v(d, "PVS_State", "PVS_vLL", *(f"PVS_String{x}_Connected" for x in "ABCD"), "PVS_SelfTestState"),
                ),
                "alerts": {"active": list(d.alerts)},
            }
            for d in _by_kind(devices, "PVS")
        ],
        "PINV": [
            {
                "PINV_Status": shape.group(
                    ts, v(d, "PINV_Fout", "PINV_Pout", "PINV_Vout", "PINV_State", "PINV_GridState")
                ),
                "PINV_AcMeasurements": shape.group(ts, v(d, "PINV_VSplit1", "PINV_VSplit2")),
                "alerts": {"active": list(d.alerts)},
            }
            for d in _by_kind(devices, "TEPINV")
        ],
        "THC": [
            {
                "packagePartNumber": d.part,
                "packageSerialNumber": d.serial,
                "THC_InfoMsg": shape.group(
                    ts, {"THC_AmbientTemp": d.vitals.get("THC_AmbientTemp"), "THC_appGitHash": d.firmware}
                ),
                "alerts": {"active": list(d.alerts)},
            }
            for d in _by_kind(devices, "TETHC")
        ],
        "POD": [
            {
                "POD_EnergyStatus": shape.group(ts, v(d, "POD_nom_energy_remaining", "POD_nom_full_pack_energy")),
                "POD_InfoMsg": shape.group(ts, {**v(d, "POD_state"), "POD_appGitHash": d.firmware}),
                "alerts": {"active": list(d.alerts)},
            }
            for d in _by_kind(devices, "TEPOD")
        ],
    }
    if sync:
        d = sync[0]
        meters = {
            f"METER_{x}_AcMeasurements": shape.group(
                ts, {k: val for k, val in d.vitals.items() if k.startswith(f"METER_{x}_")}
            )
            for x in "XY"
        }
        bus["SYNC"] = {
            "packagePartNumber": d.part,
            "packageSerialNumber": d.serial,
            "SYNC_InfoMsg": {"SYNC_appGitHash": d.firmware},
            **meters,
            "alerts": {"active": list(d.alerts)},
        }
        island = {k: val for k, val in d.vitals.items() if k.startswith("ISLAND_")}
        bus["ISLANDER"] = {
            "ISLAND_GridConnection": shape.group(ts, {"ISLAND_GridConnected": island.get("ISLAND_GridConnected")}),
            "ISLAND_AcMeasurements": shape.group(
                ts, {k: val for k, val in island.items() if k != "ISLAND_GridConnected"}
            ),
        }
    bus["MSA"] = {"METER_Z_AcMeasurements": shape.group(ts, mia=True)}
    return {"bus": bus}


# What a real Powerwall 3 (firmware 26.10) puts into each empty slot's sub-messages, beside
# ``isMIA: true``: zeros and default states, never nulls (shared/docs/tedapi.md section 4).
_PW3_SLOT_DEFAULTS: dict[str, dict[str, dict[str, VitalValue]]] = {
    "PVAC": {
        "PVAC_Status": {"PVAC_Pout": 0.0, "PVAC_Vout": 0.0, "PVAC_Fout": 0.0},
        "PVAC_Logging": {
            **{f"PVAC_PVCurrent_{x}": 0.0 for x in "ABCD"},
            **{f"PVAC_PVMeasuredVoltage_{x}": 0.0 for x in "ABCD"},
        },
    },
    "PVS": {"PVS_Status": {"PVS_vLL": 0.0, **{f"PVS_String{x}_Connected": False for x in "ABCD"}}},
    "PINV": {
        "PINV_Status": {
            "PINV_Fout": 0.0,
            "PINV_Pout": 0.0,
            "PINV_Vout": 0.0,
            "PINV_State": "PINV_Off",
            "PINV_GridState": "Grid_Uncompliant",
        },
        "PINV_AcMeasurements": {"PINV_VSplit1": 0.0, "PINV_VSplit2": 0.0},
    },
    "THC": {"THC_InfoMsg": {"THC_AmbientTemp": 0.0}},
    "POD": {"POD_EnergyStatus": {"POD_nom_energy_remaining": 0.0, "POD_nom_full_pack_energy": 0.0}},
}
# Arrays whose slots carry (empty) identity keys; PINV and POD never have any.
_PW3_IDENTIFIED = frozenset({"PVAC", "PVS", "THC"})


def _es_can_pw3() -> JSON:
    """A Powerwall 3 gateway's esCan bus: fixed-size empty slots, as a real one on 26.10 answers.

    No serial, no part number and no ``isMIA`` on the slot itself; each sub-message says
    ``isMIA: true`` beside zero or default values.
    """

    def slots(array: str) -> list[JSON]:
        out = []
        for _ in range(PW3_EMPTY_SLOTS):
            slot: JSON = {"packagePartNumber": "", "packageSerialNumber": ""} if array in _PW3_IDENTIFIED else {}
            slot.update({g: shape.group("", values, mia=True) for g, values in _PW3_SLOT_DEFAULTS[array].items()})
            slot["alerts"] = {"active": []}
            out.append(slot)
        return out

    bus: JSON = {array: slots(array) for array in _PW3_SLOT_DEFAULTS}
    bus.update(
        {
            "SYNC": {
                "packagePartNumber": "",
                "packageSerialNumber": "",
                "METER_X_AcMeasurements": shape.group("", mia=True),
                "METER_Y_AcMeasurements": shape.group("", mia=True),
                "alerts": {"active": []},
            },
            "ISLANDER": {
                "ISLAND_GridConnection": shape.group("", mia=True),
                "ISLAND_AcMeasurements": shape.group("", mia=True),
            },
            "MSA": {"METER_Z_AcMeasurements": shape.group("", mia=True)},
        }
    )
    return {"bus": bus}


PW3_PACK_MSA_PART_NUMBER = "0" * 20
"""The part number a Powerwall 3's ``components.msa`` gives each battery pack entry (no real part number)."""


def _msa_pw3_packs(s: Snapshot, m: SiteModel, ts: str) -> list[JSON]:
    """A Powerwall 3 site's ``components.msa``: one entry per battery pack (built-in and expansions of
    every unit), under the pack's serial and an all-zero part number, with its energies in kWh."""
    out: list[JSON] = []
    for block, packs in zip(s.blocks, m.packs, strict=False):
        for pack in packs:
            values = {
                "BMS_nominalFullPackEnergy": block.full_pack_wh * pack.share / 1000.0,
                "BMS_nominalEnergyRemaining": block.remaining_wh * pack.share / 1000.0,
            }
            out.append(
                {
                    "partNumber": PW3_PACK_MSA_PART_NUMBER,
                    "serialNumber": pack.serial,
                    "signals": [shape.signal(n, v, ts) for n, v in values.items()],
                    "activeAlerts": [],
                }
            )
    return out


def _family(name: str) -> str | None:
    match = _PREFIX_RE.match(name)
    return _FAMILY.get(match.group(0)) if match else None


def _msa(s: Snapshot, devices: Sequence[VitalsDevice], variables: Mapping[str, Any], ts: str) -> list[JSON]:
    flt = variables.get("msaComp")
    types = flt.get("types") if isinstance(flt, dict) else None
    names = shape.names(variables, "msaSignals")
    values_of = {id(d): {**d.vitals, **_msa_extras(d, s)} for d in devices}
    known = frozenset(n for vals in values_of.values() for n in vals) | _KNOWN_ABSENT_MSA
    out: list[JSON] = []
    for d in devices:
        if d.kind not in COMPONENT_TYPES or (isinstance(types, list) and d.kind not in types):
            continue
        vals = values_of[id(d)]
        mine = [n for n in names if _family(n) == d.kind]
        out.append(
            {
                "partNumber": d.part or "",
                "serialNumber": d.serial if d.kind != "STSTSM" else "",
                "signals": [shape.signal(n, vals.get(n), ts) for n in mine if n in known],
                "activeAlerts": [{"name": a} for a in dict.fromkeys(d.alerts)],
            }
        )
    return out


def device_controller(s: Snapshot, m: SiteModel, variables: Mapping[str, Any]) -> JSON:
    ts = rfc3339_ns(s.sim_time, m.utc_offset_hours)
    pw3 = m.generation == "pw3"
    devices = [] if pw3 else vitals_devices(s, m)
    full = sum(b.full_pack_wh for b in s.blocks)
    remaining = sum(b.remaining_wh for b in s.blocks)
    aggregates = [
        {"location": "SITE", "realPowerW": round(s.site.power_w, 2)},
        {"location": "BATTERY", "realPowerW": round(s.battery.power_w, 2)},
        {"location": "LOAD", "realPowerW": round(s.load.power_w, 2)},
    ]
    if m.solar_peak_w > 0:
        aggregates.append({"location": "SOLAR", "realPowerW": round(s.solar.power_w, 2)})
    alerts = ["SystemConnectedToGrid"] if not s.islanded else ["SystemIslandedActive"]
    readings: list[JSON] = []
    if not pw3 and m.solar_peak_w > 0:
        v = s.voltage_l1
        readings.append(
            {
                "firmwareVersion": NEURIO_FIRMWARE,
                "serial": m.neurio_serial,
                "dataRead": [
                    {
                        "voltageV": f32(v),
                        "realPowerW": f32(s.solar.power_w),
                        "reactivePowerVAR": f32(s.solar.reactive_var),
                        "currentA": f32(s.solar.power_w / (2 * v) if v else 0.0),
                    }
                ],
                "timestamp": ts,
            }
        )
    return {
        "control": {
            "systemStatus": {
                "nominalFullPackEnergyWh": round(full),
                "nominalEnergyRemainingWh": round(remaining),
            },
            "islanding": {
                "customerIslandMode": "Backup",
                "contactorClosed": not s.islanded,
                "microGridOK": True,
                "gridOK": not s.islanded,
            },
            "meterAggregates": aggregates,
            "alerts": {"active": alerts},
            "siteShutdown": {"isShutDown": False, "reasons": []},
            "batteryBlocks": [{"din": din, "disableReasons": []} for din in m.battery_dins],
            "pvInverters": [],
        },
        "system": {
            "time": ts,
            "sitemanagerStatus": {"isRunning": True},
            "updateUrgencyCheck": None,
            "supportMode": {
                "remoteService": {"isEnabled": False, "expiresAt": 0, "sessionId": "SECRET-SUPPORT-SESSION"}
            },
        },
        "neurio": {"isDetectingWiredMeters": False, "readings": readings, "pairings": []},
        "teslaRemoteMeter": {"meters": []},
        "esCan": _es_can_pw3() if pw3 else _es_can_pw2(s, devices, ts),
        "components": {"msa": _msa_pw3_packs(s, m, ts) if pw3 else _msa(s, devices, variables, ts)},
    }


# --------------------------------------------------------------------------- ComponentsQuery

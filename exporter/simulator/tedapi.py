"""TEDAPI answers of the simulated gateway, built from the same model snapshot as the JSON API.

Why from the snapshot: a client that reads the same site through ``/api/...`` and TEDAPI must see
the same numbers (``control.systemStatus`` = ``/api/system_status``, ``control.meterAggregates`` =
``/api/meters/aggregates``, the ``esCan`` bus = the vitals devices), or tests of a source that merges
both would test the simulator's inconsistencies instead of the exporter.

What is modelled (shared/docs/tedapi.md §2-§4): the ``config.json`` read, ``getSystemInfo`` and the
signed queries ``DeviceControllerQuery`` and ``ComponentsQuery``/``PW3Query``, answered by operation
name. Signatures are checked against the gateway's key ring over the signed bytes only; the
variables are not signed and are applied as the gateway does: unknown signal names are dropped, a
known name the device lacks comes back ``null``, a name asked twice comes twice, and a component type
outside the gateway's enum anywhere in the variables empties the whole answer (``{}``).

The Powerwall 3 site (``SiteModel.pw3``): the leader is the gateway (its DIN is the gateway DIN),
followers are addressed through ``/tedapi/device/<DIN>/v1``; each unit answers its own components:
``pch[0]`` (inverter with six PV inputs), one ``bms``/``hvp`` pair per pack (built-in first, then the
DC expansions, matched to ``battery_expansions[].din`` by serial) and, on the leader only, a phantom
slot (empty serial, null energies, an alert of its own).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from exporter.proto import tedapi_pb2 as _pb
from exporter.simulator.model import SiteModel
from exporter.simulator.payloads import rfc3339_ns
from exporter.simulator.snapshot import BlockState, Snapshot
from exporter.simulator.vitals import NEURIO_FIRMWARE, VitalsDevice, VitalValue, vitals_devices
from exporter.sources.tedapi.queries import COMPONENT_TYPES, operation_of, verify

PB: Any = _pb  # generated module: no type information
JSON = dict[str, Any]
Value = VitalValue | None

LOCAL_HTTPS = 1
INSTALLER = 1
STATUS_SUCCESS = 1
STATUS_ERROR_FULL = 3
UNAUTHORIZED = 2
NEVER = "0001-01-01T00:00:00Z"
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
_KNOWN_ABSENT_PW3 = {"pch": frozenset({"PCH_AcVoltageCN"}), "bms": frozenset(), "hvp": frozenset()}
_PREFIX_RE = re.compile(r"[A-Z]+")

# --------------------------------------------------------------------------- fake secrets
# config.json and the support session carry personal data on a real gateway. These obviously fake
# values let tests prove that nothing of them ever reaches a metric, a label or a log.
SECRETS = (
    "SECRET-CUSTOMER-NAME",
    "SECRET-CUSTOMER-EMAIL",
    "SECRET-CUSTOMER-PHONE",
    "SECRET-CUSTOMER-ADDRESS",
    "SECRET-INSTALLER-COMPANY",
    "SECRET-INSTALLER-EMAIL",
    "SECRET-INSTALLER-PHONE",
    "SECRET-CREDENTIAL-HASH",
    "SECRET-WIFI-PSK",
    "SECRET-SUPPORT-SESSION",
)


def f32(x: float) -> float:
    """``x`` as the gateway sends it: a float32 widened to a double (239.87000274658203)."""
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


# --------------------------------------------------------------------------- envelopes
@dataclass(frozen=True, slots=True)
class Request:
    """A decoded TEDAPI request body (the simulator already knows it is one of the three reads)."""

    kind: str  # config | firmware | query:<Operation>
    sender_din: str | None
    recipient_din: str
    tail: int
    message: Any


def decode(body: bytes, kind: str) -> Request:
    msg = PB.Message.FromString(body)
    env = msg.envelope
    sender = env.sender.din if env.sender.WhichOneof("id") == "din" else None
    return Request(kind, sender, env.recipient.din, msg.tail.value, msg)


def _reply_message(sender_din: str, tail: int) -> Any:
    msg = PB.Message()
    msg.envelope.deliveryChannel = LOCAL_HTTPS
    msg.envelope.sender.din = sender_din
    msg.envelope.recipient.local = INSTALLER
    msg.tail.value = tail
    return msg


def _bytes(msg: Any) -> bytes:
    return bytes(msg.SerializeToString())


def config_reply(s: Snapshot, m: SiteModel, sender: str, tail: int) -> bytes:
    msg = _reply_message(sender, tail)
    blob = json.dumps(config_json(s, m), indent=2).encode()
    resp = msg.envelope.filestore.readFileResponse
    resp.file.name = "config.json"
    resp.file.blob = blob
    resp.hash = hashlib.sha256(blob).digest()
    return _bytes(msg)


def firmware_reply(m: SiteModel, sender: str, tail: int) -> bytes:
    msg = _reply_message(sender, tail)
    info = msg.envelope.common.getSystemInfoResponse
    info.deviceId.partNumber = m.gateway_part_number
    info.deviceId.serialNumber = m.gateway_serial
    info.din = m.gateway_din
    version = m.firmware_version if " " in m.firmware_version else f"{m.firmware_version} {m.git_hash[:8]}"
    info.firmwareVersion.version = version
    info.firmwareVersion.githash = bytes.fromhex(m.git_hash[:40])
    return _bytes(msg)


def query_reply(
    s: Snapshot,
    m: SiteModel,
    req: Request,
    unit: int,
    keys: Sequence[bytes],
    sender: str,
    *,
    empty_data: bool = False,
) -> bytes:
    """The queryResponse for ``req``: status 3 + UNAUTHORIZED on a bad signature, else the data of
    the operation (``unit``: the Powerwall 3 the request was addressed to)."""
    msg = _reply_message(sender, req.tail)
    resp = msg.envelope.graphql.queryResponse
    q = req.message.envelope.graphql.queryRequest
    try:
        signed = PB.SignedGraphQLQuery.FromString(q.query)
    except DecodeError:  # describe() already refused these; kept for direct callers
        signed = PB.SignedGraphQLQuery()
    if not keys or verify(bytes(q.query), bytes(q.signature), keys) is not True:
        resp.status = STATUS_ERROR_FULL
        err = resp.errors.add()
        err.code = UNAUTHORIZED
        err.message = "UNAUTHORIZED"
        return _bytes(msg)
    resp.status = STATUS_SUCCESS
    if empty_data:
        resp.data = ""
        return _bytes(msg)
    try:
        variables = json.loads(q.variablesJson.value) if q.variablesJson.value.strip() else {}
    except ValueError:
        variables = None
    operation = operation_of(bytes(signed.query))
    data: JSON
    if not isinstance(variables, dict) or _has_unknown_type(variables):
        data = {}
    elif operation == "DeviceControllerQuery":
        data = device_controller(s, m, variables)
    elif operation in ("ComponentsQuery", "PW3Query"):
        data = components(s, m, unit, variables)
    else:
        data = {}
    resp.data = json.dumps(data, separators=(",", ":"))
    return _bytes(msg)


def _has_unknown_type(obj: Any) -> bool:
    """A component type outside the gateway's enum anywhere in the variables."""
    if isinstance(obj, dict):
        types = obj.get("types")
        if isinstance(types, list) and any(not isinstance(t, str) or t not in COMPONENT_TYPES for t in types):
            return True
        return any(_has_unknown_type(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_unknown_type(v) for v in obj)
    return False


# --------------------------------------------------------------------------- config.json
def config_json(s: Snapshot, m: SiteModel) -> JSON:
    pw3 = m.generation == "pw3"
    blocks: list[JSON] = []
    for i, din in enumerate(m.battery_dins):
        kind = ("Powerwall3" if i == 0 else "Powerwall3Follower") if pw3 else "Powerwall2"
        expansions = [{"din": p.din} for p in m.packs[i] if p.expansion] if pw3 else []
        blocks.append({"vin": din, "type": kind, "battery_expansions": expansions, "min_soe": 0, "max_soe": 100})
    n_packs = sum(len(p) for p in m.packs) if pw3 else m.powerwalls
    meters: list[JSON]
    if pw3:
        meters = [
            {
                "location": "site",
                "type": "trm_wifi",
                "cts": [True, True, False, False],
                "connection": {"device_serial": m.tesync_serial},
            }
        ]
    else:
        meters = [
            {
                "location": "site",
                "type": "synchrometerX",
                "cts": [True, True, False, False],
                "connection": {"device_serial": m.tesync_serial},
            }
        ]
        if m.solar_peak_w > 0:
            meters.append(
                {
                    "location": "solar",
                    "type": "neurio_w2_tcp",
                    "cts": [True, False, False, False],
                    "connection": {"device_serial": m.neurio_serial, "ip_address": "192.168.91.50"},
                }
            )
    solars: list[JSON] = []
    if m.solar_peak_w > 0:
        model = "Powerwall 3" if pw3 else ("Solar Powerwall" if m.solar_powerwall else "Solar Inverter 7.6")
        solars.append({"brand": "Tesla", "model": model, "power_rating_watts": round(m.solar_peak_w)})
    return {
        "vin": m.gateway_din,
        "battery_blocks": blocks,
        "meters": meters,
        "site_info": {
            "site_name": m.site_name,
            "timezone": m.timezone,
            "backup_reserve_percent": m.backup_reserve_percent,
            "nominal_system_energy_ac": round(13.5 * n_packs, 1),
            "nominal_system_power_ac": round(m.max_power_w / 1000.0, 1),
            "grid_code": f"{int(m.nominal_frequency)}Hz_{int(m.nominal_voltage)}V_s_UL1741SA:2019_California",
        },
        "default_real_mode": m.real_mode,
        "solars": solars,
        "installer": {
            "company": "SECRET-INSTALLER-COMPANY",
            "email": "SECRET-INSTALLER-EMAIL",
            "phone": "SECRET-INSTALLER-PHONE",
        },
        "customer": {
            "name": "SECRET-CUSTOMER-NAME",
            "email": "SECRET-CUSTOMER-EMAIL",
            "phone": "SECRET-CUSTOMER-PHONE",
            "address": "SECRET-CUSTOMER-ADDRESS",
        },
        "credentials": {"installer_hash": "SECRET-CREDENTIAL-HASH", "wifi_psk": "SECRET-WIFI-PSK"},
    }


# --------------------------------------------------------------------------- signals
def _signal(name: str, value: Value, ts: str) -> JSON:
    out: JSON = {"name": name, "value": None, "textValue": None, "boolValue": None, "timestamp": ts}
    if isinstance(value, bool):
        out["boolValue"] = value
    elif isinstance(value, str):
        out["textValue"] = value
    elif value is not None:
        out["value"] = f32(float(value))
    return out


def _names(variables: Mapping[str, Any], key: str) -> list[str]:
    raw = variables.get(key)
    return [n for n in raw if isinstance(n, str)] if isinstance(raw, list) else []


def _wanted(variables: Mapping[str, Any], key: str, own_type: str) -> bool:
    """A group is answered unless its filter names other types only."""
    flt = variables.get(key)
    if not isinstance(flt, dict) or not isinstance(flt.get("types"), list):
        return True
    return own_type in flt["types"]


def _signals(names: Sequence[str], values: Mapping[str, Value], known: frozenset[str], ts: str) -> list[JSON]:
    return [_signal(n, values.get(n), ts) for n in names if n in values or n in known]


# --------------------------------------------------------------------------- DeviceControllerQuery
def _group(ts: str, values: Mapping[str, Any] | None = None, *, mia: bool = False) -> JSON:
    return {"isMIA": mia, "isComplete": not mia, "lastRxTime": NEVER if mia else ts, **(values or {})}


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
                "PVAC_Status": _group(ts, v(d, "PVAC_Pout", "PVAC_State", "PVAC_Vout", "PVAC_Fout")),
                "PVAC_Logging": _group(
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
                "PVS_Status": _group(
                    ts,
                    v(d, "PVS_State", "PVS_vLL", *(f"PVS_String{x}_Connected" for x in "ABCD"), "PVS_SelfTestState"),
                ),
                "alerts": {"active": list(d.alerts)},
            }
            for d in _by_kind(devices, "PVS")
        ],
        "PINV": [
            {
                "PINV_Status": _group(ts, v(d, "PINV_Fout", "PINV_Pout", "PINV_Vout", "PINV_State", "PINV_GridState")),
                "PINV_AcMeasurements": _group(ts, v(d, "PINV_VSplit1", "PINV_VSplit2")),
                "alerts": {"active": list(d.alerts)},
            }
            for d in _by_kind(devices, "TEPINV")
        ],
        "THC": [
            {
                "packagePartNumber": d.part,
                "packageSerialNumber": d.serial,
                "THC_InfoMsg": _group(
                    ts, {"THC_AmbientTemp": d.vitals.get("THC_AmbientTemp"), "THC_appGitHash": d.firmware}
                ),
                "alerts": {"active": list(d.alerts)},
            }
            for d in _by_kind(devices, "TETHC")
        ],
        "POD": [
            {
                "POD_EnergyStatus": _group(ts, v(d, "POD_nom_energy_remaining", "POD_nom_full_pack_energy")),
                "POD_InfoMsg": _group(ts, {**v(d, "POD_state"), "POD_appGitHash": d.firmware}),
                "alerts": {"active": list(d.alerts)},
            }
            for d in _by_kind(devices, "TEPOD")
        ],
    }
    if sync:
        d = sync[0]
        meters = {
            f"METER_{x}_AcMeasurements": _group(
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
            "ISLAND_GridConnection": _group(ts, {"ISLAND_GridConnected": island.get("ISLAND_GridConnected")}),
            "ISLAND_AcMeasurements": _group(ts, {k: val for k, val in island.items() if k != "ISLAND_GridConnected"}),
        }
    bus["MSA"] = {"METER_Z_AcMeasurements": _group(ts, mia=True)}
    return {"bus": bus}


def _es_can_pw3() -> JSON:
    """A Powerwall 3 gateway's esCan bus: fixed-size slots, every one empty and MIA."""

    def slots(*groups: str, serial: bool = True) -> list[JSON]:
        out = []
        for _ in range(PW3_EMPTY_SLOTS):
            slot: JSON = {"packagePartNumber": "", "packageSerialNumber": ""} if serial else {}
            slot.update({g: _group("", mia=True) for g in groups})
            slot["alerts"] = {"active": []}
            out.append(slot)
        return out

    return {
        "bus": {
            "PVAC": slots("PVAC_Status", "PVAC_Logging"),
            "PVS": slots("PVS_Status"),
            "PINV": slots("PINV_Status", "PINV_AcMeasurements", serial=False),
            "THC": slots("THC_InfoMsg"),
            "POD": slots("POD_EnergyStatus", "POD_InfoMsg", serial=False),
            "SYNC": {
                "packagePartNumber": "",
                "packageSerialNumber": "",
                "METER_X_AcMeasurements": _group("", mia=True),
                "METER_Y_AcMeasurements": _group("", mia=True),
                "alerts": {"active": []},
            },
            "ISLANDER": {
                "ISLAND_GridConnection": _group("", mia=True),
                "ISLAND_AcMeasurements": _group("", mia=True),
            },
            "MSA": {"METER_Z_AcMeasurements": _group("", mia=True)},
        }
    }


def _family(name: str) -> str | None:
    match = _PREFIX_RE.match(name)
    return _FAMILY.get(match.group(0)) if match else None


def _msa(s: Snapshot, devices: Sequence[VitalsDevice], variables: Mapping[str, Any], ts: str) -> list[JSON]:
    flt = variables.get("msaComp")
    types = flt.get("types") if isinstance(flt, dict) else None
    names = _names(variables, "msaSignals")
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
                "signals": [_signal(n, vals.get(n), ts) for n in mine if n in known],
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
        "components": {"msa": _msa(s, devices, variables, ts)},
    }


# --------------------------------------------------------------------------- ComponentsQuery
def _noise(m: SiteModel, s: Snapshot, unit: int) -> random.Random:
    """Per-(seed, instant, unit) noise: the same model time gives the same answer."""
    return random.Random(f"{m.seed}/{math.floor(s.sim_time)}/{unit}")


def _pv_inputs(s: Snapshot, m: SiteModel, unit: int, rng: random.Random) -> list[tuple[str, str, float, float]]:
    """(input, state, volts, amps) for PV inputs A..F of one Powerwall 3. The leader uses A-D (D in
    parallel with C), the others A-B; the site's solar power is shared equally between units."""
    n_units = max(1, len(s.blocks))
    used = 4 if unit == 0 else 2
    dc_w = max(0.0, s.solar.power_w) / 0.97 / n_units
    out: list[tuple[str, str, float, float]] = []
    for i, name in enumerate("ABCDEF"):
        if i >= used:
            out.append((name, "Pv_Standby", round(rng.uniform(0.0, 0.4), 1), -0.01 * rng.random()))
            continue
        if dc_w <= 0.0:
            out.append((name, "Pv_Standby", round(2.0 + rng.random(), 1), -0.01 - 0.01 * rng.random()))
            continue
        power = dc_w / used
        volts = 320.0 + 25.0 * math.sqrt(power / 3000.0) + rng.gauss(0.0, 0.5)
        state = "Pv_Active_Parallel" if unit == 0 and name in "CD" else "Pv_Active"
        out.append((name, state, volts, power / volts))
    return out


def _pch_values(s: Snapshot, m: SiteModel, unit: int, block: BlockState, rng: random.Random) -> dict[str, Value]:
    pv = _pv_inputs(s, m, unit, rng)
    pv_w = max(0.0, sum(v * a for _, _, v, a in pv))
    v1, v2 = s.voltage_l1, s.voltage_l2
    ac = block.power_w + pv_w * 0.97
    vals: dict[str, Value] = {"PCH_State": "PCH_STATE_GRID_FORMING" if s.islanded else "PCH_STATE_GRID_FOLLOWING"}
    for name, state, _, _ in pv:
        vals[f"PCH_PvState_{name}"] = state
    for name, _, volts, _ in pv:
        vals[f"PCH_PvVoltage{name}"] = volts
    for name, _, _, amps in pv:
        vals[f"PCH_PvCurrent{name}"] = amps
    vals.update(
        {
            "PCH_AcFrequency": s.frequency_hz if not s.islanded else block.frequency_hz,
            "PCH_AcVoltageAB": v1 + v2,
            "PCH_AcVoltageAN": v1,
            "PCH_AcVoltageBN": v2,
            "PCH_BatteryPower": block.power_w,
            "PCH_AcRealPowerAB": ac,
            "PCH_SlowPvPowerSum": pv_w,
            "PCH_AcMode": "PCH_AC_MODE_GRID_FORMING" if s.islanded else "PCH_AC_MODE_GRID_FOLLOWING",
            "PCH_AmbientTemp": block.ambient_c,
            "PCH_FanSpeed_A": 1200.0 + 10.0 * abs(ac) / 100.0,
            "PCH_FanSpeed_B": 1180.0 + 10.0 * abs(ac) / 100.0,
            "PCH_FanDuty_A": 20.0 + abs(ac) / 500.0,
            "PCH_FanDuty_B": 19.0 + abs(ac) / 500.0,
            "PCH_AcRealPowerSum": ac,
            "PCH_AcVoltageLL": v1 + v2,
            "PCH_heatsinkTemp": 25.0,  # a constant on current firmware
        }
    )
    return vals


def components(s: Snapshot, m: SiteModel, unit: int, variables: Mapping[str, Any]) -> JSON:
    """One Powerwall 3's components (empty lists on a Powerwall 2 site)."""
    empty: JSON = {"components": {"pws": [], "pch": [], "bms": [], "hvp": [], "baggr": []}}
    if m.generation != "pw3" or not 0 <= unit < len(s.blocks):
        return empty
    ts = rfc3339_ns(s.sim_time, m.utc_offset_hours)
    block = s.blocks[unit]
    packs = m.packs[unit]
    rng = _noise(m, s, unit)
    pch_vals = _pch_values(s, m, unit, block, rng)
    out: JSON = {}
    pws_vals: dict[str, Value] = {
        "PWS_SelfTest": "PWS_SELFTEST_PASSED",
        "PWS_PeImpTestState": "PWS_TEST_PASSED",
        "PWS_PvIsoTestState": "PWS_TEST_PASSED",
        "PWS_RelaySelfTest_State": "PWS_TEST_PASSED",
        "PWS_MciTestState": "PWS_TEST_PASSED",
        "PWS_ProdSwitch_State": True,
    }
    out["pws"] = (
        [{"signals": _signals(_names(variables, "pwsSignalNames"), pws_vals, frozenset(), ts), "activeAlerts": []}]
        if _wanted(variables, "pwsComponentsFilter", "PW3SAF")
        else []
    )
    alerts = [{"name": "PCH_a010_PvIsolationWarning"}] if unit == 0 else []
    out["pch"] = (
        [
            {
                "partNumber": block.part_number,
                "serialNumber": block.serial,
                "signals": _signals(_names(variables, "pchSignalNames"), pch_vals, _KNOWN_ABSENT_PW3["pch"], ts),
                "activeAlerts": alerts,
            }
        ]
        if _wanted(variables, "pchComponentsFilter", "PCH")
        else []
    )
    bms_names = _names(variables, "bmsSignalNames")
    hvp_names = _names(variables, "hvpSignalNames")
    bms: list[JSON] = []
    hvp: list[JSON] = []
    for k, pack in enumerate(packs):
        kwh_out = block.energy_discharged_wh * pack.share / 1000.0
        bms_vals: dict[str, Value] = {
            "BMS_nominalEnergyRemaining": block.remaining_wh * pack.share / 1000.0,
            "BMS_nominalFullPackEnergy": block.full_pack_wh * pack.share / 1000.0,
            "BMS_kwhDischargeTotal": kwh_out,
            "BMS_LOG_cacAvg": 48.0 * pack.share * len(packs) * (0.97 + 0.01 * k),
            "BMS_LOG_numFullBattCycles": float(math.floor(kwh_out / 13.5)),
            "BMS_LOG_ahDischargeTotal": kwh_out * 1000.0 / 350.0,
        }
        temp = block.ambient_c + 1.0 + 0.5 * k
        hvp_vals: dict[str, Value] = {
            "HVP_State": "HVP_STATE_ENERGIZED",
            "HVP_PackTempMax": temp + 2.0,
            "HVP_PackTempMin": temp,
            "HVP_ShuntTemperature": temp + 1.0,
        }
        bms.append({"signals": _signals(bms_names, bms_vals, _KNOWN_ABSENT_PW3["bms"], ts), "activeAlerts": []})
        hvp.append(
            {
                "partNumber": pack.part_number,
                "serialNumber": pack.serial,
                "signals": _signals(hvp_names, hvp_vals, _KNOWN_ABSENT_PW3["hvp"], ts),
                "activeAlerts": [],
            }
        )
    if unit == 0:  # the phantom slot: no pack behind it, an alert of its own
        bms_known = frozenset(
            {
                "BMS_nominalEnergyRemaining",
                "BMS_nominalFullPackEnergy",
                "BMS_kwhDischargeTotal",
                "BMS_LOG_cacAvg",
                "BMS_LOG_numFullBattCycles",
                "BMS_LOG_ahDischargeTotal",
            }
        )
        bms.append(
            {"signals": _signals(bms_names, {}, bms_known, ts), "activeAlerts": [{"name": "BMS_a066_NoPackPresent"}]}
        )
        hvp_known = frozenset({"HVP_State", "HVP_PackTempMax", "HVP_PackTempMin", "HVP_ShuntTemperature"})
        hvp.append(
            {
                "partNumber": "",
                "serialNumber": "",
                "signals": _signals(hvp_names, {}, hvp_known, ts),
                "activeAlerts": [{"name": "HVP_a044_PackNotDetected"}],
            }
        )
    out["bms"] = bms if _wanted(variables, "bmsComponentsFilter", "PW3BMS") else []
    out["hvp"] = hvp if _wanted(variables, "hvpComponentsFilter", "PW3HVP") else []
    baggr_vals: dict[str, Value] = {
        "BAGGR_State": "BAGGR_STATE_ACTIVE",
        "BAGGR_NumBatteriesConnected": float(len(packs)),
        "BAGGR_NumBatteriesPresent": float(len(packs)),
        "BAGGR_NumBatteriesExpected": float(len(packs)),
    }
    out["baggr"] = (
        [{"signals": _signals(_names(variables, "baggrSignalNames"), baggr_vals, frozenset(), ts), "activeAlerts": []}]
        if _wanted(variables, "baggrComponentsFilter", "BAGGR")
        else []
    )
    return {"components": out}

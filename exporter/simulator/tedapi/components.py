"""The simulated ComponentsQuery/PW3Query answer of one Powerwall 3: pch, bms/hvp per pack, baggr, pws.

Each unit answers its own components; the leader also has the phantom slot real leaders report
(empty serial, null energies, an alert of its own).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

from exporter.simulator.model import SiteModel
from exporter.simulator.payloads import rfc3339_ns
from exporter.simulator.snapshot import BlockState, Snapshot
from exporter.simulator.tedapi import signals as shape
from exporter.simulator.tedapi.signals import JSON, Value

_KNOWN_ABSENT_PW3 = {"pch": frozenset({"PCH_AcVoltageCN"}), "bms": frozenset(), "hvp": frozenset()}


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
        [
            {
                "signals": shape.signals(shape.names(variables, "pwsSignalNames"), pws_vals, frozenset(), ts),
                "activeAlerts": [],
            }
        ]
        if shape.wanted(variables, "pwsComponentsFilter", "PW3SAF")
        else []
    )
    alerts = [{"name": "PCH_a010_PvIsolationWarning"}] if unit == 0 else []
    out["pch"] = (
        [
            {
                "partNumber": block.part_number,
                "serialNumber": block.serial,
                "signals": shape.signals(
                    shape.names(variables, "pchSignalNames"), pch_vals, _KNOWN_ABSENT_PW3["pch"], ts
                ),
                "activeAlerts": alerts,
            }
        ]
        if shape.wanted(variables, "pchComponentsFilter", "PCH")
        else []
    )
    bms_names = shape.names(variables, "bmsSignalNames")
    hvp_names = shape.names(variables, "hvpSignalNames")
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
        bms.append({"signals": shape.signals(bms_names, bms_vals, _KNOWN_ABSENT_PW3["bms"], ts), "activeAlerts": []})
        hvp.append(
            {
                "partNumber": pack.part_number,
                "serialNumber": pack.serial,
                "signals": shape.signals(hvp_names, hvp_vals, _KNOWN_ABSENT_PW3["hvp"], ts),
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
            {
                "signals": shape.signals(bms_names, {}, bms_known, ts),
                "activeAlerts": [{"name": "BMS_a066_NoPackPresent"}],
            }
        )
        hvp_known = frozenset({"HVP_State", "HVP_PackTempMax", "HVP_PackTempMin", "HVP_ShuntTemperature"})
        hvp.append(
            {
                "partNumber": "",
                "serialNumber": "",
                "signals": shape.signals(hvp_names, {}, hvp_known, ts),
                "activeAlerts": [{"name": "HVP_a044_PackNotDetected"}],
            }
        )
    out["bms"] = bms if shape.wanted(variables, "bmsComponentsFilter", "PW3BMS") else []
    out["hvp"] = hvp if shape.wanted(variables, "hvpComponentsFilter", "PW3HVP") else []
    baggr_vals: dict[str, Value] = {
        "BAGGR_State": "BAGGR_STATE_ACTIVE",
        "BAGGR_NumBatteriesConnected": float(len(packs)),
        "BAGGR_NumBatteriesPresent": float(len(packs)),
        "BAGGR_NumBatteriesExpected": float(len(packs)),
    }
    out["baggr"] = (
        [
            {
                "signals": shape.signals(shape.names(variables, "baggrSignalNames"), baggr_vals, frozenset(), ts),
                "activeAlerts": [],
            }
        ]
        if shape.wanted(variables, "baggrComponentsFilter", "BAGGR")
        else []
    )
    return {"components": out}

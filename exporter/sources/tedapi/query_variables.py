"""The unsigned half of a TEDAPI query: the variables sent beside Tesla's signed text.

Why a module of its own: the signature covers only the query text, so the variables are the one part
of a query this exporter writes itself, and the one where a mistake silently costs data. What it
writes are facts (shared/docs/tedapi.md §3): the signal names pypowerwall adds to a role's lists,
the vitals that older firmware reported and the device-controller text lacks, and the component
types a role's filters name. The rules:

* Names are only appended to a list the captured variables already declare, never inserted and
  never duplicated: a list the text does not declare cannot grow, and a set that writes every
  signal into its signed text (empty variables) gets nothing.
* A role's component filter (:data:`COMPONENT_FILTERS`) replaces the captured list of types, which
  was wrong in one captured set.
* A component type outside the gateway's enum (:data:`COMPONENT_TYPES`) is never sent, because it
  would empty the whole answer: such variables make the entry unusable instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class VariablesError(ValueError):
    """Captured variables that cannot be sent; the message says why."""


# Component types the gateway knows; any other type in the variables empties the whole answer.
COMPONENT_TYPES: frozenset[str] = frozenset(
    {
        "PVS",
        "PVAC",
        "TESYNC",
        "TEPINV",
        "TETHC",
        "STSTSM",
        "TEMSA",
        "TEPOD",
        "PW3SAF",
        "PCH",
        "PW3BMS",
        "PW3HVP",
        "BAGGR",
    }
)

VITALS_NAMES: tuple[str, ...] = (
    "POD_nom_energy_to_be_charged",
    "POD_PermanentlyFaulted",
    "POD_PersistentlyFaulted",
    "POD_ActiveHeating",
    "POD_CCVhold",
    "POD_ChargeComplete",
    "POD_ChargeRequest",
    "POD_DischargeComplete",
    "POD_enable_line",
    "PVAC_Iout",
    "PVAC_Qout",
    "PVAC_LifetimeEnergyPV_Total",
    "PVAC_GridState",
    "PVAC_InvState",
    "PVAC_PvState_A",
    "PVAC_PvState_B",
    "PVAC_PvState_C",
    "PVAC_PvState_D",
    "PVAC_PVMeasuredPower_A",
    "PVAC_PVMeasuredPower_B",
    "PVAC_PVMeasuredPower_C",
    "PVAC_PVMeasuredPower_D",
    "PVI-PowerStatusSetpoint",
    "PVS_EnableOutput",
    "ISLAND_ReadyForSynchronization",
)

# Appended to a role's variables (facts: what pypowerwall adds; shared/docs/tedapi.md §3).
# key in the variables -> names appended to its list (a missing list is created).
EXTRA_VARIABLES: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "device_controller": {
        "msaSignals": (
            "SYNC_Uptime",
            "PINV_EnergyCharged",
            "PINV_EnergyDischarged",
            "PINV_LifetimeEnergyCharged",
            "PINV_LifetimeEnergyDischarged",
            "PINV_HeatsinkTemp",
            "PINV_PllFrequency",
            "PINV_PllLocked",
            "PINV_Qout",
            "PINV_ReadyForGridForming",
            "PINV_HardwareEnableLine",
            "PINV_PowerLimiter",
            "THC_State",
            "SYNC_ExternallyPowered",
            "SYNC_SiteSwitchEnabled",
            "POD_available_charge_power",
            "POD_available_dischg_power",
            # Vitals the older protobuf carried and the device-controller text lacks: asked for on
            # the msa components so that firmware >= 23.44 keeps the series firmware < 23.44 had
            # (shared/docs/gateway-api.md §4 names them; a gateway without one drops it silently).
            *VITALS_NAMES,
        ),
    },
    "components": {
        "pchSignalNames": (
            "PCH_AmbientTemp",
            "PCH_FanSpeed_A",
            "PCH_FanSpeed_B",
            "PCH_FanDuty_A",
            "PCH_FanDuty_B",
            "PCH_AcRealPowerSum",
            "PCH_AcVoltageCN",
            "PCH_AcVoltageLL",
        ),
        "bmsSignalNames": (
            "BMS_kwhDischargeTotal",
            "BMS_LOG_cacAvg",
            "BMS_LOG_numFullBattCycles",
            "BMS_LOG_ahDischargeTotal",
        ),
        "hvpSignalNames": ("HVP_PackTempMax", "HVP_PackTempMin", "HVP_ShuntTemperature"),
    },
}
# The component types a role's filters should name (the capture of one set lists TEPINV twice
# and lacks TEPOD): filter key -> types, replacing the captured list only when every type is known.
COMPONENT_FILTERS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "device_controller": {"msaComp": ("PVS", "PVAC", "TESYNC", "TEPINV", "TETHC", "STSTSM", "TEMSA", "TEPOD")},
}


def variables_for(role: str, captured: Any) -> str:
    """The captured variables with this role's extras appended (never inserted, never duplicated).

    Raises :class:`VariablesError` for variables that are not a JSON object or name an unknown type.
    """
    try:
        variables = json.loads(captured) if isinstance(captured, str) and captured.strip() else {}
    except ValueError:
        raise VariablesError("b_value is not JSON") from None
    if not isinstance(variables, dict):
        raise VariablesError("b_value is not a JSON object")
    if not variables:
        return "{}"  # a set with every signal in its text: nothing can be added
    for name, types in COMPONENT_FILTERS.get(role, {}).items():
        if name in variables:
            variables[name] = {"types": list(types)}
    for name, extras in EXTRA_VARIABLES.get(role, {}).items():
        present = variables.get(name)
        if not isinstance(present, list):
            continue  # only lists the text declares as variables can grow
        variables[name] = present + [n for n in extras if n not in present]
    for value in variables.values():
        if isinstance(value, dict) and "types" in value:
            bad = [t for t in value["types"] if t not in COMPONENT_TYPES]
            if bad:
                raise VariablesError(f"component types {bad} are not in the gateway's enum (the answer would be empty)")
    return json.dumps(variables, separators=(",", ":"))

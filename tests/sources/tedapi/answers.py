"""Hand-written TEDAPI answers, built from the shapes in shared/docs/tedapi.md sections 3 and 4.

No captures exist; these are realistic in shape and values (a Powerwall 2 site with two Powerwalls,
a Powerwall+ solar inverter, a synchrometer and the full query's ``components.msa``; a Powerwall 3
leader with six strings, a DC expansion pack, a phantom pack slot and alerts).
"""

from __future__ import annotations

from typing import Any

GATEWAY_DIN = "1232100-00-E--TG123456789ABC"
PW3_DIN = "1707000-11-J--TG9876543210AB"
EXPANSION_DIN = "1807000-20-B--TG5555555555CD"
SESSION_ID = "secret-session-0123456789"
NEVER = "0001-01-01T00:00:00Z"


def sig(name: str, value: Any = None, text: str | None = None, flag: bool | None = None) -> dict[str, Any]:
    return {"name": name, "value": value, "textValue": text, "boolValue": flag, "timestamp": "2026-01-01T00:00:00Z"}


def _empty_slot() -> dict[str, Any]:
    return {"isMIA": True, "isComplete": False, "lastRxTime": NEVER, "packagePartNumber": "", "packageSerialNumber": ""}


def _pinv(pout_kw: float, v1: float, v2: float) -> dict[str, Any]:
    return {
        "PINV_Status": {
            "PINV_Fout": 60.021,
            "PINV_Pout": pout_kw,
            "PINV_Vout": v1 + v2,
            "PINV_State": "PINV_GridFollowing",
            "PINV_GridState": "Grid_Compliant",
            "isMIA": False,
        },
        "PINV_AcMeasurements": {"PINV_VSplit1": v1, "PINV_VSplit2": v2, "isMIA": False},
        "alerts": {"active": ["PINV_a067_overvoltageNeutralChassis"]},
        "isMIA": False,
        "isComplete": True,
        "lastRxTime": "2026-01-01T00:00:00Z",
    }


def _pod(remaining_wh: float, full_wh: float) -> dict[str, Any]:
    return {
        "POD_EnergyStatus": {"POD_nom_energy_remaining": remaining_wh, "POD_nom_full_pack_energy": full_wh},
        "alerts": {"active": []},
        "isMIA": False,
    }


def _thc(part: str, serial: str) -> dict[str, Any]:
    return {
        "packagePartNumber": part,
        "packageSerialNumber": serial,
        "THC_InfoMsg": {"THC_appGitHash": [64, 100, 252, 106]},
        "alerts": {"active": []},
        "isMIA": False,
    }


def pw2_controller() -> dict[str, Any]:
    """DeviceControllerQuery (full variant) of a Powerwall 2 site: 2 Powerwalls, Powerwall+ PV, SYNC, msa."""
    return {
        "control": {
            "systemStatus": {"nominalFullPackEnergyWh": 25720, "nominalEnergyRemainingWh": 9219},
            "islanding": {
                "customerIslandMode": "BackupAutomatic",
                "contactorClosed": True,
                "microGridOK": True,
                "gridOK": True,
            },
            "meterAggregates": [{"location": "SITE", "realPowerW": 205.0}],
            "alerts": {"active": ["SystemConnectedToGrid", "GridCodesWrite", "GridCodesWrite"]},
            "siteShutdown": {"isShutDown": False, "reasons": []},
            "batteryBlocks": [
                {"din": "2012170-25-E--TG111111111111", "disableReasons": []},
                {"din": "3012170-05-B--TG222222222222", "disableReasons": ["Updating"]},
            ],
        },
        "system": {
            "time": "2026-01-01T00:00:00Z",
            "sitemanagerStatus": {"isRunning": True},
            "supportMode": {"remoteService": {"isEnabled": False, "sessionId": SESSION_ID}},
        },
        "neurio": {
            "readings": [
                {
                    "serial": "VAH1234567890",
                    "dataRead": [
                        {"voltageV": 121.0, "realPowerW": 1936.36, "reactivePowerVAR": -12.5, "currentA": 16.1},
                        {"voltageV": 121.1, "realPowerW": None, "reactivePowerVAR": 0.0, "currentA": 0.0},
                    ],
                }
            ]
        },
        "esCan": {
            "bus": {
                "PINV": [_pinv(-0.52, 121.2, 120.9), _pinv(-0.54, 121.0, 120.9), _empty_slot()],
                "POD": [_pod(4504, 12572), _pod(4715, 13148), _empty_slot()],
                "THC": [
                    _thc("2012170-25-E", "TG111111111111"),
                    _thc("3012170-05-B", "TG222222222222"),
                    _empty_slot(),
                ],
                "PVAC": [
                    {
                        "packagePartNumber": "1538100-00-F",
                        "packageSerialNumber": "CN321293D0001",
                        "PVAC_Status": {
                            "PVAC_Pout": 1960.0,
                            "PVAC_State": "PVAC_Active",
                            "PVAC_Vout": 241.6,
                            "PVAC_Fout": 60.016,
                        },
                        "PVAC_Logging": {
                            "PVAC_PVCurrent_A": 1.74,
                            "PVAC_PVCurrent_B": 0.0,
                            "PVAC_PVCurrent_C": 2.55,
                            "PVAC_PVCurrent_D": 2.49,
                            "PVAC_PVMeasuredVoltage_A": 256.9,
                            "PVAC_PVMeasuredVoltage_B": -2.1,
                            "PVAC_PVMeasuredVoltage_C": 294.4,
                            "PVAC_PVMeasuredVoltage_D": 294.8,
                        },
                        "alerts": {"active": []},
                        "isMIA": False,
                    },
                    _empty_slot(),
                ],
                "PVS": [
                    {
                        "PVS_Status": {
                            "PVS_State": "PVS_Active",
                            "PVS_vLL": 241.6,
                            "PVS_StringA_Connected": True,
                            "PVS_StringB_Connected": False,
                            "PVS_StringC_Connected": True,
                            "PVS_StringD_Connected": True,
                        },
                        "alerts": {"active": ["PVS_a018_MciStringB"]},
                        "isMIA": False,
                    },
                    _empty_slot(),
                ],
                "SYNC": {
                    "packagePartNumber": "1493315-01-F",
                    "packageSerialNumber": "JBL21234567",
                    "METER_X_AcMeasurements": {
                        "METER_X_CTA_InstRealPower": 205.0,
                        "METER_X_CTB_InstRealPower": -147.0,
                        "METER_X_CTA_InstReactivePower": -58.0,
                        "METER_X_CTA_I": 2.48,
                        "METER_X_VL1N": 120.83,
                        "METER_X_VL2N": 121.09,
                        "isMIA": False,
                    },
                    "METER_Y_AcMeasurements": {"METER_Y_CTA_InstRealPower": 0.0, "METER_Y_VL1N": 120.84},
                    "alerts": {"active": ["SYNC_a001_SW_App_Boot"]},
                    "isMIA": False,
                    "isComplete": True,
                },
                "ISLANDER": {
                    "ISLAND_GridConnection": {"ISLAND_GridConnected": True},
                    "ISLAND_AcMeasurements": {
                        "ISLAND_VL1N_Main": 121.5,
                        "ISLAND_FreqL1_Main": 60.02,
                        "ISLAND_GridState": "ISLAND_GridState_Grid_Compliant",
                    },
                    "isMIA": False,
                },
                "MSA": {
                    "packagePartNumber": "",
                    "packageSerialNumber": "",
                    "METER_Z_AcMeasurements": {"METER_Z_CTA_InstRealPower": None, "METER_Z_VL1N": None},
                    "isMIA": True,
                },
            }
        },
        "components": {
            "msa": [
                {
                    "partNumber": "2012170-25-E",
                    "serialNumber": "TG111111111111",
                    "signals": [sig("THC_AmbientTemp", 15.6), sig("THC_State", text="THC_STATE_AUTONOMOUSCONTROL")],
                    "activeAlerts": [{"name": "THC_w061_CAN_TX_FIFO_Overflow"}],
                },
                {
                    "partNumber": "3012170-05-B",
                    "serialNumber": "TG222222222222",
                    "signals": [sig("THC_AmbientTemp", 15.2)],
                    "activeAlerts": [],
                },
                {
                    "partNumber": None,
                    "serialNumber": None,
                    "signals": [
                        sig("PINV_HeatsinkTemp", 31.5),
                        sig("PINV_LifetimeEnergyCharged", 7392262.0),
                        sig("PINV_HardwareEnableLine", flag=True),
                        sig("POD_available_charge_power", 7000.0),
                        sig("PINV_MysteryNumber", 42.0),
                    ],
                    "activeAlerts": [],
                },
                {
                    "partNumber": None,
                    "serialNumber": None,
                    "signals": [sig("PINV_HeatsinkTemp", 30.5), sig("POD_available_charge_power", 6340.0)],
                    "activeAlerts": [],
                },
                {"signals": [sig("PVAC_Fan_Speed_Actual_RPM", 2400.0)], "activeAlerts": []},
                {"signals": [sig("SYNC_Uptime", 3_600_500.0), sig("SYNC_ExternallyPowered", flag=False)]},
                {"signals": [sig("GW_Mystery", 1.5)]},  # no known prefix: onto the gateway's record
            ]
        },
    }


PACK_MSA_PART = "00000000000000000000"
"""The part number a Powerwall 3's components.msa gives every battery pack entry."""


def _mia(**values: Any) -> dict[str, Any]:
    """A sub-message of an empty Powerwall 3 slot: ``isMIA`` beside zeros and defaults (fw 26.10)."""
    return {"isMIA": True, "isComplete": False, "lastRxTime": NEVER, **values}


def _pw3_slots() -> dict[str, list[dict[str, Any]]]:
    """A real Powerwall 3's esCan arrays: 4 slots each, no identity, no slot-level isMIA."""
    no_id = {"packagePartNumber": "", "packageSerialNumber": ""}
    return {
        "PINV": [
            {
                "PINV_Status": _mia(
                    PINV_Fout=0, PINV_Pout=0, PINV_Vout=0, PINV_State="PINV_Off", PINV_GridState="Grid_Uncompliant"
                ),
                "PINV_AcMeasurements": _mia(PINV_VSplit1=0, PINV_VSplit2=0),
                "alerts": {"active": []},
            }
            for _ in range(4)
        ],
        "POD": [
            {"POD_EnergyStatus": _mia(POD_nom_energy_remaining=0, POD_nom_full_pack_energy=0), "alerts": {"active": []}}
            for _ in range(4)
        ],
        "THC": [{**no_id, "THC_InfoMsg": _mia(THC_AmbientTemp=0)} for _ in range(4)],
        "PVAC": [{**no_id, "PVAC_Status": _mia(PVAC_Pout=0, PVAC_Vout=0, PVAC_Fout=0)} for _ in range(4)],
        "PVS": [
            {**no_id, "PVS_Status": _mia(PVS_vLL=0, **{f"PVS_String{x}_Connected": False for x in "ABCD"})}
            for _ in range(4)
        ],
    }


def pw3_controller() -> dict[str, Any]:
    """DeviceControllerQuery of a Powerwall 3 leader as 26.10 answers it: fixed-size esCan arrays of
    empty slots (zeros beside ``isMIA`` inside), and components.msa listing each pack (kWh) under its
    serial and an all-zero part number."""
    return {
        "control": {
            "systemStatus": {"nominalFullPackEnergyWh": 27000, "nominalEnergyRemainingWh": 13500},
            "islanding": {"customerIslandMode": "BackupAutomatic", "contactorClosed": False, "gridOK": True},
            "alerts": {"active": ["PodCommissionTime"]},
            "siteShutdown": {"isShutDown": True, "reasons": ["Commissioning"]},
        },
        "system": {"supportMode": {"remoteService": {"sessionId": SESSION_ID}}},
        "esCan": {"bus": {**_pw3_slots(), "SYNC": {"isMIA": True, "packageSerialNumber": ""}}},
        "components": {
            "msa": [
                {
                    "partNumber": PACK_MSA_PART,
                    "serialNumber": serial,
                    "signals": [sig("BMS_nominalFullPackEnergy", full), sig("BMS_nominalEnergyRemaining", left)],
                    "activeAlerts": [],
                }
                for serial, full, left in (("TG9876543210AB", 13.5, 6.75), ("TG5555555555CD", 13.5, 6.75))
            ]
        },
    }


def pw3_config() -> dict[str, Any]:
    return {
        "vin": PW3_DIN,
        "battery_blocks": [
            {
                "vin": PW3_DIN,
                "type": "Powerwall3",
                "battery_expansions": [{"din": EXPANSION_DIN}],
                "min_soe": 0,
                "max_soe": 100,
            },
            {"vin": "1707000-11-J--TG0000000000FF", "type": "Powerwall3Follower", "battery_expansions": []},
            {"type": "Powerwall3"},  # malformed: no vin
            "garbage",
        ],
        "site_info": {
            "site_name": "Home",
            "timezone": "America/Los_Angeles",
            "backup_reserve_percent": 24.0,
            "nominal_system_energy_ac": 13.5,
            "nominal_system_power_ac": 11.5,
            "battery_commission_date": "2026-04-22T12:07:43+10:00",  # as a real Powerwall 3 writes it
            "grid_code": {
                "grid_code": "60Hz_240V_s_UL1741SA:2019_California",
                "grid_voltage_setting": 240,
                "grid_freq_setting": 60,
                "grid_phase_setting": "Split",
                "country": "United States",
                "state": "California",
                "utility": "Pacific Gas & Electric Company",
            },
        },
        "default_real_mode": "self_consumption",
        "installer": {"company": "Solar Inc", "email": "installer@example.com", "phone": "555-0100"},
        "customer": {"name": "Jane Doe", "email": "jane@example.com", "phone": "555-0199"},
        "credentials": {"password": "hunter2-never"},
    }


def _string(letter: str, volts: float, amps: float, state: str) -> list[dict[str, Any]]:
    return [
        sig(f"PCH_PvState_{letter}", text=state),
        sig(f"PCH_PvVoltage{letter}", volts),
        sig(f"PCH_PvCurrent{letter}", amps),
    ]


def pw3_components() -> dict[str, Any]:
    """ComponentsQuery of the leader: 6 strings, built-in pack + DC expansion + a phantom slot."""
    strings = [
        *_string("A", 380.2, 5.1, "Pv_Active"),
        *_string("B", 381.0, 5.0, "Pv_Active_Parallel"),
        *_string("C", 0.4, -0.02, "Pv_Standby"),  # night-time noise
        *_string("D", 12.0, -0.3, "Pv_Standby"),  # kept: above the noise bound
        *_string("E", 410.0, 3.0, "Pv_Active"),
        *_string("F", 0.0, 0.0, "Pv_Standby"),
    ]
    return {
        "components": {
            "pws": [{"signals": [sig("PWS_ProdSwitch_State", flag=True), sig("PWS_SelfTest", text="PWS_SelfTestOff")]}],
            "pch": [
                {
                    "signals": [
                        sig("PCH_State", text="PCH_State_Grid_Following"),
                        *strings,
                        sig("PCH_AcFrequency", 60.01),
                        sig("PCH_AcVoltageAB", 242.0),
                        sig("PCH_AcVoltageAN", 121.1),
                        sig("PCH_AcVoltageBN", 120.9),
                        sig("PCH_BatteryPower", -1500.0),
                        sig("PCH_AcRealPowerAB", 3200.0),
                        sig("PCH_SlowPvPowerSum", 5300.0),
                        sig("PCH_AcMode", text="AC_Connected"),
                        sig("PCH_heatsinkTemp", 25.0),
                        sig("PCH_packagePartNumber_1", 825569841),
                        sig("PCH_AmbientTemp", 22.5),
                        sig("PCH_FanSpeed_A", 1200.0),
                        sig("PCH_FanSpeed_B", 1180.0),
                        sig("PCH_FanDuty_A", 35.0),
                        sig("PCH_FanDuty_B", 34.0),
                        sig("PCH_AcRealPowerSum", 3210.0),
                        sig("PCH_AcVoltageLL", 241.0),
                        sig("PCH_AmbientTemp", 99.0),  # requested twice: the first one counts
                    ],
                    "activeAlerts": [{"name": "PCH_a042_PvArcLockout"}],
                    "partNumber": None,
                    "serialNumber": None,
                }
            ],
            "bms": [
                {
                    "signals": [
                        sig("BMS_nominalEnergyRemaining", 6.75),
                        sig("BMS_nominalFullPackEnergy", 13.5),
                        sig("BMS_kwhDischargeTotal", 1234.5),
                        sig("BMS_LOG_cacAvg", 180.5),
                        sig("BMS_LOG_numFullBattCycles", 87),
                        sig("BMS_LOG_ahDischargeTotal", 20000.0),
                    ],
                    "activeAlerts": [],
                },
                {
                    "signals": [sig("BMS_nominalEnergyRemaining", 6.0), sig("BMS_nominalFullPackEnergy", 13.2)],
                    "activeAlerts": [{"name": "BMS_a035_SW_Cell_Imbalance"}],
                },
                {
                    "signals": [sig("BMS_nominalEnergyRemaining"), sig("BMS_nominalFullPackEnergy")],
                    "activeAlerts": [{"name": "BMS_a001_PhantomAlert"}],
                },
            ],
            "hvp": [
                {
                    "partNumber": "1707000-11-J",
                    "serialNumber": "TG9876543210AB",
                    "signals": [
                        sig("HVP_State", text="HVP_State_Active"),
                        sig("HVP_PackTempMax", 26.0),
                        sig("HVP_PackTempMin", 21.5),
                        sig("HVP_ShuntTemperature", 24.0),
                    ],
                },
                {
                    "partNumber": "",
                    "serialNumber": "TG5555555555CD",
                    "signals": [sig("HVP_State", text="HVP_State_Active")],
                },
                {"partNumber": "", "serialNumber": "", "signals": [sig("HVP_State")]},
            ],
            "baggr": [
                {
                    "signals": [
                        sig("BAGGR_State", text="BAGGR_STATE_ACTIVE"),
                        sig("BAGGR_NumBatteriesConnected", 2),
                        sig("BAGGR_NumBatteriesPresent", 2),
                        sig("BAGGR_NumBatteriesExpected", 2),
                    ],
                    "activeAlerts": [{"name": "BAGGR_a001_Info"}],
                }
            ],
        }
    }


def pack_serial(k: int) -> str:
    """The serial of pack ``k`` of :func:`many_packs` (sorts like ``k``)."""
    return f"TGP{k:09d}"


def many_packs(n: int) -> dict[str, Any]:
    """A ComponentsQuery patch listing ``n`` battery packs (for the ``tedapi_extra_json`` fault).

    As compact as a pack can be and still be one (a serial, two energies), so 20,000 of them stay
    under the transport's 4 MiB answer bound: no real Powerwall 3 has more than a handful.
    """
    hvp = [
        {
            "serialNumber": pack_serial(k),
            "signals": [
                {"name": "BMS_nominalEnergyRemaining", "value": 6.5},
                {"name": "BMS_nominalFullPackEnergy", "value": 13.5},
            ],
        }
        for k in range(n)
    ]
    return {"components": {"bms": [], "hvp": hvp}}

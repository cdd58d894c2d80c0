"""``/api/devices/vitals`` body built from the site model with the project's own ``vitals_pb2``.

The device tree, DIN scheme, vital names and units follow gateway-api.md section 4 and the pwsim
capture (so the decoder sees the real quirks: PINV_Pout in kW but PVAC_Pout in W, all numbers as
doubles, repeated alert names, NEURIO/TESLA DINs without a part number), while the values move with
the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exporter.simulator.model import SiteModel
from exporter.simulator.snapshot import Snapshot

GATEWAY_PN = "1232100-00-E"
TESYNC_PN = "1493315-01-F"
PVAC_PN = "1538100-00-F"
VitalValue = float | bool | str


def _pb() -> Any:
    # Imported lazily so that importing the simulator does not require protobuf until vitals are asked for.
    from exporter.proto import vitals_pb2

    return vitals_pb2


NEURIO_FIRMWARE = "1.7.2-Tesla"  # the wireless meter's own firmware, in vitals and TEDAPI alike


@dataclass(frozen=True, slots=True)
class VitalsDevice:
    """One device of the vitals tree. TEDAPI's DeviceControllerQuery reuses these values, so both
    paths report the same model state the same way."""

    din: str
    part: str | None
    serial: str
    parent: str | None
    firmware: str
    last_comm: int
    vitals: dict[str, VitalValue]
    alerts: tuple[str, ...] = ()
    ecu_type: int | None = None
    meter_location: tuple[int, ...] | None = None
    ip_address: str | None = None
    manufacturer: str = "TESLA"

    @property
    def kind(self) -> str:
        """The DIN's family prefix (``TEPINV``, ``PVAC`` ...)."""
        return self.din.split("--", 1)[0]


def _add_device(msg: Any, dev_: VitalsDevice) -> None:
    din, part, serial, parent = dev_.din, dev_.part, dev_.serial, dev_.parent
    firmware, last_comm, vitals, alerts = dev_.firmware, dev_.last_comm, dev_.vitals, dev_.alerts
    ecu_type, meter_location, ip_address, manufacturer = (
        dev_.ecu_type,
        dev_.meter_location,
        dev_.ip_address,
        dev_.manufacturer,
    )
    dev = msg.devices.add()
    d = dev.device.device
    d.din.value = din
    if part is not None:
        d.partNumber.value = part
    d.serialNumber.value = serial
    d.manufacturer.value = manufacturer
    if parent is not None:
        d.componentParentDin.value = parent
    d.firmwareVersion.value = firmware
    d.lastCommunicationTime.seconds = last_comm
    if ip_address is not None:
        d.connectionParameters.ipAddress.value = ip_address
    if ecu_type is not None:
        d.deviceAttributes.teslaEnergyEcuAttributes.ecuType = ecu_type
    elif meter_location is not None:
        d.deviceAttributes.meterAttributes.meterLocation.extend(meter_location)
    for name, value in vitals.items():
        v = dev.vitals.add()
        v.name = name
        # bool before float: bool is an int subclass; the real gateway sends no ints at all.
        if isinstance(value, bool):
            v.boolValue = value
        elif isinstance(value, str):
            v.stringValue = value
        else:
            v.floatValue = float(value)
    dev.alerts.extend(alerts)


def build_vitals(s: Snapshot, m: SiteModel) -> bytes:
    """Serialized ``DevicesWithVitals`` for snapshot ``s``."""
    pb = _pb()
    msg = pb.DevicesWithVitals()
    for dev in vitals_devices(s, m):
        _add_device(msg, dev)
    return bytes(msg.SerializeToString())


def vitals_devices(s: Snapshot, m: SiteModel) -> list[VitalsDevice]:
    """The vitals device tree for snapshot ``s``, in the order the gateway lists it."""
    devices: list[VitalsDevice] = []
    now = int(s.sim_time)
    fw = m.git_hash[:14]
    gw_din = f"STSTSM--{GATEWAY_PN}--{m.gateway_serial}"
    devices.append(
        VitalsDevice(
            din=gw_din,
            part=GATEWAY_PN,
            serial=m.gateway_serial,
            parent=None,
            firmware="2023-11-30-g6e07d12eea",
            last_comm=now,
            vitals={"STSTSM-Location": "Gateway"},
            alerts=("GridCodesWrite", "GridCodesWrite", "SystemConnectedToGrid")
            if not s.islanded
            else ("SystemIslandedActive",),
            ecu_type=207,
        )
    )
    # TESYNC: METER_X = site CTs, METER_Y = solar/aux CTs (zero here), ISLAND_* = grid vs load side.
    site_half = s.site.power_w / 2
    site_q_half = s.site.reactive_var / 2
    v1, v2 = s.voltage_l1, s.voltage_l2
    grid_f = 0.0 if s.islanded else s.frequency_hz
    grid_v = 0.0 if s.islanded else 1.0
    tesync: dict[str, VitalValue] = {
        "ISLAND_FreqL1_Load": s.frequency_hz,
        "ISLAND_FreqL1_Main": grid_f,
        "ISLAND_FreqL2_Load": s.frequency_hz,
        "ISLAND_FreqL2_Main": grid_f,
        "ISLAND_FreqL3_Load": 0.0,
        "ISLAND_FreqL3_Main": 0.0,
        "ISLAND_GridConnected": not s.islanded,
        "ISLAND_GridState": "ISLAND_GridState_Grid_Compliant"
        if not s.islanded
        else "ISLAND_GridState_Grid_Uncompliant",
        "ISLAND_L1L2PhaseDelta": -180.5,
        "ISLAND_L1L3PhaseDelta": -180.5,
        "ISLAND_L1MicrogridOk": True,
        "ISLAND_L2L3PhaseDelta": -180.5,
        "ISLAND_L2MicrogridOk": True,
        "ISLAND_L3MicrogridOk": False,
        "ISLAND_PhaseL1_Main_Load": 0.0,
        "ISLAND_PhaseL2_Main_Load": 0.0,
        "ISLAND_PhaseL3_Main_Load": -180.5,
        "ISLAND_ReadyForSynchronization": not s.islanded,
        "ISLAND_VL1N_Load": v1,
        "ISLAND_VL1N_Main": v1 * grid_v,
        "ISLAND_VL2N_Load": v2,
        "ISLAND_VL2N_Main": v2 * grid_v,
        "ISLAND_VL3N_Load": 0.0,
        "ISLAND_VL3N_Main": 0.0,
    }
    for meter, (pa, qa, exp, imp) in {
        "X": (site_half, site_q_half, s.site.exported_wh, s.site.imported_wh),
        "Y": (0.0, 0.0, 0.0, 2.0),
    }.items():
        for ct, p, q, v in (("A", pa, qa, v1), ("B", pa, qa, v2), ("C", 0.0, 0.0, 0.0)):
            tesync[f"METER_{meter}_CT{ct}_I"] = abs(p) / v if v else 0.0
            tesync[f"METER_{meter}_CT{ct}_InstReactivePower"] = q
            tesync[f"METER_{meter}_CT{ct}_InstRealPower"] = p
        tesync[f"METER_{meter}_LifetimeEnergyExport"] = float(round(exp))
        tesync[f"METER_{meter}_LifetimeEnergyImport"] = float(round(imp))
        tesync[f"METER_{meter}_VL1N"] = v1
        tesync[f"METER_{meter}_VL2N"] = v2
        tesync[f"METER_{meter}_VL3N"] = 0.0
    tesync["SYNC_ExternallyPowered"] = False
    tesync["SYNC_SiteSwitchEnabled"] = False
    devices.append(
        VitalsDevice(
            din=f"TESYNC--{TESYNC_PN}--{m.tesync_serial}",
            part=TESYNC_PN,
            serial=m.tesync_serial,
            parent=gw_din,
            firmware=fw,
            last_comm=now,
            vitals=tesync,
            alerts=("SYNC_a001_SW_App_Boot",),
            ecu_type=259,
        )
    )
    first_thc: str | None = None
    for b in s.blocks:
        thc_din = f"TETHC--{b.part_number}--{b.serial}"
        first_thc = first_thc or thc_din
        devices.append(
            VitalsDevice(
                din=thc_din,
                part=b.part_number,
                serial=b.serial,
                parent=gw_din,
                firmware=fw,
                last_comm=now,
                vitals={"THC_AmbientTemp": b.ambient_c, "THC_State": "THC_STATE_AUTONOMOUSCONTROL"},
                ecu_type=224,
            )
        )
        devices.append(
            VitalsDevice(
                din=f"TEPOD--{b.pod_part_number}--{b.pod_serial}",
                part=b.pod_part_number,
                serial=b.pod_serial,
                parent=thc_din,
                firmware=fw,
                last_comm=now,
                vitals={
                    "POD_ActiveHeating": False,
                    "POD_CCVhold": False,
                    "POD_ChargeComplete": b.remaining_wh >= b.full_pack_wh * 0.999,
                    "POD_ChargeRequest": False,
                    "POD_DischargeComplete": b.remaining_wh <= 0,
                    "POD_PermanentlyFaulted": False,
                    "POD_PersistentlyFaulted": False,
                    "POD_available_charge_power": b.max_charge_w * 1.4,
                    "POD_available_dischg_power": b.max_discharge_w * 2.4,
                    "POD_enable_line": True,
                    "POD_nom_energy_remaining": float(round(b.remaining_wh)),
                    "POD_nom_energy_to_be_charged": float(round(b.full_pack_wh - b.remaining_wh)),
                    "POD_nom_full_pack_energy": float(round(b.full_pack_wh)),
                    "POD_state": "POD_ACTIVE",
                },
                ecu_type=226,
            )
        )
        devices.append(
            VitalsDevice(
                din=f"TEPINV--{b.pod_part_number}--{b.pinv_serial}",
                part=b.pod_part_number,
                serial=b.pinv_serial,
                parent=thc_din,
                firmware=fw,
                last_comm=now,
                vitals={
                    "PINV_EnergyCharged": float(round(b.energy_charged_wh)),
                    "PINV_EnergyDischarged": float(round(b.energy_discharged_wh)),
                    "PINV_Fout": b.frequency_hz,
                    "PINV_GridState": "Grid_Uncompliant" if s.islanded else "Grid_Compliant",
                    "PINV_HardwareEnableLine": True,
                    "PINV_PllFrequency": b.frequency_hz,
                    "PINV_PllLocked": True,
                    "PINV_Pout": round(b.power_w / 1000.0, 2),  # kW, unlike every other power
                    "PINV_PowerLimiter": "PWRLIM_POD_Power_Limit",
                    "PINV_Qout": round(b.reactive_var / 1000.0, 2),
                    "PINV_ReadyForGridForming": True,
                    "PINV_State": "PINV_GridForming" if s.islanded else "PINV_GridFollowing",
                    "PINV_VSplit1": v1,
                    "PINV_VSplit2": v2,
                    "PINV_Vout": b.voltage_v,
                },
                ecu_type=253,
            )
        )
    if m.solar_powerwall:
        pvac_parent = first_thc or gw_din
        pvac_din = f"PVAC--{PVAC_PN}--{m.pvac_serial}"
        pout = sum(st.power_w for st in s.strings) * 0.97
        pvac: dict[str, VitalValue] = {
            "PVAC_Fout": s.frequency_hz,
            "PVAC_GridState": "Grid_Compliant",
            "PVAC_InvState": "INV_Grid_Connected" if pout > 0 else "INV_Standby",
            "PVAC_Iout": pout / (v1 + v2),
            "PVAC_LifetimeEnergyPV_Total": float(round(s.solar_lifetime_wh)),
        }
        for st in s.strings:
            pvac[f"PVAC_PVCurrent_{st.name}"] = round(st.current_a, 2)
            pvac[f"PVAC_PVMeasuredPower_{st.name}"] = float(round(st.power_w))
            pvac[f"PVAC_PVMeasuredVoltage_{st.name}"] = round(st.voltage_v, 1)
        pvac["PVAC_Pout"] = float(round(pout))  # W
        for st in s.strings:
            pvac[f"PVAC_PvState_{st.name}"] = "PV_Active" if st.power_w > 0 else "PV_Standby"
        pvac.update(
            {
                "PVAC_Qout": 20.0,
                "PVAC_State": "PVAC_Active" if pout > 0 else "PVAC_Standby",
                "PVAC_VL1Ground": v1,
                "PVAC_VL2Ground": v2,
                "PVAC_Vout": v1 + v2,
                "PVI-PowerStatusSetpoint": "on",
            }
        )
        devices.append(
            VitalsDevice(
                din=pvac_din,
                part=PVAC_PN,
                serial=m.pvac_serial,
                parent=pvac_parent,
                firmware=fw,
                last_comm=now,
                vitals=pvac,
                ecu_type=296,
            )
        )
        pvs: dict[str, VitalValue] = {"PVS_EnableOutput": True, "PVS_SelfTestState": "PVS_SelfTestOff"}
        pvs["PVS_State"] = "PVS_Active"
        for st in s.strings:
            pvs[f"PVS_String{st.name}_Connected"] = st.connected
        pvs["PVS_vLL"] = v1 + v2
        devices.append(
            VitalsDevice(
                din=f"PVS--{PVAC_PN}--{m.pvac_serial}",
                part=PVAC_PN,
                serial=m.pvac_serial,
                parent=pvac_din,
                firmware="44857755923fa5",
                last_comm=now,
                vitals=pvs,
                alerts=tuple(
                    f"PVS_a0{17 + i}_MciString{st.name}" for i, st in enumerate(s.strings) if not st.connected
                ),
                ecu_type=297,
            )
        )
    # A wireless Neurio CT on the solar feed: DIN without part number, manufacturer NEURIO.
    if m.solar_peak_w > 0:
        devices.append(
            VitalsDevice(
                din=f"NEURIO--{m.neurio_serial}",
                part=None,
                serial=m.neurio_serial,
                parent=gw_din,
                firmware=NEURIO_FIRMWARE,
                last_comm=now,
                vitals={"NEURIO_CT0_InstRealPower": s.solar.power_w, "NEURIO_CT0_Location": "solarRGM"},
                meter_location=(5,),
                ip_address="PWRview-" + m.neurio_serial[-5:],
                manufacturer="NEURIO",
            )
        )
    return devices

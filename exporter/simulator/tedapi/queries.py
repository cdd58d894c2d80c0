"""Our own signed TEDAPI queries for the simulated gateway: texts written here, signed with a throwaway key.

Why: Tesla's signed texts are never part of this repository (shared/docs/tedapi.md §3), yet tests
and the demo need a query file the exporter's loader accepts and a gateway that checks signatures.
These texts are written from the operation and signal names in the doc; they are signed with a P-521
key generated per call (never stored), and the simulator is given the matching public key::

    pem = write_query_file(tmp_path / "queries.json")
    gw = SimulatedGateway(gateway_password="...", tedapi_keys=[pem], model=SiteModel.pw3())
    queries.load(tmp_path / "queries.json", keys=[pem])   # what the exporter does

The file has the shape of the older pypowerwall sets (role keys, ``version`` 0, sent and signed as
version 1: see :func:`exporter.simulator.tedapi.signature.signed_bytes`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from exporter.simulator.tedapi.signature import signed_bytes

WIRE_VERSION = 1  # a version-0 file entry is signed and sent as version 1

DEVICE_CONTROLLER_TEXT = """query DeviceControllerQuery($msaComp: ComponentFilter, $msaSignals: [String!]) {
  # written for the powerwall-exporter simulator
  control {
    systemStatus { nominalFullPackEnergyWh nominalEnergyRemainingWh }
    islanding { customerIslandMode contactorClosed microGridOK gridOK }
    meterAggregates { location realPowerW }
    alerts { active }
    siteShutdown { isShutDown reasons }
    batteryBlocks { din disableReasons }
  }
  system {
    time
    sitemanagerStatus { isRunning }
    supportMode { remoteService { isEnabled expiresAt sessionId } }
  }
  neurio { readings { serial dataRead { voltageV realPowerW reactivePowerVAR currentA } } }
  esCan {
    bus {
      PVAC { packagePartNumber packageSerialNumber PVAC_Status { isMIA PVAC_Pout PVAC_State PVAC_Vout PVAC_Fout } }
      PVS { PVS_Status { isMIA PVS_State PVS_vLL } }
      PINV { PINV_Status { isMIA PINV_Fout PINV_Pout PINV_Vout PINV_State PINV_GridState } }
      THC { packagePartNumber packageSerialNumber THC_InfoMsg { isMIA } }
      POD { POD_EnergyStatus { isMIA POD_nom_energy_remaining POD_nom_full_pack_energy } }
      SYNC { METER_X_AcMeasurements { isMIA } METER_Y_AcMeasurements { isMIA } }
      ISLANDER { ISLAND_GridConnection { isMIA ISLAND_GridConnected } }
    }
  }
  components {
    msa: components(filter: $msaComp) {
      partNumber serialNumber
      signals(names: $msaSignals) { name value textValue boolValue timestamp }
      activeAlerts { name }
    }
  }
}
"""

COMPONENTS_TEXT = """query ComponentsQuery(
  $pwsComponentsFilter: ComponentFilter, $pwsSignalNames: [String!],
  $pchComponentsFilter: ComponentFilter, $pchSignalNames: [String!],
  $bmsComponentsFilter: ComponentFilter, $bmsSignalNames: [String!],
  $hvpComponentsFilter: ComponentFilter, $hvpSignalNames: [String!],
  $baggrComponentsFilter: ComponentFilter, $baggrSignalNames: [String!]
) {
  # written for the powerwall-exporter simulator
  components {
    pws: components(filter: $pwsComponentsFilter) { signals(names: $pwsSignalNames) { name value textValue boolValue } activeAlerts { name } }
    pch: components(filter: $pchComponentsFilter) { partNumber serialNumber signals(names: $pchSignalNames) { name value textValue boolValue } activeAlerts { name } }
    bms: components(filter: $bmsComponentsFilter) { signals(names: $bmsSignalNames) { name value textValue boolValue } activeAlerts { name } }
    hvp: components(filter: $hvpComponentsFilter) { partNumber serialNumber signals(names: $hvpSignalNames) { name value textValue boolValue } activeAlerts { name } }
    baggr: components(filter: $baggrComponentsFilter) { signals(names: $baggrSignalNames) { name value textValue boolValue } activeAlerts { name } }
  }
}
"""  # noqa: E501 - one line per component group reads best

DEVICE_CONTROLLER_VARIABLES: dict[str, Any] = {
    "msaComp": {"types": ["PVS", "PVAC", "TESYNC", "TEPINV", "TETHC", "STSTSM", "TEMSA", "TEPOD"]},
    "msaSignals": [
        "STSTSM-Location",
        "THC_AmbientTemp",
        "PVAC_Fan_Speed_Actual_RPM",
        "PINV_Pout",
        "POD_nom_energy_remaining",
        "METER_X_CTA_InstRealPower",
        "ISLAND_GridConnected",
    ],
}

_PV = "ABCDEF"
COMPONENTS_VARIABLES: dict[str, Any] = {
    "pwsComponentsFilter": {"types": ["PW3SAF"]},
    "pwsSignalNames": [
        "PWS_SelfTest",
        "PWS_PeImpTestState",
        "PWS_PvIsoTestState",
        "PWS_RelaySelfTest_State",
        "PWS_MciTestState",
        "PWS_ProdSwitch_State",
    ],
    "pchComponentsFilter": {"types": ["PCH"]},
    "pchSignalNames": [
        "PCH_State",
        *(f"PCH_PvState_{x}" for x in _PV),
        *(f"PCH_PvVoltage{x}" for x in _PV),
        *(f"PCH_PvCurrent{x}" for x in _PV),
        "PCH_AcFrequency",
        "PCH_AcVoltageAB",
        "PCH_AcVoltageAN",
        "PCH_AcVoltageBN",
        "PCH_BatteryPower",
        "PCH_AcRealPowerAB",
        "PCH_SlowPvPowerSum",
        "PCH_AcMode",
    ],
    "bmsComponentsFilter": {"types": ["PW3BMS"]},
    "bmsSignalNames": ["BMS_nominalEnergyRemaining", "BMS_nominalFullPackEnergy"],
    "hvpComponentsFilter": {"types": ["PW3HVP"]},
    "hvpSignalNames": ["HVP_State"],
    "baggrComponentsFilter": {"types": ["BAGGR"]},
    "baggrSignalNames": [
        "BAGGR_State",
        "BAGGR_NumBatteriesConnected",
        "BAGGR_NumBatteriesPresent",
        "BAGGR_NumBatteriesExpected",
    ],
}

QUERIES: dict[str, tuple[str, dict[str, Any]]] = {
    "device_controller_full": (DEVICE_CONTROLLER_TEXT, DEVICE_CONTROLLER_VARIABLES),
    "components": (COMPONENTS_TEXT, COMPONENTS_VARIABLES),
}


class SigningKey:
    """A throwaway P-521 key (generated in memory, never written anywhere)."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self._key = ec.generate_private_key(ec.SECP521R1())

    def sign(self, data: bytes) -> bytes:
        """DER ECDSA/SHA-256 signature over ``data``."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        return bytes(self._key.sign(data, ec.ECDSA(hashes.SHA256())))

    @property
    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return bytes(
            self._key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def query_entries(key: SigningKey) -> dict[str, dict[str, Any]]:
    """The query file's entries, signed with ``key``."""
    return {
        name: {
            "text": text,
            "code": key.sign(signed_bytes(WIRE_VERSION, text.encode("utf-8"))).hex(),
            "b_value": json.dumps(variables),
            "version": 0,
        }
        for name, (text, variables) in QUERIES.items()
    }


def write_query_file(path: Path, key: SigningKey | None = None) -> bytes:
    """Write a signed query file to ``path``; return the PEM public key to give the simulator (and
    the loader). A new throwaway key is generated unless ``key`` is given."""
    key = key if key is not None else SigningKey()
    path.write_text(json.dumps(query_entries(key), indent=2), encoding="utf-8")
    return key.public_pem

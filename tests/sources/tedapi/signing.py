"""Throwaway query signing for tests: our own query texts, signed with a key made per test run.

Tesla's texts and signatures are never part of this repository; the operation and signal names
in these texts are facts (shared/docs/tedapi.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from exporter.simulator.tedapi.queries import SigningKey
from exporter.sources.tedapi.queries import signed_bytes


class Signer:
    """Query-file entries of our own texts, signed with a throwaway key (the simulator's)."""

    def __init__(self) -> None:
        self._key = SigningKey()

    @property
    def public_pem(self) -> bytes:
        return self._key.public_pem

    def sign(self, text: str, version: int = 1) -> str:
        return self._key.sign(signed_bytes(version, text.encode())).hex()

    def entry(
        self, text: str, variables: dict[str, Any] | None = None, version: int = 0, **extra: Any
    ) -> dict[str, Any]:
        return {
            "text": text,
            "code": self.sign(text, max(version, 1)),
            "b_value": json.dumps(variables or {}),
            "version": version,
            **extra,
        }

    def write(self, path: Path, entries: dict[str, dict[str, Any]]) -> Path:
        path.write_text(json.dumps(entries))
        return path


CONTROLLER_TEXT = (
    "query DeviceControllerQuery($msaComp:ComponentFilter $msaSignals:[String!]){control{systemStatus"
    "{nominalFullPackEnergyWh nominalEnergyRemainingWh}}components{msa:components(filter:$msaComp)"
    "{partNumber serialNumber signals(names:$msaSignals){name value textValue boolValue}activeAlerts{name}}}}"
)
COMPONENTS_TEXT = (
    "query ComponentsQuery($pchComponentsFilter:ComponentFilter $pchSignalNames:[String!]"
    " $bmsComponentsFilter:ComponentFilter $bmsSignalNames:[String!]){components{"
    "pch:components(filter:$pchComponentsFilter){signals(names:$pchSignalNames){name value textValue boolValue}}"
    "bms:components(filter:$bmsComponentsFilter){signals(names:$bmsSignalNames){name value}}}}"
)
CONTROLLER_VARIABLES = {"msaComp": {"types": ["PVAC", "TETHC"]}, "msaSignals": ["THC_AmbientTemp"]}
COMPONENTS_VARIABLES = {
    "pchComponentsFilter": {"types": ["PCH"]},
    "pchSignalNames": ["PCH_State", "PCH_PvVoltageA"],
    "bmsComponentsFilter": {"types": ["PW3BMS"]},
    "bmsSignalNames": ["BMS_nominalEnergyRemaining"],
}

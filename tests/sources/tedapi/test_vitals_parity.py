"""A Powerwall 2 site reported through TEDAPI gives the same per-device families as through vitals.

The vitals capture (shared/fixtures/vitals/pwsim-vitals.pb) is decoded; a TEDAPI
DeviceControllerQuery answer is then built from the decoded values in TEDAPI's shapes; both are
flattened by the one rule table and the curated (metric, label names and non-identity label values)
sets compared per family. Identity values may differ by design: TEDAPI's PINV/POD carry the
Powerwall's package identity (THC's), vitals the boards' own.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from exporter.devices.flatten import flatten_devices
from exporter.devices.model import Device
from exporter.devices.resolve import GENERIC_PREFIX
from exporter.metrics.metricset import MetricSet
from exporter.sources.tedapi.devices import controller_devices
from exporter.sources.vitals.decode import decode_vitals
from tests.support.prereqs import require_fixtures

FAMILIES = ("TEPINV", "TEPOD", "TETHC", "PVAC", "PVS", "TESYNC")
IDENTITY = {"serial", "part_number", "din", "parent_din", "firmware", "manufacturer"}
GATEWAY_DIN = "1232100-00-E--TG123456789ABC"


def _by_family(devices: list[Device], family: str) -> list[Device]:
    return [d for d in devices if d.family == family]


def _group(signals: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k: v for k, v in signals.items() if k.startswith(prefix)}


def _rx(d: Device) -> dict[str, str]:
    """TEDAPI's ``lastRxTime`` for the vitals' lastCommunicationTime."""
    if d.last_communication is None:
        return {}
    return {"lastRxTime": datetime.fromtimestamp(d.last_communication, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _tedapi_answer(vitals: list[Device]) -> dict[str, Any]:
    """A DeviceControllerQuery ``data`` holding the vitals' values in TEDAPI's shapes."""
    thc = _by_family(vitals, "TETHC")
    pinv = _by_family(vitals, "TEPINV")
    pod = _by_family(vitals, "TEPOD")
    pvac = _by_family(vitals, "PVAC")
    pvs = _by_family(vitals, "PVS")
    sync = _by_family(vitals, "TESYNC")[0]
    msa: list[dict[str, Any]] = []

    def comp(d: Device, names: list[str], serial: str | None) -> None:
        sigs = []
        for n in names:
            v = d.signals[n]
            key = "boolValue" if isinstance(v, bool) else "textValue" if isinstance(v, str) else "value"
            sigs.append({"name": n, key: v})
        msa.append({"serialNumber": serial, "signals": sigs, "activeAlerts": []})

    for t in thc:
        comp(t, list(t.signals), t.serial)
    for p in pinv:
        comp(
            p,
            [
                n
                for n in p.signals
                if n
                not in {
                    "PINV_Pout",
                    "PINV_Fout",
                    "PINV_Vout",
                    "PINV_State",
                    "PINV_GridState",
                    "PINV_VSplit1",
                    "PINV_VSplit2",
                }
            ],
            None,
        )
    for p in pod:
        comp(
            p,
            [n for n in p.signals if not n.startswith("POD_nom_energy_remaining") and n != "POD_nom_full_pack_energy"],
            None,
        )
    comp(sync, [n for n in sync.signals if n.startswith("SYNC_")], None)
    return {
        "esCan": {
            "bus": {
                "THC": [{"packagePartNumber": t.part_number, "packageSerialNumber": t.serial, **_rx(t)} for t in thc],
                "PINV": [
                    {
                        "PINV_Status": {
                            k: p.signals[k]
                            for k in ("PINV_Pout", "PINV_Fout", "PINV_Vout", "PINV_State", "PINV_GridState")
                        },
                        "PINV_AcMeasurements": {k: p.signals[k] for k in ("PINV_VSplit1", "PINV_VSplit2")},
                        **_rx(p),
                        "alerts": {"active": list(p.alerts)},
                    }
                    for p in pinv
                ],
                "POD": [
                    {
                        **_rx(p),
                        "POD_EnergyStatus": {
                            k: p.signals[k] for k in ("POD_nom_energy_remaining", "POD_nom_full_pack_energy")
                        },
                    }
                    for p in pod
                ],
                "PVAC": [
                    {
                        "packagePartNumber": p.part_number,
                        "packageSerialNumber": p.serial,
                        **_rx(p),
                        "PVAC_Status": _group(p.signals, "PVAC_"),
                        "alerts": {"active": list(p.alerts)},
                    }
                    for p in pvac
                ],
                "PVS": [{"PVS_Status": dict(p.signals), "alerts": {"active": list(p.alerts)}, **_rx(p)} for p in pvs],
                "SYNC": {
                    "packagePartNumber": sync.part_number,
                    "packageSerialNumber": sync.serial,
                    **_rx(sync),
                    "METER_X_AcMeasurements": _group(sync.signals, "METER_X_"),
                    "METER_Y_AcMeasurements": _group(sync.signals, "METER_Y_"),
                    "alerts": {"active": list(sync.alerts)},
                },
                "ISLANDER": {"ISLAND_AcMeasurements": _group(sync.signals, "ISLAND_")},
            }
        },
        "components": {"msa": msa},
    }


def _shape(devices: list[Device]) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    ms = MetricSet()
    flatten_devices([d for d in devices if d.family in FAMILIES], ms, "parity")
    out = set()
    for name in ms.names():
        if name.startswith(GENERIC_PREFIX):
            continue
        for key in ms.samples(name):
            labels = dict(key)
            family = labels["device"]
            rest = tuple(sorted((k, v if k not in IDENTITY else "") for k, v in labels.items() if k != "device"))
            out.add((family, name, rest))
    return out


def test_same_families_and_labels_as_vitals() -> None:
    vitals = decode_vitals((require_fixtures() / "vitals" / "pwsim-vitals.pb").read_bytes())
    tedapi = controller_devices(_tedapi_answer(vitals), GATEWAY_DIN, "23.44.0")
    assert {d.family for d in tedapi} >= set(FAMILIES)
    assert _shape(tedapi) == _shape(vitals)


def test_same_values_as_vitals() -> None:
    vitals = decode_vitals((require_fixtures() / "vitals" / "pwsim-vitals.pb").read_bytes())
    tedapi = controller_devices(_tedapi_answer(vitals), GATEWAY_DIN, "23.44.0")
    for family in FAMILIES:
        v = [d.signals for d in _by_family(vitals, family)]
        t = [d.signals for d in _by_family(tedapi, family)]
        assert len(v) == len(t), family
        for vs, ts in zip(v, t, strict=True):
            assert ts == {k: vs[k] for k in ts}, family

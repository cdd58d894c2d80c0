"""The signal and group shapes every simulated TEDAPI answer is built of (shared/docs/tedapi.md §4)."""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from exporter.simulator.vitals import VitalValue

JSON = dict[str, Any]
Value = VitalValue | None
NEVER = "0001-01-01T00:00:00Z"  # lastRxTime of a group never heard from

# The component types the gateway knows (shared/docs/tedapi.md §3): a device of another type is never
# listed, and a type outside this set anywhere in a query's variables empties the whole answer.
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


def f32(x: float) -> float:
    """``x`` as the gateway sends it: a float32 widened to a double (239.87000274658203)."""
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


def signal(name: str, value: Value, ts: str) -> JSON:
    out: JSON = {"name": name, "value": None, "textValue": None, "boolValue": None, "timestamp": ts}
    if isinstance(value, bool):
        out["boolValue"] = value
    elif isinstance(value, str):
        out["textValue"] = value
    elif value is not None:
        out["value"] = f32(float(value))
    return out


def names(variables: Mapping[str, Any], key: str) -> list[str]:
    raw = variables.get(key)
    return [n for n in raw if isinstance(n, str)] if isinstance(raw, list) else []


def wanted(variables: Mapping[str, Any], key: str, own_type: str) -> bool:
    """A group is answered unless its filter names other types only."""
    flt = variables.get(key)
    if not isinstance(flt, dict) or not isinstance(flt.get("types"), list):
        return True
    return own_type in flt["types"]


def signals(names: Sequence[str], values: Mapping[str, Value], known: frozenset[str], ts: str) -> list[JSON]:
    return [signal(n, values.get(n), ts) for n in names if n in values or n in known]


def group(ts: str, values: Mapping[str, Any] | None = None, *, mia: bool = False) -> JSON:
    return {"isMIA": mia, "isComplete": not mia, "lastRxTime": NEVER if mia else ts, **(values or {})}

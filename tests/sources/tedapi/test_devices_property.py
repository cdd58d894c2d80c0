"""Invariants of the TEDAPI device export over answers nobody has captured yet.

The public record holds one capture per gateway generation, so these tests generate the shapes
around it: DeviceControllerQuery and ComponentsQuery answers of a Powerwall 2 or a Powerwall 3 site
in the real gateway's styles (shared/docs/tedapi.md section 4), with what real answers vary in:
zero-filled slots with ``isMIA`` inside, slot-level ``isMIA``, missing, extra, null and wrongly
typed fields, a signal listed twice, msa entries with all-zero part numbers or no serial, packs
without a matching hvp, a pack or a Powerwall listed twice. Whatever the answer, the export:

* does not raise;
* has no per-device series with an empty serial (an empty slot is no device);
* counts no device and no pack twice: pack energy only on pack records, one series per pack, each
  pack one the site has;
* keeps the packs' sum within the site's total when both are exported (a pack counted twice
  would exceed it);
* passes ``promtool check metrics`` (a sample of the generated expositions, in one call).

Each site's ground truth (its packs and their energies) is drawn first and the answers are built
from it, so the totals are known; the gateway-style variations only drop, repeat or garble fields,
never invent energy.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.devices.flatten import flatten_devices
from exporter.metrics.metricset import MetricSet
from exporter.site.mappers import JSON_MAPPERS
from exporter.sources.json_api import endpoints as ep
from exporter.sources.tedapi.devices import blocks, components_devices, controller_devices
from exporter.sources.tedapi.site import site_answers
from exporter.web.exposition import render_text
from tests.support.prereqs import require_binary

NEVER = "0001-01-01T00:00:00Z"
ZERO_PART = "0" * 20
PW3_PART = "1707000-11-J"
PW2_PART = "3012170-05-B"
EXPANSION_PART = "1807000-20-B"
PACK_FAMILIES = frozenset({"HVP", "TEPOD"})
WH_J = 3600.0
MAX_EXAMPLES = 150
PROMTOOL_SAMPLE = 6

SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Draw = Callable[..., Any]
JSON = dict[str, Any]
JUNK: list[Any] = [None, "", "x", [], {}, [None], {"isMIA": True}, True, False]


@dataclass(frozen=True)
class Pack:
    serial: str
    part: str
    full_kwh: float
    left_kwh: float


@dataclass(frozen=True)
class Unit:
    part: str
    serial: str
    packs: tuple[Pack, ...]

    @property
    def din(self) -> str:
        return f"{self.part}--{self.serial}"


@dataclass(frozen=True)
class Site:
    pw3: bool
    units: tuple[Unit, ...]

    @property
    def packs(self) -> list[Pack]:
        return [p for u in self.units for p in u.packs]

    @property
    def gateway_din(self) -> str:
        return self.units[0].din if self.pw3 else "1232100-00-E--TG000000GW01"


@st.composite
def sites(draw: Draw) -> Site:
    pw3 = draw(st.booleans())
    n_units = draw(st.integers(1, 3))
    n_packs = [draw(st.integers(1, 3)) if pw3 else 1 for _ in range(n_units)]
    ids = draw(
        st.lists(st.integers(1, 10**9), min_size=n_units + sum(n_packs), max_size=n_units + sum(n_packs), unique=True)
    )
    units: list[Unit] = []
    k = n_units
    for u in range(n_units):
        packs: list[Pack] = []
        for p in range(n_packs[u]):
            full = draw(st.floats(5.0, 15.0, allow_nan=False)) if pw3 else draw(st.floats(5000.0, 15000.0))
            left = draw(st.floats(0.0, 1.0)) * full
            if pw3:
                # The built-in pack has the unit's serial; each DC expansion its own.
                serial, part = (f"TG{ids[u]:012d}", PW3_PART) if p == 0 else (f"TG{ids[k]:012d}", EXPANSION_PART)
            else:
                serial, part = f"TG{ids[u]:012d}", PW2_PART
            k += 1
            packs.append(Pack(serial, part, full, left))
        units.append(Unit(PW3_PART if pw3 else PW2_PART, f"TG{ids[u]:012d}", tuple(packs)))
    return Site(pw3, tuple(units))


# ----------------------------------------------------------------------------- gateway styles
def _maybe(draw: Draw, value: Any, *, p_junk: float = 0.08) -> Any:
    """``value``, or now and then something a hostile or odd gateway might send instead."""
    if draw(st.floats(0.0, 1.0)) < p_junk:
        return draw(st.sampled_from(JUNK))
    return value


def _garble(draw: Draw, entry: JSON) -> JSON:
    """Drop a key, null or mistype a field, or add an unknown one."""
    out = dict(entry)
    for key in list(out):
        choice = draw(st.sampled_from(["keep"] * 10 + ["drop", "junk"]))
        if choice == "drop":
            del out[key]
        elif choice == "junk":
            out[key] = draw(st.sampled_from(JUNK))
    if draw(st.booleans()):
        out[draw(st.sampled_from(["extra", "isComplete", "lastRxTime", "packageSerialNumber"]))] = draw(
            st.sampled_from(JUNK)
        )
    return out


def _sig(draw: Draw, name: str, value: float | str | bool | None) -> list[JSON]:
    """One signal as the gateway lists it; sometimes garbled, sometimes listed twice (same value)."""
    field = "boolValue" if isinstance(value, bool) else "textValue" if isinstance(value, str) else "value"
    sig: JSON = {"name": name, "value": None, "textValue": None, "boolValue": None, "timestamp": NEVER}
    sig[field] = value
    style = draw(st.sampled_from(["plain"] * 6 + ["twice", "null", "junk", "garbled"]))
    if style == "twice":
        return [sig, dict(sig)]
    if style == "null":
        sig[field] = None
    elif style == "junk":
        sig[field] = draw(st.sampled_from(["x", [], {}, [None]]))
    elif style == "garbled":
        sig = _garble(draw, sig)
    return [sig]


def _part(draw: Draw, real: str) -> Any:
    return draw(st.sampled_from([real, real, ZERO_PART, "", None, 5, "missing"]))


def _identity(draw: Draw, part: str, serial: str, *, keep_serial: float = 0.85) -> JSON:
    out: JSON = {}
    p = _part(draw, part)
    if p != "missing":
        out["partNumber"] = p
    if draw(st.floats(0.0, 1.0)) < keep_serial:
        out["serialNumber"] = serial
    else:
        s = draw(st.sampled_from(["", None, "missing", 7]))
        if s != "missing":
            out["serialNumber"] = s
    return out


def _empty_slot(draw: Draw, groups: dict[str, JSON], identity: bool) -> Any:
    """An empty esCan slot in one of the styles seen: fw 26.10 (isMIA inside, zeros beside it),
    older (isMIA on the slot, nothing inside), or a garbled one."""
    style = draw(st.sampled_from(["pw3-26.10", "pw3-26.10", "slot-mia", "garbled", "junk"]))
    if style == "junk":
        return draw(st.sampled_from(JUNK))
    slot: JSON = {"packagePartNumber": "", "packageSerialNumber": ""} if identity else {}
    if style == "slot-mia":
        slot.update({"isMIA": True, "isComplete": False, "lastRxTime": NEVER})
        return slot
    for name, values in groups.items():
        slot[name] = {"isMIA": True, "isComplete": False, "lastRxTime": NEVER, **values}
    slot["alerts"] = {"active": []}
    return _garble(draw, slot) if style == "garbled" else slot


PW3_SLOTS: dict[str, tuple[dict[str, JSON], bool]] = {
    "PINV": (
        {
            "PINV_Status": {"PINV_Pout": 0, "PINV_State": "PINV_Off", "PINV_GridState": "Grid_Uncompliant"},
            "PINV_AcMeasurements": {"PINV_VSplit1": 0, "PINV_VSplit2": 0},
        },
        False,
    ),
    "POD": ({"POD_EnergyStatus": {"POD_nom_energy_remaining": 0, "POD_nom_full_pack_energy": 0}}, False),
    "THC": ({"THC_InfoMsg": {"THC_AmbientTemp": 0}}, True),
    "PVAC": ({"PVAC_Status": {"PVAC_Pout": 0, "PVAC_Vout": 0}}, True),
    "PVS": ({"PVS_Status": {"PVS_vLL": 0, "PVS_StringA_Connected": False}}, True),
}


def _empty_bus(draw: Draw) -> JSON:
    return {
        array: [_empty_slot(draw, groups, identity) for _ in range(draw(st.integers(0, 4)))]
        for array, (groups, identity) in PW3_SLOTS.items()
    }


def _system_status(draw: Draw, site: Site) -> Any:
    full = round(sum(p.full_kwh for p in site.packs) * (1000.0 if site.pw3 else 1.0))
    left = round(sum(p.left_kwh for p in site.packs) * (1000.0 if site.pw3 else 1.0))
    return _maybe(draw, {"nominalFullPackEnergyWh": _maybe(draw, full), "nominalEnergyRemainingWh": _maybe(draw, left)})


def _pw3_pack_msa(draw: Draw, site: Site) -> list[Any]:
    """components.msa of a Powerwall 3: every pack under its serial and an all-zero part number."""
    out: list[Any] = []
    for pack in site.packs:
        entry = _identity(draw, ZERO_PART, pack.serial)
        entry["signals"] = [
            *_sig(draw, "BMS_nominalFullPackEnergy", pack.full_kwh),
            *_sig(draw, "BMS_nominalEnergyRemaining", pack.left_kwh),
        ]
        entry["activeAlerts"] = _maybe(draw, [])
        out.append(_maybe(draw, entry, p_junk=0.05))
        if draw(st.integers(0, 9)) == 0:
            out.append(dict(entry))  # listed twice
    return out


def _pw2_bus(draw: Draw, site: Site) -> JSON:
    thc: list[Any] = []
    pinv: list[Any] = []
    pod: list[Any] = []
    for unit in site.units:
        pack = unit.packs[0]
        mia = draw(st.integers(0, 7)) == 0  # a Powerwall whose inverter stopped talking
        thc.append(
            _maybe(
                draw,
                {
                    "packagePartNumber": _maybe(draw, unit.part),
                    "packageSerialNumber": unit.serial,
                    "alerts": {"active": []},
                },
                p_junk=0.05,
            )
        )
        status: JSON = {"PINV_Pout": 0 if mia else -0.5, "PINV_State": "PINV_Off" if mia else "PINV_GridFollowing"}
        pinv.append(_maybe(draw, {"PINV_Status": {**status, "isMIA": mia}, "alerts": {"active": []}}, p_junk=0.05))
        energy = {"POD_nom_full_pack_energy": pack.full_kwh, "POD_nom_energy_remaining": pack.left_kwh}
        pod.append(_maybe(draw, {"POD_EnergyStatus": _garble(draw, energy) if draw(st.booleans()) else energy}))
    if len(site.units) > 1 and draw(st.integers(0, 5)) == 0:
        thc.insert(1, thc[0])  # the first Powerwall listed twice
        pinv.insert(1, pinv[0])
        pod.insert(1, pod[0])
    bus = _empty_bus(draw)
    for array, real in (("THC", thc), ("PINV", pinv), ("POD", pod)):
        bus[array] = real + bus[array]  # the real ones first, empty slots after, as the gateway lists them
    return bus


def _pw2_msa(draw: Draw, site: Site) -> list[Any]:
    out: list[Any] = []
    for unit in site.units:
        thc = _identity(draw, unit.part, unit.serial)
        thc["signals"] = _sig(draw, "THC_AmbientTemp", 20.0)
        out.append(thc)
        pod: JSON = {
            "partNumber": None,
            "serialNumber": None,
            "signals": _sig(draw, "POD_available_charge_power", 5000.0),
        }
        out.append(_maybe(draw, pod))
    out.append({"partNumber": ZERO_PART, "serialNumber": "", "signals": _sig(draw, "BMS_nominalFullPackEnergy", 13.5)})
    return out


def controller_answer(draw: Draw, site: Site) -> JSON:
    bus = _pw2_bus(draw, site) if not site.pw3 else _empty_bus(draw)
    msa = _pw3_pack_msa(draw, site) if site.pw3 else _pw2_msa(draw, site)
    extra: list[Any] = draw(st.lists(st.sampled_from(JUNK), max_size=2))
    return {
        "control": {
            "systemStatus": _system_status(draw, site),
            "alerts": {"active": _maybe(draw, ["SystemConnectedToGrid"])},
            "batteryBlocks": [{"din": u.din, "disableReasons": []} for u in site.units],
        },
        "esCan": {"bus": bus},
        "components": {"msa": _maybe(draw, msa + extra, p_junk=0.03)},
    }


def components_answer(draw: Draw, unit: Unit) -> JSON:
    """One Powerwall 3's ComponentsQuery: bms[i]/hvp[i] per pack, maybe a phantom slot, odd lists."""
    bms: list[Any] = []
    hvp: list[Any] = []
    for pack in unit.packs:
        bms.append(
            {
                "signals": [
                    *_sig(draw, "BMS_nominalFullPackEnergy", pack.full_kwh),
                    *_sig(draw, "BMS_nominalEnergyRemaining", pack.left_kwh),
                ],
                "activeAlerts": [],
            }
        )
        h = _identity(draw, pack.part, pack.serial, keep_serial=0.9)
        h["signals"] = _sig(draw, "HVP_State", "HVP_STATE_ENERGIZED")
        hvp.append(h)
    if draw(st.booleans()):  # the phantom slot: no serial, null energies, an alert of its own
        bms.append({"signals": _sig(draw, "BMS_nominalEnergyRemaining", None), "activeAlerts": [{"name": "BMS_a066"}]})
        hvp.append({"partNumber": "", "serialNumber": "", "signals": []})
    style = draw(st.sampled_from(["as is"] * 5 + ["hvp short", "hvp repeated", "bms repeated", "junk entries"]))
    if style == "hvp short" and hvp:
        del hvp[draw(st.integers(0, len(hvp) - 1))]  # a pack without its matching hvp
    elif style == "hvp repeated":
        hvp.insert(0, hvp[0])
        bms.insert(0, bms[0])
    elif style == "bms repeated":
        bms.append(bms[0])
    elif style == "junk entries":
        bms.insert(draw(st.integers(0, len(bms))), draw(st.sampled_from(JUNK)))
    pch = {"signals": _sig(draw, "PCH_BatteryPower", -100.0), "activeAlerts": []}
    return {
        "components": {
            "pch": _maybe(draw, [pch]),
            "bms": _maybe(draw, bms, p_junk=0.03),
            "hvp": _maybe(draw, hvp, p_junk=0.03),
            "baggr": [{"signals": _sig(draw, "BAGGR_NumBatteriesPresent", float(len(unit.packs)))}],
            "pws": [],
        }
    }


def config_answer(site: Site) -> JSON:
    return {
        "vin": site.gateway_din,
        "battery_blocks": [
            {
                "vin": u.din,
                "type": ("Powerwall3" if i == 0 else "Powerwall3Follower") if site.pw3 else "Powerwall2",
                "battery_expansions": [{"din": f"{p.part}--{p.serial}"} for p in u.packs[1:]],
            }
            for i, u in enumerate(site.units)
        ],
    }


# ----------------------------------------------------------------------------- the export
def export(site: Site, controller: JSON, components: list[JSON], example: int) -> MetricSet:
    """What the TEDAPI source exports from these answers: devices per answer, then the site stand-ins."""
    ms = MetricSet(base_labels={"example": str(example)})
    config = config_answer(site)
    flatten_devices(controller_devices(controller, site.gateway_din, "26.10.0"), ms, "tedapi:controller")
    if site.pw3:
        for block, answer in zip(blocks(config), components, strict=True):
            flatten_devices(components_devices(answer, block, "26.10.0"), ms, f"tedapi:components:{block.din}")
    paths = {r.label: r.path for r in ep.REQUESTS}
    for label, obj in site_answers(config, controller, None, site.gateway_din).items():
        if label in paths and paths[label] in JSON_MAPPERS:
            JSON_MAPPERS[paths[label]](obj, ms)
    return ms


def _labels(ms: MetricSet, name: str) -> list[tuple[dict[str, str], float]]:
    return [(dict(k), v) for k, v in ms.samples(name).items()]


def check_invariants(site: Site, ms: MetricSet) -> None:
    for name in ms.names():
        for labels, _ in _labels(ms, name):
            assert labels.get("serial") != "", f"{name}{labels}: a per-device series without a serial"
    known = {p.serial for p in site.packs}
    info = [(lb["device"], lb["serial"]) for lb, _ in _labels(ms, "powerwall_device_info")]
    pack_info = [s for d, s in info if d in PACK_FAMILIES]
    assert len(pack_info) == len(set(pack_info)) and set(pack_info) <= known, info
    for pack_metric, site_metric in (
        ("powerwall_pod_full_pack_energy_joules", "powerwall_battery_full_pack_energy_joules"),
        ("powerwall_pod_energy_remaining_joules", "powerwall_battery_remaining_energy_joules"),
    ):
        packs = _labels(ms, pack_metric)
        assert {lb["device"] for lb, _ in packs} <= PACK_FAMILIES, packs
        serials = [lb["serial"] for lb, _ in packs]
        assert len(serials) == len(set(serials)), f"a pack counted twice: {serials}"
        assert set(serials) <= known, serials
        total = [v for _, v in _labels(ms, site_metric)]
        if packs and total:
            # Each figure is rounded on its own: up to 1 Wh per pack.
            assert sum(v for _, v in packs) <= total[0] + WH_J * len(packs), (pack_metric, packs, total)


@st.composite
def scenarios(draw: Draw) -> tuple[Site, JSON, list[JSON]]:
    site = draw(sites())
    controller = controller_answer(draw, site)
    components = [components_answer(draw, u) for u in site.units] if site.pw3 else []
    return site, controller, components


def test_export_invariants_and_promtool() -> None:
    """The invariants on every generated answer; promtool on a sample of the richest expositions."""
    kept: list[tuple[int, MetricSet]] = []

    @SETTINGS
    @given(scenarios())
    def check(scenario: tuple[Site, JSON, list[JSON]]) -> None:
        site, controller, components = scenario
        ms = export(site, controller, components, len(kept))
        check_invariants(site, ms)
        render_text(ms, include_default=False)
        kept.append((len(ms), ms))

    check()
    promtool = require_binary("promtool")
    sample = sorted(kept, key=lambda x: x[0], reverse=True)[:PROMTOOL_SAMPLE]
    merged = MetricSet()
    for _, ms in sample:
        merged.merge(ms)
    body = render_text(merged, include_default=False)
    proc = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert not proc.stdout.strip() and not proc.stderr.strip(), proc.stdout.decode() + proc.stderr.decode()

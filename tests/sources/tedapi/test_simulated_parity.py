"""For the same model state, the TEDAPI path gives the per-device series the vitals path gives.

One simulated Powerwall 2 site at one frozen instant serves both vitals and TEDAPI; one collector
reads vitals, the other TEDAPI (its vitals source removed). Their per-device series (name and every
label) must be the same set, after the two differences the wire formats force, each documented:

* TEDAPI's PINV and POD carry no serials: they are paired by index with their THC and take the
  Powerwall's identity (issue and shared/docs/tedapi.md §4). Vitals names the inverter and pod
  sub-assemblies (TEPINV--1081100-…), whose parent is that THC: the vitals side is compared with
  its TEPINV/TEPOD identities replaced by their parent's.
* TEDAPI reports no firmware build for the site controller, the PVS and the PINV (no ``*_InfoMsg``): those
  records carry the gateway's firmware version, so their ``firmware`` label is not compared.

What one path has and the other cannot are pinned below, so a change to either shows up here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from exporter.devices.model import split_din
from exporter.metrics.metricset import MetricSet
from exporter.simulator import SiteModel
from tests.sources.tedapi.test_tedapi_against_simulator import start_site
from tests.support.wiring import make_collector

FROZEN = 1_750_000_000.0
Series = tuple[str, tuple[tuple[str, str], ...]]

# Vitals has it, TEDAPI cannot: the Neurio CT's location lives in config.json meters[].cts.
VITALS_ONLY_FAMILIES = {"powerwall_ct_location_info"}
# TEDAPI has it, the simulated vitals do not (signals TEDAPI's extras ask for).
TEDAPI_ONLY_FAMILIES = {
    "powerwall_ct_voltage_volts",
    "powerwall_device_uptime_seconds",
    "powerwall_fan_speed_rpm",
    "powerwall_inverter_heatsink_temperature_celsius",
}
TEDAPI_ONLY_NEURIO = {"powerwall_ct_current_amperes", "powerwall_ct_reactive_power_var"}
# Vitals' site controller has a last-communication time; TEDAPI reports none for the gateway itself.
VITALS_ONLY_STSTSM = {"powerwall_device_last_communication_timestamp_seconds"}
NO_FIRMWARE = {"STSTSM", "PVS", "TEPINV"}


def _per_device(ms: MetricSet) -> dict[Series, float]:
    out: dict[Series, float] = {}
    for name in ms.names():
        for key, value in ms.samples(name).items():
            labels = dict(key)
            if "device" in labels:
                labels.pop("gateway", None)
                out[(name, tuple(sorted(labels.items())))] = value
    return out


def _normalise(series: dict[Series, float], swap: dict[tuple[str, str, str], str]) -> set[Series]:
    out: set[Series] = set()
    for name, labels in series:
        d = dict(labels)
        parent = swap.get((d["device"], d["serial"], d["part_number"]))
        if parent is not None:
            _, d["part_number"], d["serial"] = split_din(parent)
            if "din" in d:
                d["din"] = f"{d['device']}--{d['part_number']}--{d['serial']}"
        if name == "powerwall_device_info" and d["device"] in NO_FIRMWARE:
            d.pop("firmware")
        out.add((name, tuple(sorted(d.items()))))
    return out


def _scrape(tmp_path: Path, *, keep_vitals: bool) -> tuple[dict[Series, float], dict[Series, float]]:
    """One frozen simulated Powerwall 2 site serving vitals and TEDAPI: its per-device series read by a
    collector without ``tedapi:`` and by one with it (its vitals source removed unless ``keep_vitals``)."""
    model = SiteModel(seed=7, powerwalls=2, solar_powerwall=True, clock=lambda: FROZEN)
    site = start_site(tmp_path, model)
    try:
        vitals_collector = make_collector(dataclasses.replace(site.cfg, tedapi=None))
        tedapi_collector = make_collector(site.cfg)
        if not keep_vitals:
            scraper = next(iter(tedapi_collector.scrapers.values()))
            scraper.sources = [s for s in scraper.sources if s.name != "vitals"]
        try:
            return _per_device(vitals_collector.scrape()), _per_device(tedapi_collector.scrape())
        finally:
            vitals_collector.close()
            tedapi_collector.close()
    finally:
        site.gw.stop()


def test_tedapi_and_vitals_give_the_same_per_device_series(tmp_path: Path) -> None:
    vitals, tedapi = _scrape(tmp_path, keep_vitals=False)
    assert any(n == "powerwall_inverter_power_watts" for n, _ in tedapi), "TEDAPI delivered no devices"
    swap = {
        (d["device"], d["serial"], d["part_number"]): d["parent_din"]
        for n, labels in vitals
        if n == "powerwall_device_info" and (d := dict(labels))["device"] in ("TEPINV", "TEPOD")
    }
    assert len(swap) == 4  # two Powerwalls' inverters and pods
    v, t = _normalise(vitals, swap), _normalise(tedapi, {})
    v_families, t_families = {n for n, _ in v}, {n for n, _ in t}
    assert v_families - t_families == VITALS_ONLY_FAMILIES
    assert t_families - v_families == TEDAPI_ONLY_FAMILIES
    only_v = {s for s in v - t if s[0] not in VITALS_ONLY_FAMILIES}
    only_t = {s for s in t - v if s[0] not in TEDAPI_ONLY_FAMILIES}
    assert {n for n, labels in only_t if dict(labels)["device"] == "NEURIO"} == TEDAPI_ONLY_NEURIO
    assert {n for n, labels in only_v if dict(labels)["device"] == "STSTSM"} == VITALS_ONLY_STSTSM
    rest_v = {s for s in only_v if dict(s[1])["device"] != "STSTSM"}
    rest_t = {s for s in only_t if dict(s[1])["device"] != "NEURIO"}
    assert not rest_v and not rest_t, (sorted(rest_v), sorted(rest_t))
    # Same model state, same values, wherever both paths report a numeric series.
    for series in set(vitals) & set(tedapi):
        assert abs(vitals[series] - tedapi[series]) <= 1e-6 * max(1.0, abs(vitals[series])) or series[0].endswith(
            "_timestamp_seconds"
        ), series


def test_with_vitals_answering_tedapi_does_not_report_the_devices_twice(tmp_path: Path) -> None:
    """Firmware before 23.44 with ``tedapi:`` on: vitals speaks for the devices, TEDAPI adds the rest."""
    without, with_tedapi = _scrape(tmp_path, keep_vitals=True)
    assert set(with_tedapi) == set(without)  # PW2 controller devices come from vitals only

"""Every contract metric of the core issue, with its exact value, against two real captures.

The captures are served by the simulated gateway in replay mode and scraped over real HTTPS through
the whole exporter (client → mapping → collector → HTTP exposition), then parsed back.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exporter.sources.registry import ALL_REQUESTS
from exporter.web.server import ExporterApp, ExporterServer
from tests.scrape import scrape
from tests.support.wiring import gateway_config, make_collector, replay

H = 3600.0
M_21 = {"site": 537.0, "battery": 10.0, "load": 540.25, "solar": -2.0}

# (metric, labels, value) rows; the gateway="home" label is implied.
EXPECTED: dict[str, list[tuple[str, dict[str, str], float]]] = {
    "fw-21.39.1": [
        *[("powerwall_meter_power_watts", {"meter": m}, v) for m, v in M_21.items()],
        ("powerwall_meter_reactive_power_var", {"meter": "site"}, -771.0),
        ("powerwall_meter_apparent_power_va", {"meter": "battery"}, 330.15148038438355),
        ("powerwall_meter_frequency_hertz", {"meter": "battery"}, 59.989000000000004),
        ("powerwall_meter_voltage_volts", {"meter": "site"}, 214.1810727369484),
        ("powerwall_meter_current_amperes", {"meter": "solar"}, 1.3755),
        ("powerwall_meter_energy_imported_joules_total", {"meter": "site"}, 535337.2190855443 * H),
        ("powerwall_meter_energy_exported_joules_total", {"meter": "site"}, 323100.1879863516 * H),
        ("powerwall_meter_energy_exported_joules_total", {"meter": "solar"}, 1115685.6849437463 * H),
        ("powerwall_meter_energy_imported_joules_total", {"meter": "load"}, 1263925.0119600203 * H),
        ("powerwall_battery_charge_ratio", {}, 0.2900611403384047),
        ("powerwall_battery_charge_app_ratio", {}, (29.00611403384047 - 5) / 95),
        ("powerwall_backup_reserve_ratio", {}, 0.30),
        ("powerwall_backup_reserve_app_ratio", {}, 25 / 95),
        ("powerwall_operation_info", {"mode": "self_consumption"}, 1.0),
        ("powerwall_grid_status_info", {"grid_status": "SystemGridConnected", "grid_services_active": "false"}, 1.0),
        ("powerwall_grid_connected", {}, 1.0),
        (
            "powerwall_info",
            {
                "version": "21.39.1",
                "build": "21.39.1",
                "git_hash": "7759c368f4e96326389d76703a8a2ae27f091c45",
                "din": "1232100-00-E--<<GATEWAY_TSN>>",
                "device_type": "teg",
                "sync_type": "v2.1",
                "site_name": "Home Energy Gateway",
                "timezone": "America/Los_Angeles",
            },
            1.0,
        ),
        ("powerwall_uptime_seconds", {}, 55 * 3600 + 46 * 60 + 11.021029341),
        ("powerwall_sitemaster_running", {}, 1.0),
        ("powerwall_sitemaster_connected_to_tesla", {}, 1.0),
        ("powerwall_battery_full_pack_energy_joules", {}, 14066 * H),
        ("powerwall_battery_remaining_energy_joules", {}, 4080 * H),
        *[
            (f"powerwall_battery_block_{n}", {"serial": "<<BATTERY_SERIAL>>", "part_number": "3012170-05-B"}, v)
            for n, v in [
                ("remaining_energy_joules", 4080 * H),
                ("full_pack_energy_joules", 14066 * H),
                ("power_watts", -10.0),
                ("voltage_volts", 247.3),
                ("frequency_hertz", 59.984),
                ("energy_charged_joules_total", 557440 * H),
                ("energy_discharged_joules_total", 495740 * H),
                ("backup_ready", 1.0),
            ]
        ],
        ("powerwall_batteries", {}, 1.0),
        ("powerwall_site_nominal_energy_joules", {}, 13.5 * 3_600_000),
        ("powerwall_site_nominal_power_watts", {}, 5000.0),
        ("powerwall_up", {}, 1.0),
    ],
    "pypowerwall-sim": [
        *[
            ("powerwall_meter_power_watts", {"meter": m}, v)
            for m, v in {"site": 27.0, "battery": -990.0, "load": 866.25, "solar": 1840.0}.items()
        ],
        ("powerwall_meter_reactive_power_var", {"meter": "load"}, -202.75),
        ("powerwall_meter_apparent_power_va", {"meter": "site"}, 224.62858233092243),
        ("powerwall_meter_frequency_hertz", {"meter": "solar"}, 60.016000000000005),
        ("powerwall_meter_voltage_volts", {"meter": "battery"}, 243.95),
        ("powerwall_meter_current_amperes", {"meter": "battery"}, 22.3),
        ("powerwall_meter_energy_imported_joules_total", {"meter": "site"}, 6800365.841005325 * H),
        ("powerwall_meter_energy_exported_joules_total", {"meter": "site"}, 4319958.270189472 * H),
        ("powerwall_meter_energy_exported_joules_total", {"meter": "battery"}, 12319540 * H),
        ("powerwall_meter_energy_imported_joules_total", {"meter": "battery"}, 13853641 * H),
        ("powerwall_battery_charge_ratio", {}, 0.20109166592431226),
        ("powerwall_battery_charge_app_ratio", {}, (20.109166592431226 - 5) / 95),
        ("powerwall_backup_reserve_ratio", {}, 0.81),
        ("powerwall_backup_reserve_app_ratio", {}, 76 / 95),
        ("powerwall_operation_info", {"mode": "self_consumption"}, 1.0),
        ("powerwall_grid_status_info", {"grid_status": "SystemGridConnected", "grid_services_active": "false"}, 1.0),
        ("powerwall_grid_connected", {}, 1.0),
        (
            "powerwall_info",
            {
                "version": "23.44.0",
                "build": "23.44.0",
                "git_hash": "4064fc6a5b32425509f91f19556f2431cb7f6872",
                "din": "1232100-00-E--TG123456789ABC",
                "device_type": "teg",
                "sync_type": "v2.1",
                "site_name": "Tesla Energy Gateway",
                "timezone": "America/Los_Angeles",
            },
            1.0,
        ),
        ("powerwall_uptime_seconds", {}, 127 * 3600 + 34 * 60 + 16.275122187),
        ("powerwall_sitemaster_running", {}, 1.0),
        ("powerwall_sitemaster_connected_to_tesla", {}, 1.0),
        ("powerwall_battery_full_pack_energy_joules", {}, 25995 * H),
        ("powerwall_battery_remaining_energy_joules", {}, 16693 * H),
        *[
            (f"powerwall_battery_block_{n}", {"serial": "TG123456789012", "part_number": part}, v)
            for part, n, v in [
                ("2012170-25-E", "remaining_energy_joules", 8528 * H),
                ("2012170-25-E", "full_pack_energy_joules", 13305 * H),
                ("2012170-25-E", "power_watts", -1990.0),
                ("2012170-25-E", "energy_charged_joules_total", 7036162 * H),
                ("3012170-05-B", "full_pack_energy_joules", 12690 * H),
                ("3012170-05-B", "voltage_volts", 243.70000000000002),
                ("3012170-05-B", "frequency_hertz", 60.007999999999996),
                ("3012170-05-B", "energy_discharged_joules_total", 6076726 * H),
                ("3012170-05-B", "backup_ready", 1.0),
            ]
        ],
        ("powerwall_batteries", {}, 0.0),
        ("powerwall_site_nominal_energy_joules", {}, 27 * 3_600_000),
        ("powerwall_site_nominal_power_watts", {}, 10800.0),
        ("powerwall_up", {}, 1.0),
    ],
}


@pytest.fixture(params=sorted(EXPECTED))
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    gw = replay(request.param)
    gw.start()
    collector = make_collector(gateway_config(gw))
    server = ExporterServer(ExporterApp(collector), "127.0.0.1:0")
    server.start()
    try:
        yield request.param, server.port
    finally:
        server.stop()
        collector.close()
        gw.stop()


def test_every_contract_metric_has_its_exact_value(served: tuple[str, int]) -> None:
    capture, port = served
    s = scrape(port)
    missing, wrong = [], []
    for name, labels, value in EXPECTED[capture]:
        key = frozenset({**labels, "gateway": "home"}.items())
        series = s.series(name)
        if key not in series:
            missing.append((name, key))
        elif series[key] != pytest.approx(value, rel=1e-12):
            wrong.append((name, key, series[key], value))
    assert not missing, missing
    assert not wrong, wrong


def test_contract_endpoints_all_succeed(served: tuple[str, int]) -> None:
    _, port = served
    success = scrape(port).success("home")
    for path in (e.path for e in ALL_REQUESTS if not e.optional):
        assert success[path] == 1, path

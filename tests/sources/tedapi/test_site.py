"""TEDAPI site data → JSON-API-shaped answers → the existing json_api mappers' families."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from exporter.accounting.site import SiteAccounting
from exporter.config import parse_config
from exporter.metrics.metricset import MetricSet
from exporter.site.mappers import JSON_MAPPERS, gateway_info_labels
from exporter.site.shapes import Shape
from exporter.sources.tedapi.envelope import SystemInfo
from exporter.sources.tedapi.site import controller_site_metrics, site_answers
from tests.render import render
from tests.sources.tedapi import answers as a

FIRMWARE = SystemInfo(
    version="26.18.3", git_hash="1a2b3c4d5e6f", din=a.PW3_DIN, part_number="1707000-11-J", serial="TG9876543210AB"
)


@pytest.fixture(scope="module")
def answers() -> dict[Shape, dict[str, Any]]:
    return site_answers(a.pw3_config(), a.pw2_controller(), FIRMWARE, a.PW3_DIN)


@pytest.fixture(scope="module")
def ms(answers: dict[str, dict[str, object]]) -> MetricSet:
    out = MetricSet()
    for label, data in answers.items():
        JSON_MAPPERS[label](data, out)
    controller_site_metrics(a.pw2_controller(), out)
    return out


def test_keys_are_request_labels(answers: dict[str, dict[str, object]]) -> None:
    assert set(answers) == {
        Shape.OPERATION,
        Shape.SITE_INFO,
        Shape.SYSTEM_STATUS,
        Shape.STATUS,
        Shape.SITEMASTER,
    }
    assert answers[Shape.SITEMASTER] == {"running": True}
    assert answers[Shape.STATUS] == {"din": a.PW3_DIN, "version": "26.18.3 1a2b3c4d", "git_hash": "1a2b3c4d5e6f"}
    assert answers[Shape.OPERATION] == {"real_mode": "self_consumption", "backup_reserve_percent": 24.0}


@pytest.mark.parametrize(
    ("name", "labels", "value"),
    [
        ("powerwall_backup_reserve_ratio", {}, 0.24),
        ("powerwall_operation_mode", {"mode": "self_consumption"}, 1.0),
        ("powerwall_site_nominal_energy_joules", {}, 13.5 * 3.6e6),
        ("powerwall_site_nominal_power_watts", {}, 11500.0),
        ("powerwall_site_grid_voltage_setting_volts", {}, 240.0),
        ("powerwall_site_info", {"grid_code": "60Hz_240V_s_UL1741SA:2019_California", "state": "California"}, 1.0),
        ("powerwall_battery_full_pack_energy_joules", {}, 25720 * 3600.0),
        ("powerwall_battery_remaining_energy_joules", {}, 9219 * 3600.0),
        ("powerwall_battery_block_disabled_reasons", {"serial": "TG222222222222", "part_number": "3012170-05-B"}, 1),
        ("powerwall_islanding_customer_mode_info", {"state": "BackupAutomatic"}, 1.0),
        ("powerwall_islanding_contactor_closed", {}, 1.0),
        ("powerwall_islanding_microgrid_ok", {}, 1.0),
        ("powerwall_islanding_grid_ok", {}, 1.0),
        ("powerwall_site_shutdown", {}, 0.0),
    ],
)
def test_site_series(ms: MetricSet, name: str, labels: dict[str, str], value: float) -> None:
    assert ms.get(name, **labels) == pytest.approx(value)


def test_personal_data_never_copied(answers: dict[str, dict[str, object]], ms: MetricSet) -> None:
    text = json.dumps(answers) + render(ms)
    for secret in ("installer@example.com", "Jane Doe", "jane@example.com", "hunter2-never", "555-01", a.SESSION_ID):
        assert secret not in text


def test_absent_data_omits_the_dict() -> None:
    assert site_answers(None, None, None, None) == {}
    assert site_answers({"installer": {"x": 1}}, {"control": {}}, None, "x") == {}
    only_mode = site_answers({"default_real_mode": "backup"}, None, None, None)
    assert only_mode == {Shape.OPERATION: {"real_mode": "backup"}}


def test_grid_code_as_plain_string() -> None:
    got = site_answers({"site_info": {"grid_code": "50Hz_230V_1", "site_name": "Cabin"}}, None, None, None)
    assert got[Shape.SITE_INFO] == {"site_name": "Cabin", "grid_code": {"grid_code": "50Hz_230V_1"}}


def test_pw3_controller_site_metrics() -> None:
    out = MetricSet()
    controller_site_metrics(a.pw3_controller(), out)
    assert out.get("powerwall_site_shutdown") == 1.0
    assert out.get("powerwall_islanding_contactor_closed") == 0.0
    assert out.get("powerwall_islanding_microgrid_ok") is None  # absent stays absent


@pytest.mark.parametrize("controller", [None, {}, {"control": []}, {"control": {"islanding": "x", "siteShutdown": 1}}])
def test_odd_controller(controller: object) -> None:
    out = MetricSet()
    controller_site_metrics(controller, out)  # type: ignore[arg-type]
    assert len(out) == 0


@pytest.mark.parametrize(
    ("configured", "commissioned", "warranty_end"),
    [
        # config.json's "2026-04-22T12:07:43+10:00" is 02:07:43 UTC; the warranty runs ten years
        (
            None,
            datetime(2026, 4, 22, 2, 7, 43, tzinfo=timezone.utc),
            datetime(2036, 4, 22, 2, 7, 43, tzinfo=timezone.utc),
        ),
        ("2025-01-31", datetime(2025, 1, 31, tzinfo=timezone.utc), datetime(2035, 1, 31, tzinfo=timezone.utc)),
    ],
)
def test_commission_date_from_config_json(
    answers: dict[Shape, dict[str, Any]], configured: str | None, commissioned: datetime, warranty_end: datetime
) -> None:
    # The stand-in /api/site_info goes through the same accounting as the JSON API's own; a
    # configured date still wins.
    assert answers[Shape.SITE_INFO]["battery_commission_date"] == "2026-04-22T12:07:43+10:00"
    gateway: dict[str, object] = {"name": "home", "address": "192.168.91.1", "password": "pw"}
    if configured is not None:
        gateway["battery_commission_date"] = configured
    cfg = parse_config({"gateways": [gateway], "state_file": ""}).gateways[0]
    ms = MetricSet(base_labels={"gateway": "home"})
    SiteAccounting(cfg, clock=lambda: 1_800_000_000.0).observe(ms, answers)
    assert ms.get("powerwall_battery_commission_timestamp_seconds") == commissioned.timestamp()
    assert ms.get("powerwall_battery_warranty_end_timestamp_seconds") == warranty_end.timestamp()


def test_a_firmware_build_with_a_suffix() -> None:
    # A real Powerwall 3 writes "24.12.6-PW3-AFCI 008bf6ff": the stand-in /api/status keeps that
    # text, and powerwall_info gets the number and the build apart.
    real = SystemInfo(
        version="24.12.6",
        build="24.12.6-PW3-AFCI",
        git_hash="008bf6ff",
        din="1707000-00-J--TG9999999999XP",
        part_number="1707000-00-J",
        serial="TG9999999999XP",
    )
    got = site_answers(a.pw3_config(), None, real, None)
    status = got[Shape.STATUS]
    assert status == {"din": real.din, "version": "24.12.6-PW3-AFCI 008bf6ff", "git_hash": "008bf6ff"}
    labels = gateway_info_labels(status, got[Shape.SITE_INFO])
    assert labels is not None
    assert (labels["version"], labels["build"], labels["git_hash"]) == ("24.12.6", "24.12.6-PW3-AFCI", "008bf6ff")

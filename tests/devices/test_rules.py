"""The rule table as its engine applies it (:mod:`~exporter.devices.rules`, :mod:`~exporter.devices.resolve`).

Signal-name resolution, snake-casing, the table's invariants.

Expected names are written out by hand from ``gateway-api.md`` section 4 and the contract, not
derived from the table, so a wrong table entry fails a test.
"""

from __future__ import annotations

from typing import Any

import pytest

from exporter.devices import resolve as engine
from exporter.devices import rules
from exporter.devices.resolve import CURATED_METRIC_NAMES, resolve
from exporter.metrics.metricset import Kind, gauge
from exporter.metrics.naming import snake_case


@pytest.mark.parametrize(
    ("vital", "snake"),
    [
        ("PINV_HardwareEnableLine", "pinv_hardware_enable_line"),
        ("STSTSM-Location", "ststsm_location"),
        ("PVI-PowerStatusSetpoint", "pvi_power_status_setpoint"),
        ("PVS_vLL", "pvs_v_ll"),
        ("POD_CCVhold", "pod_cc_vhold"),
        ("ISLAND_L1L2PhaseDelta", "island_l1_l2_phase_delta"),
        ("PVAC_VL1Ground", "pvac_vl1_ground"),
        ("PVAC_VHvMinusChassisDC", "pvac_v_hv_minus_chassis_dc"),
        ("a  b--c", "a_b_c"),
        ("__x__", "x"),
        ("Ünïcödé", "n_c_d"),
        ("---", ""),
    ],
)
def test_snake_case(vital: str, snake: str) -> None:
    assert snake_case(vital) == snake


@pytest.mark.parametrize(
    ("vital", "value", "name", "kind"),
    [
        ("PINV_HardwareEnableLine", True, "powerwall_vital_pinv_hardware_enable_line", Kind.GAUGE),
        ("STSTSM-Location", "Gateway", "powerwall_vital_ststsm_location_info", Kind.INFO),
        ("PVI-PowerStatusSetpoint", "on", "powerwall_vital_pvi_power_status_setpoint_info", Kind.INFO),
        ("Foo_Total", 1.0, "powerwall_vital_foo_total_value", Kind.GAUGE),
        ("Foo_Info", 1.0, "powerwall_vital_foo_info_value", Kind.GAUGE),
        ("Foo_Count", 1.0, "powerwall_vital_foo_count_value", Kind.GAUGE),
        ("Foo_Info", "x", "powerwall_vital_foo_info_info", Kind.INFO),
        ("METER_Q_Extra_LifetimeEnergy", 5.0, "powerwall_vital_meter_q_extra_lifetime_energy_total", Kind.COUNTER),
        (
            "NEURIO_CT0_LifetimeEnergyImport",
            5.0,
            "powerwall_vital_neurio_ct0_lifetime_energy_import_total",
            Kind.COUNTER,
        ),
        ("XYZ_LifetimeEnergy_Total", 5.0, "powerwall_vital_xyz_lifetime_energy_total", Kind.COUNTER),
        ("BMS_EnergyCharged", 5.0, "powerwall_vital_bms_energy_charged_total", Kind.COUNTER),
        # a curated vital of the wrong type falls through to the generic rule
        ("PINV_State", 3, "powerwall_vital_pinv_state", Kind.GAUGE),
        ("PINV_Pout", "n/a", "powerwall_vital_pinv_pout_info", Kind.INFO),
        # generic numbers get the unit their name states; bools and unclear names do not
        ("POD_CellVoltage", 3.3, "powerwall_vital_pod_cell_voltage_volts", Kind.GAUGE),
        ("SYNC_Bus_V", 240.0, "powerwall_vital_sync_bus_volts", Kind.GAUGE),
        ("PINV_GridFreq", 60.0, "powerwall_vital_pinv_grid_freq_hertz", Kind.GAUGE),
        ("XYZ_Out_Hz", 50.0, "powerwall_vital_xyz_out_hertz", Kind.GAUGE),
        ("THC_BoardTemp", 31.0, "powerwall_vital_thc_board_temp_celsius", Kind.GAUGE),
        ("PINV_OverVoltage", True, "powerwall_vital_pinv_over_voltage", Kind.GAUGE),
        ("PINV_Qcmd", 1.0, "powerwall_vital_pinv_qcmd", Kind.GAUGE),
        ("PINV_Pmax", 1.0, "powerwall_vital_pinv_pmax", Kind.GAUGE),
        # curated
        ("PINV_Pout", 1.5, "powerwall_inverter_power_watts", Kind.GAUGE),
        ("METER_Z_CTA_InstRealPower", 1.0, "powerwall_ct_power_watts", Kind.GAUGE),
    ],
)
def test_resolution(vital: str, value: Any, name: str, kind: Kind) -> None:
    target = resolve(vital, isinstance(value, str), isinstance(value, bool))
    assert target is not None
    assert (target.metric.name, target.metric.kind) == (name, kind)


@pytest.mark.parametrize(
    ("vital", "value", "help"),
    [
        ("PINV_PllLocked", True, "Vital 'PINV_PllLocked' (generic rule; a bool as 0/1)."),
        ("POD_CellVoltage", 3.3, "Vital 'POD_CellVoltage' (generic rule; in volts as its name says)."),
        ("PINV_Qcmd", 2.0, "Vital 'PINV_Qcmd' (generic rule; unit not known to the exporter, value as reported)."),
    ],
)
def test_generic_help_says_only_what_is_known(vital: str, value: Any, help: str) -> None:
    target = resolve(vital, False, isinstance(value, bool))
    assert target is not None and target.metric.help == help


def test_rule_table_invariants() -> None:
    schema = engine.label_schema()
    for name in schema:
        assert name in CURATED_METRIC_NAMES
        assert not name.startswith(engine.GENERIC_PREFIX)
    # device-labelled families exist for every device metric
    for metric in rules.DEVICE_METRICS:
        assert metric.name in CURATED_METRIC_NAMES
    # every contract vital family is produced by some rule
    contract = {
        "powerwall_inverter_power_watts",
        "powerwall_inverter_reactive_power_var",
        "powerwall_inverter_voltage_volts",
        "powerwall_inverter_frequency_hertz",
        "powerwall_inverter_energy_charged_joules_total",
        "powerwall_inverter_energy_discharged_joules_total",
        "powerwall_inverter_state_info",
        "powerwall_inverter_grid_state_info",
        "powerwall_pod_energy_remaining_joules",
        "powerwall_pod_full_pack_energy_joules",
        "powerwall_pod_energy_to_be_charged_joules",
        "powerwall_pod_available_charge_power_watts",
        "powerwall_pod_available_discharge_power_watts",
        "powerwall_pod_permanently_faulted",
        "powerwall_pod_persistently_faulted",
        "powerwall_pod_state_info",
        "powerwall_thermal_ambient_temperature_celsius",
        "powerwall_thermal_state_info",
        "powerwall_solar_string_power_watts",
        "powerwall_solar_string_voltage_volts",
        "powerwall_solar_string_current_amperes",
        "powerwall_solar_string_connected",
        "powerwall_solar_string_state_info",
        "powerwall_solar_inverter_power_watts",
        "powerwall_solar_inverter_energy_joules_total",
        "powerwall_solar_inverter_state_info",
        "powerwall_ct_power_watts",
        "powerwall_ct_reactive_power_var",
        "powerwall_ct_current_amperes",
        "powerwall_ct_meter_voltage_volts",
        "powerwall_ct_energy_imported_joules_total",
        "powerwall_ct_energy_exported_joules_total",
        "powerwall_island_frequency_hertz",
        "powerwall_island_voltage_volts",
        "powerwall_island_grid_connected",
        "powerwall_island_grid_state_info",
        "powerwall_device_info",
        "powerwall_device_last_communication_timestamp_seconds",
        "powerwall_device_alert",
    }
    assert contract <= set(CURATED_METRIC_NAMES)


def test_inconsistent_table_is_rejected() -> None:
    a = rules.Rule("A", gauge("powerwall_x", "h"), labels=(("l", "1"),))
    b = rules.Rule("B", gauge("powerwall_x", "h"), labels=(("m", "1"),))
    with pytest.raises(ValueError, match="label names"):
        engine.label_schema((a, b))
    c = rules.Rule("C", gauge("powerwall_vital_x", "h"))
    with pytest.raises(ValueError, match="generic prefix"):
        engine.label_schema((c,))


@pytest.mark.parametrize(
    ("name", "labels"),
    [
        ("METER_X_CTA_InstRealPower", {"channel": "X", "ct": "1"}),
        ("METER_Y_CTC_I", {"channel": "Y", "ct": "3"}),
        ("NEURIO_CT0_InstRealPower", {"channel": "neurio", "ct": "1"}),
        ("NEURIO_CT3_InstReactivePower", {"channel": "neurio", "ct": "4"}),
        ("METER_X_VL3N", {"channel": "X", "phase": "C"}),
        ("PINV_VSplit2", {"phase": "B"}),
        ("ISLAND_L1L2PhaseDelta", {"phase": "AB"}),
        ("ISLAND_L2L3PhaseDelta", {"phase": "BC"}),
        ("ISLAND_L1L3PhaseDelta", {"phase": "CA"}),
        ("ISLAND_L3L1PhaseDelta", {"phase": "CA"}),
        ("ISLAND_FreqL1_Main", {"phase": "A", "side": "main"}),
    ],
)
def test_label_vocabulary_values(name: str, labels: dict[str, str]) -> None:
    """One value set per label (README "Label vocabulary"): 1-based CTs, phases A/B/C and AB/BC/CA."""
    target = resolve(name, is_text=False)
    assert target is not None and not target.generic
    assert dict(target.labels) == labels

"""The JSON endpoints' tables: which key becomes which metric, with unit and conversion.

Declarative data (see :mod:`exporter.site.table` for what a row means); the functions
that walk each endpoint's answer are in :mod:`exporter.site.mappers`. Every metric name
is written out in full where it is defined, never assembled from a prefix, so searching the code
for a name found in a dashboard or alert lands on its definition.
"""

from __future__ import annotations

from exporter.metrics.metricset import counter, gauge, info
from exporter.site.convert import (
    app_scale_ratio,
    boolean,
    except_value,
    gateway_start_time,
    go_duration,
    limit_watts,
    percent_to_ratio,
    rfc3339_timestamp,
    scaled,
)
from exporter.site.table import Field, Table
from exporter.units import KW_TO_W, KWH_TO_J, NS_TO_S, WH_TO_J

# --- /api/meters/aggregates: one object per meter (site, battery, load, solar, generator, busway, ...) ---
METER_POWER = gauge(
    "powerwall_meter_power_watts", "Real power; site + = importing, battery + = discharging, solar + = producing."
)
METER_PHASE_CURRENT = gauge("powerwall_meter_phase_current_amperes", "Current per phase.")
METER_TABLE = Table(
    fields=(
        Field("instant_power", METER_POWER),
        Field("instant_reactive_power", gauge("powerwall_meter_reactive_power_var", "Reactive power.")),
        Field("instant_apparent_power", gauge("powerwall_meter_apparent_power_va", "Apparent power.")),
        Field(
            "frequency",
            gauge("powerwall_meter_frequency_hertz", "Frequency; 0 where the meter does not measure it."),
        ),
        Field("instant_average_voltage", gauge("powerwall_meter_voltage_volts", "Average voltage.")),
        Field(
            "instant_total_current",
            gauge("powerwall_meter_current_amperes", "Current over all phases (instant_total_current)."),
        ),
        Field("i_a_current", METER_PHASE_CURRENT, labels=(("phase", "A"),)),
        Field("i_b_current", METER_PHASE_CURRENT, labels=(("phase", "B"),)),
        Field("i_c_current", METER_PHASE_CURRENT, labels=(("phase", "C"),)),
        Field(
            "energy_imported",
            counter("powerwall_meter_energy_imported_joules_total", "Lifetime energy imported (into the meter)."),
            scaled(WH_TO_J),
        ),
        Field(
            "energy_exported",
            counter("powerwall_meter_energy_exported_joules_total", "Lifetime energy exported (out of the meter)."),
            scaled(WH_TO_J),
        ),
        Field(
            "last_communication_time",
            gauge(
                "powerwall_meter_last_communication_timestamp_seconds", "When the gateway last heard from the meter."
            ),
            rfc3339_timestamp,
        ),
        Field(
            "num_meters_aggregated",
            gauge("powerwall_meter_aggregated_meters", "Number of physical meters in this aggregate."),
        ),
        Field("timeout", gauge("powerwall_meter_timeout_seconds", "Meter communication timeout."), scaled(NS_TO_S)),
    ),
    ignore=frozenset(
        {
            "last_phase_voltage_communication_time",
            "last_phase_power_communication_time",
            "last_phase_energy_communication_time",
            "disclaimer",
            # The same reading as instant_total_current in every capture (the gateway does not
            # average anything): one quantity, one series.
            "instant_average_current",
        }
    ),
    generic_prefix="powerwall_meter_",
)

# --- /api/system_status/soe ---
SOE_TABLE = Table(
    fields=(
        Field(
            "percentage",
            gauge("powerwall_battery_charge_ratio", "State of energy, raw gateway scale (includes the hidden 5 %)."),
            percent_to_ratio,
        ),
        Field(
            "percentage",
            gauge("powerwall_battery_charge_app_ratio", "State of energy as the Tesla app shows it ((raw-5)/95)."),
            app_scale_ratio,
        ),
    )
)

# --- State sets: one 0/1 series per known state (the current one included if unknown) ---
# Alerts and changes() then need no matching on label values, and a state that never occurs is a 0,
# not a missing series. Known values: shared/docs/gateway-api.md and the captures.
GRID_STATES = (
    "SystemGridConnected",
    "SystemIslandedActive",
    "SystemTransitionToGrid",
    "SystemTransitionToIsland",
    "SystemIslandedReady",
    "SystemMicroGridFaulted",
    "SystemWaitForUser",
)
OPERATION_MODES = ("self_consumption", "backup", "autonomous", "scheduler", "site_control")
BATTERY_GRID_STATES = ("Grid_Compliant", "Grid_Uncompliant")

# --- /api/operation ---
OPERATION_INFO = info("powerwall_operation_info", "Operation mode (real_mode) of the site.")
OPERATION_MODE = gauge(
    "powerwall_operation_mode", "1 for the site's operation mode (real_mode), 0 for the other known modes."
)
OPERATION_TABLE = Table(
    fields=(
        Field(
            "backup_reserve_percent",
            gauge("powerwall_backup_reserve_ratio", "Backup reserve, raw gateway scale."),
            percent_to_ratio,
        ),
        Field(
            "backup_reserve_percent",
            gauge("powerwall_backup_reserve_app_ratio", "Backup reserve as the Tesla app shows it."),
            app_scale_ratio,
        ),
        Field(
            "freq_shift_load_shed_soe",
            gauge("powerwall_operation_freq_shift_load_shed_ratio", "Charge below which off-grid loads are shed."),
            percent_to_ratio,
        ),
        Field(
            "freq_shift_load_shed_delta_f",
            gauge("powerwall_operation_freq_shift_load_shed_delta_hertz", "Off-grid frequency shift used to shed."),
        ),
    ),
    ignore=frozenset({"real_mode"}),
    generic_prefix="powerwall_operation_",
)

# --- /api/system_status/grid_status ---
GRID_STATUS_INFO = info("powerwall_grid_status_info", "Grid status as reported by the gateway.")
# Not powerwall_grid_status: that is the OpenMetrics family name of powerwall_grid_status_info.
GRID_STATE = gauge("powerwall_grid_state", "1 for the grid status the gateway reports, 0 for the other known ones.")
GRID_CONNECTED = gauge("powerwall_grid_connected", "1 when the grid is up (SystemGridConnected), else 0.")
GRID_SERVICES_ACTIVE = gauge("powerwall_grid_services_active", "1 while the site provides grid services.")

# --- /api/site_info ---
_LIMIT = " Absent when the gateway reports no limit (±1e9 kW)."
SITE_TABLE = Table(
    fields=(
        Field(
            "nominal_system_energy_kWh",
            gauge("powerwall_site_nominal_energy_joules", "Nominal usable energy of the site."),
            scaled(KWH_TO_J),
        ),
        Field(
            "nominal_system_power_kW",
            gauge("powerwall_site_nominal_power_watts", "Nominal power of the site."),
            scaled(KW_TO_W),
        ),
        Field(
            "max_system_energy_kWh",
            gauge("powerwall_site_max_energy_joules", "Maximum energy of the site."),
            scaled(KWH_TO_J),
        ),
        Field(
            "max_system_power_kW",
            gauge("powerwall_site_max_power_watts", "Maximum power of the site."),
            scaled(KW_TO_W),
        ),
        Field(
            "max_site_meter_power_kW",
            gauge("powerwall_site_max_meter_power_watts", "Site meter power limit (import)." + _LIMIT),
            limit_watts(KW_TO_W),
        ),
        Field(
            "min_site_meter_power_kW",
            gauge("powerwall_site_min_meter_power_watts", "Site meter power limit (export, negative)." + _LIMIT),
            limit_watts(KW_TO_W),
        ),
        Field(
            "measured_frequency",
            gauge("powerwall_site_measured_frequency_hertz", "Grid frequency measured by the gateway."),
        ),
        Field("panel_max_current", gauge("powerwall_site_panel_max_current_amperes", "Main panel current rating.")),
    ),
    ignore=frozenset({"grid_voltage_setting", "grid_freq_setting"}),
    generic_prefix="powerwall_site_",
)
# The site info's numbers that are settings (everything its table names but the measured grid
# frequency older firmware sends there): an answer carrying no other number may be reused for long.
SITE_SETTINGS = SITE_TABLE.named - {"measured_frequency"}
GRID_CODE_TABLE = Table(
    fields=(
        Field("grid_voltage_setting", gauge("powerwall_site_grid_voltage_setting_volts", "Grid code nominal voltage.")),
        Field(
            "grid_freq_setting", gauge("powerwall_site_grid_frequency_setting_hertz", "Grid code nominal frequency.")
        ),
    )
)
SITE_INFO = info("powerwall_site_info", "Grid code and utility of the site.")
SITE_INFO_LABELS = (
    "grid_code",
    "grid_phase_setting",
    "country",
    "state",
    "distributor",
    "utility",
    "retailer",
    "region",
)

SITE_INFO_TEXT = ("site_name", "timezone")
"""Text fields of /api/site_info that label ``powerwall_info`` (with :data:`STATUS_TEXT`)."""

# --- /api/status ---
GATEWAY_INFO = info(
    "powerwall_info",
    "Gateway identity: firmware version (the number, and the build as written), DIN, device type, site name.",
)
STATUS_TABLE = Table(
    fields=(
        Field("up_time_seconds", gauge("powerwall_uptime_seconds", "Gateway uptime."), go_duration),
        Field(
            "start_time",
            gauge("powerwall_start_time_seconds", "When the gateway software started (Unix time)."),
            gateway_start_time,
        ),
        Field("commission_count", gauge("powerwall_commissionings", "How often the site was commissioned.")),
    ),
    ignore=frozenset({"is_new"}),
    generic_prefix="powerwall_status_",
)

STATUS_TEXT = ("version", "git_hash", "din", "device_type", "sync_type")
"""Text fields of /api/status that label ``powerwall_info``."""

# --- /api/system_status ---
SYSTEM_STATUS_TABLE = Table(
    fields=(
        Field(
            "nominal_full_pack_energy",
            gauge("powerwall_battery_full_pack_energy_joules", "Full-pack energy of all batteries."),
            scaled(WH_TO_J),
        ),
        Field(
            "nominal_energy_remaining",
            gauge("powerwall_battery_remaining_energy_joules", "Energy remaining in all batteries."),
            scaled(WH_TO_J),
        ),
        Field(
            "expected_energy_remaining",
            gauge("powerwall_battery_expected_energy_remaining_joules", "Expected energy remaining."),
            scaled(WH_TO_J),
        ),
        Field("max_charge_power", gauge("powerwall_battery_max_charge_power_watts", "Sustained charge power limit.")),
        Field(
            "max_discharge_power",
            gauge("powerwall_battery_max_discharge_power_watts", "Sustained discharge power limit."),
        ),
        Field(
            "instantaneous_max_charge_power",
            gauge("powerwall_battery_instantaneous_max_charge_power_watts", "Momentary charge limit."),
        ),
        Field(
            "instantaneous_max_discharge_power",
            gauge("powerwall_battery_instantaneous_max_discharge_power_watts", "Momentary discharge limit."),
        ),
        Field("max_apparent_power", gauge("powerwall_battery_max_apparent_power_va", "Apparent power limit.")),
        Field(
            "battery_target_power",
            gauge("powerwall_battery_target_power_watts", "Power the site controller asks of the batteries."),
        ),
        Field(
            "battery_target_reactive_power",
            gauge("powerwall_battery_target_reactive_power_var", "Reactive power asked of the batteries."),
        ),
        Field("available_blocks", gauge("powerwall_battery_blocks_available", "Battery blocks available.")),
        Field("blocks_controlled", gauge("powerwall_battery_blocks_controlled", "Battery blocks under control.")),
        Field(
            "inverter_nominal_usable_power",
            gauge("powerwall_battery_inverter_nominal_usable_power_watts", "Usable inverter power."),
        ),
        Field(
            "ffr_power_availability_high",
            gauge("powerwall_battery_ffr_power_availability_high_watts", "Fast frequency response headroom."),
        ),
        Field(
            "ffr_power_availability_low",
            gauge("powerwall_battery_ffr_power_availability_low_watts", "Fast frequency response floor."),
        ),
        Field("grid_services_power", gauge("powerwall_grid_services_power_watts", "Power delivered as grid services.")),
        Field(
            "solar_real_power_limit",
            gauge("powerwall_solar_real_power_limit_watts", "Solar curtailment limit; absent when there is none."),
            except_value(-1.0),
        ),
    ),
    ignore=frozenset({"battery_blocks", "grid_faults", "system_island_state", "last_toggle_timestamp"}),
    generic_prefix="powerwall_system_status_",
)
ISLAND_STATE_INFO = info("powerwall_system_island_state_info", "Islanding state of the site controller.")
GRID_FAULTS = gauge("powerwall_grid_faults", "Grid faults currently listed by the gateway.")


BLOCK_TABLE = Table(
    fields=(
        Field(
            "nominal_energy_remaining",
            gauge("powerwall_battery_block_remaining_energy_joules", "Energy remaining."),
            scaled(WH_TO_J),
        ),
        Field(
            "nominal_full_pack_energy",
            gauge("powerwall_battery_block_full_pack_energy_joules", "Full-pack energy."),
            scaled(WH_TO_J),
        ),
        Field("p_out", gauge("powerwall_battery_block_power_watts", "Real power; + = discharging.")),
        Field("q_out", gauge("powerwall_battery_block_reactive_power_var", "Reactive power.")),
        Field("v_out", gauge("powerwall_battery_block_voltage_volts", "Output voltage.")),
        Field("f_out", gauge("powerwall_battery_block_frequency_hertz", "Output frequency.")),
        Field("i_out", gauge("powerwall_battery_block_current_amperes", "Output current.")),
        Field(
            "energy_charged",
            counter("powerwall_battery_block_energy_charged_joules_total", "Lifetime energy charged."),
            scaled(WH_TO_J),
        ),
        Field(
            "energy_discharged",
            counter("powerwall_battery_block_energy_discharged_joules_total", "Lifetime energy discharged."),
            scaled(WH_TO_J),
        ),
        Field(
            "backup_ready",
            gauge("powerwall_battery_block_backup_ready", "1 when the block is ready to back up the home."),
            boolean,
        ),
        Field("off_grid", gauge("powerwall_battery_block_off_grid", "1 when the block runs off-grid."), boolean),
        Field(
            "vf_mode",
            gauge("powerwall_battery_block_vf_mode", "1 in voltage/frequency (grid-forming) mode."),
            boolean,
        ),
        Field(
            "wobble_detected",
            gauge("powerwall_battery_block_wobble_detected", "1 when grid wobble was detected."),
            boolean,
        ),
        Field(
            "charge_power_clamped",
            gauge("powerwall_battery_block_charge_power_clamped", "1 when charge power is clamped."),
            boolean,
        ),
    ),
    ignore=frozenset({"Type", "PackagePartNumber", "PackageSerialNumber", "disabled_reasons"}),
    generic_prefix="powerwall_battery_block_",
)
BLOCK_STATES = (
    (
        "pinv_state",
        info("powerwall_battery_block_pinv_state_info", "Battery inverter state of the block (pinv_state)."),
    ),
    (
        "pinv_grid_state",
        info("powerwall_battery_block_pinv_grid_state_info", "Grid compliance of the block (pinv_grid_state)."),
    ),
    ("OpSeqState", info("powerwall_battery_block_op_seq_state_info", "Operating sequence of the block (OpSeqState).")),
)
"""Block key → its own ``..._info{serial, part_number, state}``: one state per metric, not three in one."""
BLOCK_DISABLED = gauge("powerwall_battery_block_disabled_reasons", "Number of reasons the block is disabled.")

# --- /api/powerwalls ---
BATTERIES = gauge("powerwall_batteries", "Powerwalls listed by /api/powerwalls.")
BATTERY_INFO = info(
    "powerwall_battery_info", "Per-Powerwall identity (serial, part number, type) from /api/powerwalls."
)
BATTERY_GRID_STATE = gauge(
    "powerwall_battery_grid_state",
    "1 for the Powerwall's grid compliance state (grid_state), 0 for the other known states.",
)
POWERWALL_TABLE = Table(
    fields=(
        Field("updating", gauge("powerwall_battery_updating", "1 while this Powerwall updates firmware."), boolean),
        Field(
            "under_phase_detection",
            gauge("powerwall_battery_under_phase_detection", "1 while phase detection runs."),
            boolean,
        ),
        Field(
            "in_config", gauge("powerwall_battery_in_config", "1 when the Powerwall is in the configuration."), boolean
        ),
    ),
    ignore=frozenset({"grid_reconnection_time_seconds"}),
    generic_prefix="powerwall_battery_",
)
POWERWALLS_FLAGS = Table(
    fields=(),
    # ``updating`` at top level repeats the per-Powerwall flag (powerwall_battery_updating).
    ignore=frozenset({"powerwalls", "sync", "msa", "states", "updating"}),
    generic_prefix="powerwall_powerwalls_",
)

# --- /api/sitemaster ---
SITEMASTER_TABLE = Table(
    fields=(
        Field("running", gauge("powerwall_sitemaster_running", "1 while the site controller runs."), boolean),
        Field(
            "connected_to_tesla",
            gauge("powerwall_sitemaster_connected_to_tesla", "1 when the gateway is connected to Tesla."),
            boolean,
        ),
        Field(
            "power_supply_mode",
            gauge("powerwall_sitemaster_power_supply_mode", "1 in power-supply mode."),
            boolean,
        ),
    ),
    generic_prefix="powerwall_sitemaster_",
)
SITEMASTER_INFO = info("powerwall_sitemaster_info", "Site controller status string.")

"""JSON endpoint → metrics, as tables.

Each endpoint has a table of :class:`Field` rows (JSON key → metric, conversion). Numeric and boolean
keys a table does not name are still exported under ``<generic prefix><snake_case_key>`` so a
firmware that adds fields loses nothing; unknown *strings* are not (they are identifiers, timestamps
or free text, which as labels would churn series). Generic names are bounded per endpoint and scrape
and kept clear of curated names as :mod:`exporter.metrics.naming` describes. A missing or null key, or a
value that is not a finite number (also after unit scaling), means the series is absent — never a
made-up 0.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from exporter.gateway import endpoints as ep
from exporter.metrics.metricset import Kind, MetricDef, MetricSet, counter, gauge, generic, info
from exporter.metrics.naming import GenericBudget, generic_gauge_name, snake_case

Convert = Callable[[Any], float | None]

WH_TO_J = 3600.0
KWH_TO_J = 3_600_000.0


def number(v: Any) -> float | None:
    """A finite number (bools excluded), else None.

    JSON integers have no size limit; one beyond float range is as absurd as Inf and must mean
    "no value", not an ``OverflowError`` that would cost the whole endpoint.
    """
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def scaled(factor: float) -> Convert:
    """Multiply by ``factor``; a product that overflows (1e306 Wh in joules) is no value either."""

    def conv(v: Any) -> float | None:
        n = number(v)
        if n is None:
            return None
        out = n * factor
        return out if math.isfinite(out) else None

    return conv


def boolean(v: Any) -> float | None:
    return (1.0 if v else 0.0) if isinstance(v, bool) else None


def percent_to_ratio(v: Any) -> float | None:
    n = number(v)
    return None if n is None else n / 100.0


def app_scale_ratio(v: Any) -> float | None:
    """Raw gateway percentage → the app's scale, which hides a 5 % reserve: (raw - 5) / 0.95, clamped."""
    n = number(v)
    if n is None:
        return None
    return min(1.0, max(0.0, (n - 5.0) / 95.0))


def rfc3339_timestamp(v: Any) -> float | None:
    """Gateway RFC 3339 time with nanoseconds → Unix seconds; the Go zero time means 'never' → absent."""
    if not isinstance(v, str) or not v or v.startswith("0001-01-01"):
        return None
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", v)
    if not m:
        return None
    base, frac, tz = m.groups()
    try:
        dt = datetime.fromisoformat(base + ("+00:00" if tz == "Z" else tz))
    except ValueError:
        return None
    return dt.timestamp() + (float(frac) if frac else 0.0)


def gateway_start_time(v: Any) -> float | None:
    """``/api/status`` start_time, e.g. ``2021-12-10 16:38:39 +0800`` → Unix seconds."""
    if not isinstance(v, str):
        return None
    try:
        return datetime.strptime(v.strip(), "%Y-%m-%d %H:%M:%S %z").timestamp()
    except ValueError:
        return None


_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def go_duration(v: Any) -> float | None:
    """A Go ``time.Duration`` string (``55h46m11.021029341s``) → seconds."""
    if not isinstance(v, str) or not v:
        return None
    text = v.strip()
    if text == "0":
        return 0.0
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-")
    pos, total = 0, 0.0
    for m in _GO_PART.finditer(text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _GO_UNITS[m.group(2)]
        pos = m.end()
    return sign * total if pos == len(text) and pos > 0 else None


def generic_name(prefix: str, key: str) -> str:
    """The name an unmapped field is exported under (rule in :mod:`exporter.metrics.naming`)."""
    return generic_gauge_name(prefix + (snake_case(key) or "unnamed"))


@functools.lru_cache(maxsize=4096)
def _generic_metric(prefix: str, key: str) -> MetricDef:
    """The family of an unmapped field; cached, because a site sends the same keys every scrape.

    Only called for keys of at most ``MAX_GENERIC_NAME_LENGTH`` characters, so the bounded cache
    holds at most a few MB however hostile the payloads.
    """
    help = f"Gateway field {key!r}, as reported (unit not known to the exporter)."
    return generic(generic_name(prefix, key), Kind.GAUGE, help)


@dataclass(frozen=True, slots=True)
class Field:
    """One JSON key → one metric. ``labels`` are constant extra labels (e.g. a phase)."""

    key: str
    metric: MetricDef
    convert: Convert = number
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Table:
    fields: tuple[Field, ...]
    # Keys handled elsewhere or deliberately not exported.
    ignore: frozenset[str] = frozenset()
    # Prefix for numeric/bool keys not in the table; None disables the generic export.
    generic_prefix: str | None = None

    def apply(
        self,
        obj: Mapping[str, Any],
        ms: MetricSet,
        labels: Mapping[str, str] | None = None,
        budget: GenericBudget | None = None,
    ) -> None:
        """Add ``obj``'s samples; generic ones within ``budget`` (one per endpoint and scrape).

        Without a budget the bounds still hold for this call, but drops are not reported.
        """
        base = dict(labels or {})
        named: set[str] = set()
        for f in self.fields:
            named.add(f.key)
            value = f.convert(obj.get(f.key))
            if value is not None:
                ms.add(f.metric, value, {**base, **dict(f.labels)} if f.labels else base)
        prefix = self.generic_prefix
        if prefix is None:
            return
        if budget is None:
            budget = GenericBudget("")
        for key, raw in obj.items():
            if key in named or key in self.ignore:
                continue
            value = boolean(raw) if isinstance(raw, bool) else number(raw)
            if value is None or not budget.field_fits(key):
                continue
            metric = _generic_metric(prefix, key)
            if budget.admit(metric, key):
                ms.add(metric, value, base)


_Mapper = Callable[[Any, MetricSet], None]


def _endpoint(path: str) -> Callable[[Callable[[Any, MetricSet, GenericBudget], None]], _Mapper]:
    """Give the mapper of ``path`` one generic budget per call (= per scrape) and report its drops."""

    def wrap(fn: Callable[[Any, MetricSet, GenericBudget], None]) -> _Mapper:
        @functools.wraps(fn)
        def mapper(data: Any, ms: MetricSet) -> None:
            budget = GenericBudget(path)
            fn(data, ms, budget)
            budget.finish(ms)

        return mapper

    return wrap


def _meter(name: str, help: str) -> MetricDef:
    return gauge(f"powerwall_meter_{name}", help)


# --- /api/meters/aggregates: one object per meter (site, battery, load, solar, generator, busway, ...) ---
METER_POWER = _meter("power_watts", "Real power; site + = importing, battery + = discharging, solar + = producing.")
METER_TABLE = Table(
    fields=(
        Field("instant_power", METER_POWER),
        Field("instant_reactive_power", gauge("powerwall_meter_reactive_power_var", "Reactive power.")),
        Field("instant_apparent_power", gauge("powerwall_meter_apparent_power_va", "Apparent power.")),
        Field("frequency", _meter("frequency_hertz", "Frequency; 0 where the meter does not measure it.")),
        Field("instant_average_voltage", _meter("voltage_volts", "Average voltage.")),
        Field("instant_average_current", _meter("current_amperes", "Average current.")),
        Field("instant_total_current", _meter("total_current_amperes", "Total current over all phases.")),
        *(
            Field(
                f"i_{p.lower()}_current", _meter("phase_current_amperes", "Current per phase."), labels=(("phase", p),)
            )
            for p in ("A", "B", "C")
        ),
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
            _meter("last_communication_timestamp_seconds", "When the gateway last heard from the meter."),
            rfc3339_timestamp,
        ),
        Field("num_meters_aggregated", _meter("aggregated_meters", "Number of physical meters in this aggregate.")),
        Field("timeout", _meter("timeout_seconds", "Meter communication timeout."), scaled(1e-9)),
    ),
    ignore=frozenset(
        {
            "last_phase_voltage_communication_time",
            "last_phase_power_communication_time",
            "last_phase_energy_communication_time",
            "disclaimer",
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

# --- /api/operation ---
OPERATION_INFO = info("powerwall_operation_info", "Operation mode (real_mode) of the site.")
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
GRID_CONNECTED = gauge("powerwall_grid_connected", "1 when the grid is up (SystemGridConnected), else 0.")
GRID_SERVICES_ACTIVE = gauge("powerwall_grid_services_active", "1 while the site provides grid services.")

# --- /api/site_info ---
_SITE_NUMBERS = (
    ("nominal_system_energy_kWh", "nominal_energy_joules", "Nominal usable energy of the site.", KWH_TO_J),
    ("nominal_system_power_kW", "nominal_power_watts", "Nominal power of the site.", 1000.0),
    ("max_system_energy_kWh", "max_energy_joules", "Maximum energy of the site.", KWH_TO_J),
    ("max_system_power_kW", "max_power_watts", "Maximum power of the site.", 1000.0),
    ("max_site_meter_power_kW", "max_meter_power_watts", "Site meter power limit (import).", 1000.0),
    ("min_site_meter_power_kW", "min_meter_power_watts", "Site meter power limit (export, negative).", 1000.0),
    ("measured_frequency", "measured_frequency_hertz", "Grid frequency measured by the gateway.", 1.0),
    ("panel_max_current", "panel_max_current_amperes", "Main panel current rating.", 1.0),
)
SITE_TABLE = Table(
    fields=tuple(
        Field(key, gauge(f"powerwall_site_{name}", help), scaled(factor)) for key, name, help, factor in _SITE_NUMBERS
    ),
    ignore=frozenset({"grid_voltage_setting", "grid_freq_setting"}),
    generic_prefix="powerwall_site_",
)
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

# --- /api/status ---
GATEWAY_INFO = info("powerwall_info", "Gateway identity: firmware version, DIN, device type, site name.")
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

# --- /api/system_status ---
_BATTERY = (
    ("nominal_full_pack_energy", "full_pack_energy_joules", "Full-pack energy of all batteries.", WH_TO_J),
    ("nominal_energy_remaining", "remaining_energy_joules", "Energy remaining in all batteries.", WH_TO_J),
    ("expected_energy_remaining", "expected_energy_remaining_joules", "Expected energy remaining.", WH_TO_J),
    ("max_charge_power", "max_charge_power_watts", "Sustained charge power limit.", 1.0),
    ("max_discharge_power", "max_discharge_power_watts", "Sustained discharge power limit.", 1.0),
    ("instantaneous_max_charge_power", "instantaneous_max_charge_power_watts", "Momentary charge limit.", 1.0),
    ("instantaneous_max_discharge_power", "instantaneous_max_discharge_power_watts", "Momentary discharge limit.", 1.0),
    ("max_apparent_power", "max_apparent_power_va", "Apparent power limit.", 1.0),
    ("battery_target_power", "target_power_watts", "Power the site controller asks of the batteries.", 1.0),
    ("battery_target_reactive_power", "target_reactive_power_var", "Reactive power asked of the batteries.", 1.0),
    ("available_blocks", "blocks_available", "Battery blocks available.", 1.0),
    ("blocks_controlled", "blocks_controlled", "Battery blocks under control.", 1.0),
    ("inverter_nominal_usable_power", "inverter_nominal_usable_power_watts", "Usable inverter power.", 1.0),
    ("ffr_power_availability_high", "ffr_power_availability_high_watts", "Fast frequency response headroom.", 1.0),
    ("ffr_power_availability_low", "ffr_power_availability_low_watts", "Fast frequency response floor.", 1.0),
)
SYSTEM_STATUS_TABLE = Table(
    fields=(
        *(Field(k, gauge(f"powerwall_battery_{n}", h), scaled(f)) for k, n, h, f in _BATTERY),
        Field("grid_services_power", gauge("powerwall_grid_services_power_watts", "Power delivered as grid services.")),
        Field(
            "solar_real_power_limit",
            gauge("powerwall_solar_real_power_limit_watts", "Solar curtailment limit; -1 = none."),
        ),
    ),
    ignore=frozenset({"battery_blocks", "grid_faults", "system_island_state", "last_toggle_timestamp"}),
    generic_prefix="powerwall_system_status_",
)
ISLAND_STATE_INFO = info("powerwall_system_island_state_info", "Islanding state of the site controller.")
GRID_FAULTS = gauge("powerwall_grid_faults", "Grid faults currently listed by the gateway.")


def _block(name: str, help: str) -> MetricDef:
    return gauge(f"powerwall_battery_block_{name}", help)


BLOCK_TABLE = Table(
    fields=(
        Field("nominal_energy_remaining", _block("remaining_energy_joules", "Energy remaining."), scaled(WH_TO_J)),
        Field("nominal_full_pack_energy", _block("full_pack_energy_joules", "Full-pack energy."), scaled(WH_TO_J)),
        Field("p_out", _block("power_watts", "Real power; + = discharging.")),
        Field("q_out", _block("reactive_power_var", "Reactive power.")),
        Field("v_out", _block("voltage_volts", "Output voltage.")),
        Field("f_out", _block("frequency_hertz", "Output frequency.")),
        Field("i_out", _block("current_amperes", "Output current.")),
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
        Field("backup_ready", _block("backup_ready", "1 when the block is ready to back up the home."), boolean),
        Field("off_grid", _block("off_grid", "1 when the block runs off-grid."), boolean),
        Field("vf_mode", _block("vf_mode", "1 in voltage/frequency (grid-forming) mode."), boolean),
        Field("wobble_detected", _block("wobble_detected", "1 when grid wobble was detected."), boolean),
        Field("charge_power_clamped", _block("charge_power_clamped", "1 when charge power is clamped."), boolean),
    ),
    ignore=frozenset({"Type", "PackagePartNumber", "PackageSerialNumber", "disabled_reasons"}),
    generic_prefix="powerwall_battery_block_",
)
BLOCK_STATE_INFO = info("powerwall_battery_block_state_info", "Inverter and operating-sequence state per block.")
BLOCK_DISABLED = gauge("powerwall_battery_block_disabled_reasons", "Number of reasons the block is disabled.")

# --- /api/powerwalls ---
BATTERIES = gauge("powerwall_batteries", "Powerwalls listed by /api/powerwalls.")
BATTERY_INFO = info("powerwall_battery_info", "Per-Powerwall identity and grid state from /api/powerwalls.")
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
    fields=(), ignore=frozenset({"powerwalls", "sync", "msa", "states"}), generic_prefix="powerwall_powerwalls_"
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


def _str(v: Any) -> str:
    return v if isinstance(v, str) else ("" if v is None else str(v))


def _dict(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


@_endpoint(ep.METERS_AGGREGATES.path)
def map_aggregates(data: Any, ms: MetricSet, budget: GenericBudget) -> None:
    for meter, obj in _dict(data).items():
        if isinstance(obj, Mapping):
            METER_TABLE.apply(obj, ms, {"meter": snake_case(meter) or "unnamed"}, budget)


def map_soe(data: Any, ms: MetricSet) -> None:
    SOE_TABLE.apply(_dict(data), ms)


def map_grid_status(data: Any, ms: MetricSet) -> None:
    d = _dict(data)
    status = d.get("grid_status")
    if not isinstance(status, str):
        return
    services = d.get("grid_services_active")
    ms.add(GRID_STATUS_INFO, 1, {"grid_status": status, "grid_services_active": _str(services).lower()})
    ms.add(GRID_CONNECTED, 1.0 if status == "SystemGridConnected" else 0.0)
    if isinstance(services, bool):
        ms.add(GRID_SERVICES_ACTIVE, boolean(services) or 0.0)


@_endpoint(ep.OPERATION.path)
def map_operation(data: Any, ms: MetricSet, budget: GenericBudget) -> None:
    d = _dict(data)
    OPERATION_TABLE.apply(d, ms, budget=budget)
    if isinstance(d.get("real_mode"), str):
        ms.add(OPERATION_INFO, 1, {"mode": d["real_mode"]})


@_endpoint(ep.SITE_INFO.path)
def map_site_info(data: Any, ms: MetricSet, budget: GenericBudget) -> None:
    d = _dict(data)
    SITE_TABLE.apply({k: v for k, v in d.items() if not isinstance(v, Mapping)}, ms, budget=budget)
    # Older firmware kept the grid code fields at top level; newer nests them under grid_code.
    grid = d["grid_code"] if isinstance(d.get("grid_code"), Mapping) else d
    GRID_CODE_TABLE.apply(grid, ms)
    code = grid.get("grid_code")
    labels = {k: _str(grid.get(k)) for k in SITE_INFO_LABELS}
    labels["grid_code"] = _str(code) if isinstance(code, str) else ""
    if any(labels.values()):
        ms.add(SITE_INFO, 1, labels)


def gateway_info_labels(status: Any, site_info: Any) -> dict[str, str] | None:
    """Labels for ``powerwall_info``: identity from /api/status, names from /api/site_info."""
    s = _dict(status)
    if not s:
        return None
    version = _str(s.get("version")).split(" ")[0]
    site = _dict(site_info)
    return {
        "version": version,
        "git_hash": _str(s.get("git_hash")),
        "din": _str(s.get("din")),
        "device_type": _str(s.get("device_type")),
        "sync_type": _str(s.get("sync_type")),
        "site_name": _str(site.get("site_name")),
        "timezone": _str(site.get("timezone")),
    }


@_endpoint(ep.STATUS.path)
def map_status(data: Any, ms: MetricSet, budget: GenericBudget) -> None:
    STATUS_TABLE.apply(_dict(data), ms, budget=budget)


@_endpoint(ep.SYSTEM_STATUS.path)
def map_system_status(data: Any, ms: MetricSet, budget: GenericBudget) -> None:
    d = _dict(data)
    SYSTEM_STATUS_TABLE.apply(d, ms, budget=budget)
    if isinstance(d.get("system_island_state"), str):
        ms.add(ISLAND_STATE_INFO, 1, {"state": d["system_island_state"]})
    if isinstance(d.get("grid_faults"), list):
        ms.add(GRID_FAULTS, len(d["grid_faults"]))
    blocks = d.get("battery_blocks")
    for block in blocks if isinstance(blocks, list) else ():
        if not isinstance(block, Mapping):
            continue
        labels = {"serial": _str(block.get("PackageSerialNumber")), "part_number": _str(block.get("PackagePartNumber"))}
        BLOCK_TABLE.apply(block, ms, labels, budget)
        state = {
            "pinv_state": _str(block.get("pinv_state")),
            "pinv_grid_state": _str(block.get("pinv_grid_state")),
            "op_seq_state": _str(block.get("OpSeqState")),
        }
        ms.add(BLOCK_STATE_INFO, 1, {**labels, **state})
        reasons = block.get("disabled_reasons")
        if isinstance(reasons, list):
            ms.add(BLOCK_DISABLED, len(reasons), labels)


@_endpoint(ep.POWERWALLS.path)
def map_powerwalls(data: Any, ms: MetricSet, budget: GenericBudget) -> None:
    d = _dict(data)
    POWERWALLS_FLAGS.apply(d, ms, budget=budget)
    pws = d.get("powerwalls")
    if not isinstance(pws, list):
        return
    ms.add(BATTERIES, len(pws))
    for pw in pws:
        if not isinstance(pw, Mapping):
            continue
        labels = {"serial": _str(pw.get("PackageSerialNumber")), "part_number": _str(pw.get("PackagePartNumber"))}
        ms.add(BATTERY_INFO, 1, {**labels, "type": _str(pw.get("type")), "grid_state": _str(pw.get("grid_state"))})
        POWERWALL_TABLE.apply(pw, ms, labels, budget)


@_endpoint(ep.SITEMASTER.path)
def map_sitemaster(data: Any, ms: MetricSet, budget: GenericBudget) -> None:
    d = _dict(data)
    SITEMASTER_TABLE.apply(d, ms, budget=budget)
    if isinstance(d.get("status"), str):
        ms.add(SITEMASTER_INFO, 1, {"status": d["status"]})


# Endpoint → mapper. The collector dispatches through this table; vitals and solar_powerwall are
# mapped by exporter.vitals.
JSON_MAPPERS: dict[str, _Mapper] = {
    ep.METERS_AGGREGATES.path: map_aggregates,
    ep.SOE.path: map_soe,
    ep.GRID_STATUS.path: map_grid_status,
    ep.OPERATION.path: map_operation,
    ep.SITE_INFO.path: map_site_info,
    ep.STATUS.path: map_status,
    ep.SYSTEM_STATUS.path: map_system_status,
    ep.POWERWALLS.path: map_powerwalls,
    ep.SITEMASTER.path: map_sitemaster,
}

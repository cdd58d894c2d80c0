"""Per-endpoint mappers: walk one JSON answer and apply its tables.

Endpoint-specific structure (meters keyed by name, battery blocks in a list, grid code nested or at
top level) lives here; which key becomes which metric lives in the tables.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from exporter.coerce import as_mapping, text
from exporter.metrics.metricset import MetricDef, MetricSet
from exporter.metrics.naming import GenericBudget, snake_case
from exporter.site.convert import boolean, firmware_text
from exporter.site.labels import LabelFields
from exporter.site.shapes import Shape
from exporter.site.table import Mapper, endpoint_mapper
from exporter.site.tables import (
    BATTERIES,
    BATTERY_GRID_STATE,
    BATTERY_GRID_STATES,
    BATTERY_INFO,
    BLOCK_DISABLED,
    BLOCK_STATES,
    BLOCK_TABLE,
    GRID_CODE_TABLE,
    GRID_CONNECTED,
    GRID_FAULTS,
    GRID_SERVICES_ACTIVE,
    GRID_STATE,
    GRID_STATES,
    GRID_STATUS_INFO,
    ISLAND_STATE_INFO,
    METER_TABLE,
    OPERATION_INFO,
    OPERATION_MODE,
    OPERATION_MODES,
    OPERATION_TABLE,
    POWERWALL_TABLE,
    POWERWALLS_FLAGS,
    SITE_INFO,
    SITE_INFO_LABELS,
    SITE_INFO_TEXT,
    SITE_TABLE,
    SITEMASTER_INFO,
    SITEMASTER_TABLE,
    SOE_TABLE,
    STATUS_TABLE,
    STATUS_TEXT,
    SYSTEM_STATUS_TABLE,
)

log = logging.getLogger(__name__)


def state_set(
    ms: MetricSet,
    metric: MetricDef,
    known: tuple[str, ...],
    current: str,
    label: str = "state",
    labels: Mapping[str, str] | None = None,
) -> None:
    """One 0/1 sample per known state, 1 for ``current``; an unknown current state gets its own 1."""
    for value in known if current in known else (*known, current):
        ms.add(metric, 1.0 if value == current else 0.0, {**(labels or {}), label: value})


@endpoint_mapper(Shape.AGGREGATES.value)
def map_aggregates(data: Any, ms: MetricSet, budget: GenericBudget, labels: LabelFields) -> None:
    for meter, obj in as_mapping(data).items():
        if isinstance(obj, Mapping):
            METER_TABLE.apply(obj, ms, {"meter": snake_case(meter) or "unnamed"}, budget)


def map_soe(data: Any, ms: MetricSet) -> None:
    SOE_TABLE.apply(as_mapping(data), ms)


@endpoint_mapper(Shape.GRID_STATUS.value)
def map_grid_status(data: Any, ms: MetricSet, budget: GenericBudget, labels: LabelFields) -> None:
    d = as_mapping(data)
    status = labels.get(d, "grid_status")
    if status is None:
        return
    services = d.get("grid_services_active")
    ms.add(GRID_STATUS_INFO, 1, {"grid_status": status, "grid_services_active": labels.flag(d, "grid_services_active")})
    state_set(ms, GRID_STATE, GRID_STATES, status)
    ms.add(GRID_CONNECTED, 1.0 if status == "SystemGridConnected" else 0.0)
    if isinstance(services, bool):
        ms.add(GRID_SERVICES_ACTIVE, boolean(services) or 0.0)


@endpoint_mapper(Shape.OPERATION.value)
def map_operation(data: Any, ms: MetricSet, budget: GenericBudget, labels: LabelFields) -> None:
    d = as_mapping(data)
    OPERATION_TABLE.apply(d, ms, budget=budget)
    mode = labels.get(d, "real_mode")
    if mode is not None:
        ms.add(OPERATION_INFO, 1, {"mode": mode})
        state_set(ms, OPERATION_MODE, OPERATION_MODES, mode, label="mode")


@endpoint_mapper(Shape.SITE_INFO.value)
def map_site_info(data: Any, ms: MetricSet, budget: GenericBudget, labels: LabelFields) -> None:
    d = as_mapping(data)
    SITE_TABLE.apply({k: v for k, v in d.items() if not isinstance(v, Mapping)}, ms, budget=budget)
    # Older firmware kept the grid code fields at top level; newer nests them under grid_code.
    grid = d["grid_code"] if isinstance(d.get("grid_code"), Mapping) else d
    GRID_CODE_TABLE.apply(grid, ms)
    values = {k: labels.text(grid, k) for k in SITE_INFO_LABELS}
    if any(values.values()):
        ms.add(SITE_INFO, 1, values)
    for key in SITE_INFO_TEXT:  # powerwall_info's labels (gateway_info_labels): checked once, here
        labels.get(d, key)


def gateway_info_labels(status: Any, site_info: Any) -> dict[str, str] | None:
    """Labels for ``powerwall_info``: identity from /api/status, names from /api/site_info.

    Text fields only (:func:`exporter.coerce.text`); one of another type is counted where its answer
    is mapped (:func:`map_status`, :func:`map_site_info`), not on every use here.
    """
    s = as_mapping(status)
    if not s:
        return None
    version, build, _ = firmware_text(text(s.get("version")) or "")
    site = as_mapping(site_info)
    return {
        "version": version,
        "build": build,
        "git_hash": (text(s.get("git_hash")) or ""),
        "din": (text(s.get("din")) or ""),
        "device_type": (text(s.get("device_type")) or ""),
        "sync_type": (text(s.get("sync_type")) or ""),
        "site_name": (text(site.get("site_name")) or ""),
        "timezone": (text(site.get("timezone")) or ""),
    }


def _identified(entry: Any, labels: LabelFields) -> dict[str, str] | None:
    """``{serial, part_number}`` of a per-Powerwall entry, or None when it is no object or has no serial
    (as text): series under ``serial=""`` would describe no device and be summed with the real ones."""
    if not isinstance(entry, Mapping):
        return None
    serial = labels.text(entry, "PackageSerialNumber")
    if not serial.strip():
        log.debug("per-Powerwall entry without PackageSerialNumber skipped")
        return None
    return {"serial": serial, "part_number": labels.text(entry, "PackagePartNumber")}


@endpoint_mapper(Shape.STATUS.value)
def map_status(data: Any, ms: MetricSet, budget: GenericBudget, labels: LabelFields) -> None:
    d = as_mapping(data)
    STATUS_TABLE.apply(d, ms, budget=budget)
    for key in STATUS_TEXT:  # powerwall_info's labels (gateway_info_labels): checked once, here
        labels.get(d, key)


@endpoint_mapper(Shape.SYSTEM_STATUS.value)
def map_system_status(data: Any, ms: MetricSet, budget: GenericBudget, labels: LabelFields) -> None:
    d = as_mapping(data)
    SYSTEM_STATUS_TABLE.apply(d, ms, budget=budget)
    island = labels.get(d, "system_island_state")
    if island is not None:
        ms.add(ISLAND_STATE_INFO, 1, {"state": island})
    if isinstance(d.get("grid_faults"), list):
        ms.add(GRID_FAULTS, len(d["grid_faults"]))
    blocks = d.get("battery_blocks")
    for block in blocks if isinstance(blocks, list) else ():
        ident = _identified(block, labels)
        if ident is None:
            continue
        BLOCK_TABLE.apply(block, ms, ident, budget)
        for key, metric in BLOCK_STATES:
            state = labels.get(block, key)
            if state is not None:
                ms.add(metric, 1, {**ident, "state": state})
        reasons = block.get("disabled_reasons")
        if isinstance(reasons, list):
            ms.add(BLOCK_DISABLED, len(reasons), ident)


@endpoint_mapper(Shape.POWERWALLS.value)
def map_powerwalls(data: Any, ms: MetricSet, budget: GenericBudget, labels: LabelFields) -> None:
    d = as_mapping(data)
    POWERWALLS_FLAGS.apply(d, ms, budget=budget)
    pws = d.get("powerwalls")
    if not isinstance(pws, list):
        return
    ms.add(BATTERIES, len(pws))
    for pw in pws:
        ident = _identified(pw, labels)
        if ident is None:
            continue
        ms.add(BATTERY_INFO, 1, {**ident, "type": labels.text(pw, "type")})
        grid_state = labels.get(pw, "grid_state")
        if grid_state is not None:
            state_set(ms, BATTERY_GRID_STATE, BATTERY_GRID_STATES, grid_state, labels=ident)
        POWERWALL_TABLE.apply(pw, ms, ident, budget)


@endpoint_mapper(Shape.SITEMASTER.value)
def map_sitemaster(data: Any, ms: MetricSet, budget: GenericBudget, labels: LabelFields) -> None:
    d = as_mapping(data)
    SITEMASTER_TABLE.apply(d, ms, budget=budget)
    status = labels.get(d, "status")
    if status is not None:
        ms.add(SITEMASTER_INFO, 1, {"status": status})


# Shape → mapper: the site merge (exporter.site.merge) maps each shape's chosen answer through it.
JSON_MAPPERS: dict[str, Mapper] = {
    Shape.AGGREGATES.value: map_aggregates,
    Shape.SOE.value: map_soe,
    Shape.GRID_STATUS.value: map_grid_status,
    Shape.OPERATION.value: map_operation,
    Shape.SITE_INFO.value: map_site_info,
    Shape.STATUS.value: map_status,
    Shape.SYSTEM_STATUS.value: map_system_status,
    Shape.POWERWALLS.value: map_powerwalls,
    Shape.SITEMASTER.value: map_sitemaster,
}

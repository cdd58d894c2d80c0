"""Site-level TEDAPI data: the site's shapes (exporter.site) rebuilt from TEDAPI, plus the islanding gauges.

A Powerwall 3 answers 404 on ``/api/status``, ``/api/site_info``, ``/api/operation`` and
``/api/system_status``; TEDAPI carries the same facts in other shapes. :func:`site_answers` reshapes
them into the JSON API's own answers, keyed by the request label each one stands in for, so the
existing mappers (:data:`exporter.site.mappers.JSON_MAPPERS`) turn them into the very
same families and a dashboard needs no second panel:

* ``/api/operation`` ← config ``default_real_mode`` and ``site_info.backup_reserve_percent`` (the
  gateway's raw scale in both places, so the mapper's percent/app-scale conversions apply as is);
* ``/api/site_info`` ← config ``site_info``: ``site_name``, ``timezone``,
  ``nominal_system_energy_ac`` (kWh) → ``nominal_system_energy_kWh``, ``nominal_system_power_ac``
  (kW) → ``nominal_system_power_kW``, ``battery_commission_date`` (ISO 8601 with offset,
  ``"2026-04-22T12:07:43+10:00"`` on a real Powerwall 3: the commission and warranty-end timestamps
  come from it as from ``/api/site_info`` elsewhere) and the grid code fields
  (:data:`SITE_INFO_KEYS`). Only those
  keys are copied: the config's ``installer``, ``customer`` and ``credentials`` blocks (personal
  data) are never read. Their values are copied whatever their type: the mapper applies the JSON
  API's rules (a label only from text, a field of another type counted), so they hold here too;
* ``/api/system_status`` ← controller ``control.systemStatus`` (Wh, the unit ``/api/system_status``
  uses) → ``nominal_full_pack_energy``/``nominal_energy_remaining``, and ``control.batteryBlocks``
  (``din``, ``disableReasons``) → ``battery_blocks[]`` (``PackagePartNumber``,
  ``PackageSerialNumber``, ``disabled_reasons``);
* ``/api/sitemaster`` ← controller ``system.sitemanagerStatus.isRunning`` → ``running``;
* ``/api/status`` ← the firmware answer (``version`` as ``"<build> <short hash>"``, the text the
  gateway wrote, ``24.12.6-PW3-AFCI 008bf6ff`` on a real Powerwall 3; ``git_hash``,
  ``din``).

A dict whose data is absent is omitted, never sent empty. :func:`controller_site_metrics` adds what
the JSON API has no shape for: ``control.islanding`` and ``control.siteShutdown``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.coerce import as_mapping, number
from exporter.metrics.metricset import MetricSet, gauge, info
from exporter.site.shapes import Shape
from exporter.site.tables import GRID_CODE_TABLE, SITE_INFO_LABELS
from exporter.sources.tedapi.envelope import SystemInfo

SITE_INFO_KEYS: tuple[tuple[str, str], ...] = (
    ("site_name", "site_name"),
    ("timezone", "timezone"),
    ("nominal_system_energy_ac", "nominal_system_energy_kWh"),
    ("nominal_system_power_ac", "nominal_system_power_kW"),
    ("battery_commission_date", "battery_commission_date"),
)
"""config ``site_info`` key → the ``/api/site_info`` key the json_api tables (and the battery health
accounting, for ``battery_commission_date``) read (units and formats as there)."""

GRID_CODE_KEYS: tuple[str, ...] = (*SITE_INFO_LABELS, *(f.key for f in GRID_CODE_TABLE.fields))
"""Grid code fields copied into ``/api/site_info``'s nested ``grid_code`` object: what its mappers read."""

ISLANDING_CUSTOMER_MODE = gauge(
    "powerwall_islanding_customer_mode",
    "1 when the customer asked the site to island (control.islanding.customerIslandMode, when a bool).",
)
ISLANDING_CUSTOMER_MODE_INFO = info(
    "powerwall_islanding_customer_mode_info",
    "Island mode the customer chose (control.islanding.customerIslandMode, when text); always 1.",
)
ISLANDING_CONTACTOR_CLOSED = gauge(
    "powerwall_islanding_contactor_closed",
    "1 when the site controller reports the grid contactor closed (control.islanding.contactorClosed).",
)
ISLANDING_MICROGRID_OK = gauge(
    "powerwall_islanding_microgrid_ok",
    "1 when the site controller finds the home microgrid fit to run islanded (control.islanding.microGridOK).",
)
ISLANDING_GRID_OK = gauge(
    "powerwall_islanding_grid_ok",
    "1 when the site controller finds the grid fit to connect to (control.islanding.gridOK).",
)
SITE_SHUTDOWN = gauge(
    "powerwall_site_shutdown",
    "1 while the site controller has shut the site down (control.siteShutdown.isShutDown).",
)
ISLANDING_FLAGS = (
    ("contactorClosed", ISLANDING_CONTACTOR_CLOSED),
    ("microGridOK", ISLANDING_MICROGRID_OK),
    ("gridOK", ISLANDING_GRID_OK),
)


def _operation(config: Mapping[str, Any]) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    mode = config.get("default_real_mode")
    if isinstance(mode, str) and mode:
        out["real_mode"] = mode
    reserve = number(as_mapping(config.get("site_info")).get("backup_reserve_percent"))
    if reserve is not None:
        out["backup_reserve_percent"] = reserve
    return out or None


def _site_info(config: Mapping[str, Any]) -> dict[str, Any] | None:
    site = as_mapping(config.get("site_info"))
    out: dict[str, Any] = {}
    # Values as config.json has them, whatever their type: the /api/site_info mapper takes a number
    # only as a number and text only as text, and counts a text field of another type (a country of
    # 61), so a Powerwall 3's odd config.json is treated like any gateway's odd answer.
    for src, dst in SITE_INFO_KEYS:
        v = site.get(src)
        if v is not None:
            out[dst] = v
    code = site.get("grid_code")
    nested = as_mapping(code)
    grid = {k: nested.get(k, site.get(k)) for k in GRID_CODE_KEYS if k != "grid_code"}
    grid["grid_code"] = nested.get("grid_code") if isinstance(code, Mapping) else code
    grid = {k: v for k, v in grid.items() if v is not None}
    if grid:
        out["grid_code"] = grid
    return out or None


def _split_din(din: str) -> tuple[str, str]:
    part, sep, serial = din.rpartition("--")
    return (part, serial) if sep else ("", din)


def _sitemaster(controller: Mapping[str, Any]) -> dict[str, Any] | None:
    running = as_mapping(as_mapping(controller.get("system")).get("sitemanagerStatus")).get("isRunning")
    return {"running": running} if isinstance(running, bool) else None


def _system_status(controller: Mapping[str, Any]) -> dict[str, Any] | None:
    control = as_mapping(controller.get("control"))
    status = as_mapping(control.get("systemStatus"))
    out: dict[str, Any] = {}
    for src, dst in (
        ("nominalFullPackEnergyWh", "nominal_full_pack_energy"),
        ("nominalEnergyRemainingWh", "nominal_energy_remaining"),
    ):
        v = number(status.get(src))
        if v is not None:
            out[dst] = v
    blocks = []
    raw_blocks = control.get("batteryBlocks")
    for b in raw_blocks if isinstance(raw_blocks, list) else ():
        block = as_mapping(b)
        din = block.get("din")
        if not isinstance(din, str) or not din:
            continue
        part, serial = _split_din(din)
        entry: dict[str, Any] = {"PackagePartNumber": part, "PackageSerialNumber": serial}
        reasons = block.get("disableReasons")
        if isinstance(reasons, list):
            entry["disabled_reasons"] = [r for r in reasons if isinstance(r, str)]
        blocks.append(entry)
    if blocks:
        out["battery_blocks"] = blocks
    return out or None


def _status(firmware: SystemInfo, gateway_din: str | None) -> dict[str, Any]:
    short = firmware.git_hash[:8]
    build = firmware.build or firmware.version  # as the gateway wrote it: /api/status's own shape
    return {
        "din": firmware.din or gateway_din or "",
        "version": f"{build} {short}" if short else build,
        "git_hash": firmware.git_hash,
    }


def site_answers(
    config: Mapping[str, Any] | None,
    controller: Mapping[str, Any] | None,
    firmware: SystemInfo | None,
    gateway_din: str | None,
) -> dict[Shape, dict[str, Any]]:
    """The site-level shapes these answers stand in for (module docstring)."""
    out: dict[Shape, dict[str, Any] | None] = {}
    if isinstance(config, Mapping):
        out[Shape.OPERATION] = _operation(config)
        out[Shape.SITE_INFO] = _site_info(config)
    if isinstance(controller, Mapping):
        out[Shape.SYSTEM_STATUS] = _system_status(controller)
        out[Shape.SITEMASTER] = _sitemaster(controller)
    if firmware is not None:
        out[Shape.STATUS] = _status(firmware, gateway_din)
    return {k: v for k, v in out.items() if v}


def controller_site_metrics(controller: Mapping[str, Any] | None, ms: MetricSet) -> None:
    """Islanding and shutdown gauges from a DeviceControllerQuery ``data``; absent fields add nothing."""
    control = as_mapping(as_mapping(controller).get("control"))
    islanding = as_mapping(control.get("islanding"))
    mode = islanding.get("customerIslandMode")
    if isinstance(mode, bool):
        ms.add(ISLANDING_CUSTOMER_MODE, 1.0 if mode else 0.0)
    elif isinstance(mode, str) and mode:
        ms.add(ISLANDING_CUSTOMER_MODE_INFO, 1.0, {"state": mode})
    for key, metric in ISLANDING_FLAGS:
        v = islanding.get(key)
        if isinstance(v, bool):
            ms.add(metric, 1.0 if v else 0.0)
    shut = as_mapping(control.get("siteShutdown")).get("isShutDown")
    if isinstance(shut, bool):
        ms.add(SITE_SHUTDOWN, 1.0 if shut else 0.0)

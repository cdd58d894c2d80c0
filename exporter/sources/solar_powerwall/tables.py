"""Which ``/api/solar_powerwall`` JSON field becomes which signal of a :class:`~exporter.devices.model.Device`.

Why translate names instead of writing metrics: the same PVAC/PVS report these quantities as vitals
on newer firmware. Renaming each JSON field to the vital name the device would send lets the one rule
table (:mod:`exporter.devices.rules`) map both, so dashboards work on both firmware generations.
Adding a field is a one-line change here; the metric it lands on is decided by the rule table.
"""

from __future__ import annotations

from collections.abc import Mapping

SOLAR_PVAC_STATUS_FIELDS: Mapping[str, str] = {
    "state": "PVAC_State",
    "grid_state": "PVAC_GridState",
    "inv_state": "PVAC_InvState",
    "v_out": "PVAC_Vout",
    "f_out": "PVAC_Fout",
    "p_out": "PVAC_Pout",
    "q_out": "PVAC_Qout",
    "i_out": "PVAC_Iout",
}
"""``pvac_status`` scalars; any other scalar ``k`` there becomes the vital ``PVAC_<k>`` (generic)."""

SOLAR_STRING_FIELDS: Mapping[str, str] = {
    "measured_power": "PVAC_PVMeasuredPower_{string}",
    "measured_voltage": "PVAC_PVMeasuredVoltage_{string}",
    "current": "PVAC_PVCurrent_{string}",
    "connected": "PVS_String{string}_Connected",
}
"""``pvac_status.string_vitals[]`` entries (``string_id`` 1, 2, ... → ``A``, ``B``, ...)."""

SOLAR_PVS_STATUS_FIELDS: Mapping[str, str] = {
    "state": "PVS_State",
    "v_ll": "PVS_vLL",
    "enable_output": "PVS_EnableOutput",
    "self_test_state": "PVS_SelfTestState",
}
"""``pvs_status`` scalars; any other scalar ``k`` there becomes the vital ``PVS_<k>`` (generic)."""

SOLAR_TOP_LEVEL_FIELDS: Mapping[str, str] = {
    "power_status_setpoint": "PVI-PowerStatusSetpoint",
}
"""Top-level scalars attributed to the PVAC; any other top-level scalar keeps its own name."""

"""Unit conversion factors: the one place a gateway unit's relation to a Prometheus base unit is written.

Why one module: the same fact (a Wh is 3600 J) used to be written in the device rule table, the
JSON tables and the energy accounting, each with its own copy; a reviewer checking a conversion
against the gateway documentation now checks it once, and a factor cannot differ between two
sources of the same quantity. Each name says the direction (``WH_TO_J``: multiply Wh by it to get
J); values are plain floats so that every product is the one the exposition has always carried.

The simulated gateway (:mod:`exporter.simulator`) deliberately keeps its own arithmetic: it plays
the gateway the exporter is tested against, and a wrong factor shared by both would pass every test.
"""

from __future__ import annotations

# Energy and charge.
WH_TO_J = 3600.0
"""Watt-hours → joules (the gateway's lifetime counters and pack energies are in Wh)."""
KWH_TO_J = 3_600_000.0
"""Kilowatt-hours → joules (site nameplate energy, a Powerwall 3 pack's ``BMS_*`` energies)."""
WH_PER_KWH = 1000.0
"""Watt-hours in a kilowatt-hour: a tariff prices kWh, the gateway counts Wh."""
AH_TO_C = 3600.0
"""Ampere-hours → coulombs (a Powerwall 3 pack's charge counters)."""

# Power.
KW_TO_W = 1000.0
"""Kilowatts → watts (``PINV_Pout``, the site's nominal power and limits)."""
KVAR_TO_VAR = 1000.0
"""Kilovolt-ampere reactive → volt-ampere reactive (``PINV_Qout``)."""

# Time.
NS_TO_S = 1e-9
"""Nanoseconds → seconds (Go ``time.Duration`` integers, a meter's ``timeout``)."""
US_TO_S = 1e-6
"""Microseconds → seconds."""
MS_TO_S = 0.001
"""Milliseconds → seconds (``SYNC_Uptime``)."""
MIN_TO_S = 60.0
"""Minutes → seconds."""
H_TO_S = 3600.0
"""Hours → seconds."""

# Ratios.
PERCENT = 100.0
"""Percent in a whole: a percentage divided by it is a ratio (0..1)."""
PERCENT_TO_RATIO = 0.01
"""The same as a factor, for tables that only multiply (``PCH_FanDuty_*``); equal to ``1 / PERCENT``."""

"""The site's energy ledger: the meters' lifetime counters, each Powerwall's stored energy, and the
true energy flows, moved on by one step's constant powers.

Why a module of its own: this is the ground truth the exporter's energy accounting is checked
against. Besides the counters a gateway shows, every integration splits the step's powers into the
seven flows (solar/battery/grid → home/battery/grid, joules; ``Snapshot.true_flows``), written here in
the power domain, independently of the exporter's counter-based attribution. Counters only grow, as
a real gateway's do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exporter.simulator.hardware import Block, block_shares
from exporter.simulator.powers import Powers

FLOW_PAIRS = (
    ("solar", "home"),
    ("battery", "home"),
    ("grid", "home"),
    ("solar", "battery"),
    ("grid", "battery"),
    ("solar", "grid"),
    ("battery", "grid"),
)


@dataclass
class Counters:
    """The site's lifetime meter counters (Wh), as the gateway's aggregates show them."""

    site_imported: float = 0.0
    site_exported: float = 0.0
    battery_imported: float = 0.0
    battery_exported: float = 0.0
    load_imported: float = 0.0
    solar_exported: float = 0.0
    solar_imported: float = 0.0


@dataclass
class Ledger:
    """Every energy the site has stored or moved: the meters, the Powerwalls, solar's lifetime
    production and the true flows since creation ((source, sink) → joules)."""

    counters: Counters
    blocks: list[Block]
    solar_lifetime: float
    flows: dict[tuple[str, str], float] = field(default_factory=lambda: dict.fromkeys(FLOW_PAIRS, 0.0))

    def copy(self) -> Ledger:
        """An independent copy: integrating it leaves this ledger as it was."""
        return Ledger(
            Counters(**vars(self.counters)),
            [Block(**vars(b)) for b in self.blocks],
            self.solar_lifetime,
            dict(self.flows),
        )

    def integrate(self, p: Powers, dt: float) -> None:
        """Apply powers ``p`` for ``dt`` seconds to the stored energy and the lifetime counters."""
        c = self.counters
        h = dt / 3600.0
        c.site_imported += max(p.site, 0.0) * h
        c.site_exported += max(-p.site, 0.0) * h
        c.battery_exported += max(p.battery, 0.0) * h
        c.battery_imported += max(-p.battery, 0.0) * h
        c.load_imported += p.load * h
        c.solar_exported += p.solar * h
        self.solar_lifetime += p.solar * h
        for pair, watts in split_powers(p).items():
            self.flows[pair] += watts * dt
        if p.solar == 0.0:
            c.solar_imported += 2.0 * h  # inverter standby draw at night, as real sites show
        for b, share in zip(self.blocks, block_shares(self.blocks), strict=True):
            bp = p.battery * share
            if bp >= 0:
                b.energy_discharged_wh += bp * h
                b.remaining_wh = max(0.0, b.remaining_wh - bp * h)
            else:
                b.energy_charged_wh += -bp * h
                b.remaining_wh = min(b.full_pack_wh, b.remaining_wh + 0.95 * -bp * h)


def split_powers(p: Powers) -> dict[tuple[str, str], float]:
    """Who feeds whom during one step (watts). Powers are constant inside a step, so each source has
    one direction and the split is exact: the home takes solar first, then battery, then grid; what
    the battery charges comes from leftover solar first, then the grid; the rest of solar and of the
    battery's discharge is exported. Written here in the power domain, independently of the
    exporter's counter-based attribution it is the ground truth for."""
    solar = max(p.solar, 0.0)
    discharge = max(p.battery, 0.0)
    charge = max(-p.battery, 0.0)
    home = max(p.load, 0.0)
    solar_home = min(solar, home)
    battery_home = min(discharge, home - solar_home)
    grid_home = home - solar_home - battery_home
    solar_battery = min(solar - solar_home, charge)
    grid_battery = charge - solar_battery
    # Whatever solar and battery did not deliver at home or into the battery left through the site meter.
    solar_grid = solar - solar_home - solar_battery
    battery_grid = discharge - battery_home
    return {
        ("solar", "home"): solar_home,
        ("battery", "home"): battery_home,
        ("grid", "home"): grid_home,
        ("solar", "battery"): solar_battery,
        ("grid", "battery"): grid_battery,
        ("solar", "grid"): solar_grid,
        ("battery", "grid"): battery_grid,
    }

"""The simulated site's hardware: part numbers, stable serial numbers, a Powerwall 3's packs, and
each Powerwall's stored energy.

Why a module of its own: what the units *are* (the names and numbers a real gateway reports, which
tests and dashboards key on) changes for other reasons than how the site's powers evolve
(:mod:`exporter.simulator.powers`) or how the site is parametrised (:mod:`exporter.simulator.profile`).
Serial numbers are a function of the seed, so labels do not churn between runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

POWERWALL_PART_NUMBERS = ("3012170-05-B", "2012170-25-E", "1092170-03-E")
POD_PART_NUMBERS = ("1081100-10-U", "1081100-13-V")
PW3_PART_NUMBER = "1707000-11-J"  # a Powerwall 3 (leader and followers); the leader is also the gateway
PW3_PACK_PART_NUMBER = "1800420-11-F"  # the pack built into a Powerwall 3, as a real one reports it
EXPANSION_PART_NUMBER = "1807000-20-B"  # a DC expansion pack
PACK_WH = 13500.0


def serial(seed: int, what: str, prefix: str, digits: int) -> str:
    """Stable fake serial numbers: a function of the seed, so labels do not churn between runs."""
    h = hashlib.sha256(f"{seed}/{what}".encode()).hexdigest()
    return prefix + str(int(h, 16))[:digits]


@dataclass(frozen=True, slots=True)
class Pack:
    """One battery pack of a Powerwall 3: the built-in one or a DC expansion (``expansion``)."""

    part_number: str
    serial: str
    expansion: bool
    share: float  # of its Powerwall 3's energy

    @property
    def din(self) -> str:
        return f"{self.part_number}--{self.serial}"


def pw3_packs(seed: int, unit: int, n_packs: int) -> tuple[Pack, ...]:
    """The packs of Powerwall 3 number ``unit``: the built-in one first, then ``n_packs - 1`` expansions.

    Packs age differently: each holds a fixed per-seed share of the unit's energy (they sum to 1)."""
    weights = [1.0 + 0.04 * (int(serial(seed, f"share{unit}/{k}", "", 3)) / 999.0) for k in range(n_packs)]
    total = sum(weights)
    packs = [Pack(PW3_PACK_PART_NUMBER, serial(seed, f"pack{unit}", "TG1", 11), False, weights[0] / total)]
    for k in range(1, n_packs):
        packs.append(
            Pack(EXPANSION_PART_NUMBER, serial(seed, f"expansion{unit}/{k}", "TG1", 11), True, weights[k] / total)
        )
    return tuple(packs)


@dataclass
class Block:
    """One Powerwall (battery block): what it is, and the energy it holds and has moved so far.

    Mutable: the integration (:mod:`exporter.simulator.energy`) moves its energies on every step."""

    part_number: str
    serial: str
    pod_part_number: str
    pod_serial: str
    pinv_serial: str
    full_pack_wh: float
    remaining_wh: float
    energy_charged_wh: float
    energy_discharged_wh: float
    ambient_c: float


def block_shares(blocks: list[Block]) -> list[float]:
    """Each block's share of the site's battery power: its share of the full-pack energy."""
    total = sum(b.full_pack_wh for b in blocks)
    return [b.full_pack_wh / total for b in blocks] if total > 0 else []

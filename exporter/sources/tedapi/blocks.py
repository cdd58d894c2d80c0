"""``config.json`` ``battery_blocks[]`` → :class:`Block`: which Powerwalls a site has, and which are Powerwall 3s.

Why a module of its own: the TEDAPI source reads the blocks to decide which Powerwall 3s to send a
ComponentsQuery for (:mod:`.components`), and the mapping of each answer takes its block. Neither
the question nor the answer is the place to parse ``config.json``.

All input is treated as hostile: an entry of the wrong type, without a ``vin`` or listed twice is
skipped, and nothing raises.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exporter.coerce import as_list, as_mapping, as_text
from exporter.sources.tedapi.records import PW3_DIN_PREFIX

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Block:
    """One battery block from ``config.json`` ``battery_blocks[]``."""

    din: str  # "part--serial"
    type: str  # "Powerwall2" | "Powerwall3" | "Powerwall3Follower" | ...
    expansions: tuple[str, ...]  # battery_expansions[].din

    @property
    def is_pw3(self) -> bool:
        return self.type.startswith("Powerwall3") or self.din.startswith(PW3_DIN_PREFIX)


def blocks(config: Mapping[str, Any]) -> list[Block]:
    """The battery blocks of ``config.json``; entries without a ``vin``, of the wrong type or repeated are skipped."""
    out: list[Block] = []
    seen: set[str] = set()
    for entry in as_list(as_mapping(config).get("battery_blocks")):
        e = as_mapping(entry)
        din = as_text(e.get("vin"))
        if not din or din in seen:
            log.debug("battery block without vin, or listed twice, skipped")
            continue
        seen.add(din)
        expansions = tuple(
            d for d in (as_text(as_mapping(x).get("din")) for x in as_list(e.get("battery_expansions"))) if d
        )
        out.append(Block(din=din, type=as_text(e.get("type")), expansions=expansions))
    return out

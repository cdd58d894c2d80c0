"""Nameplate (usable) energy of Tesla battery packs, by part-number prefix.

Why a table: the gateway reports each pack's *current* full-pack energy (``POD_nom_full_pack_energy``)
but not what it was sold as, and capacity fade is only visible against that. The part number's first
seven digits name the product; the suffix (``-10-U``) is a revision that does not change the rating.

Sources: Tesla's published datasheets (usable energy 13.5 kWh for Powerwall 2, Powerwall+, Powerwall 3
and the Powerwall 3 DC Expansion). Part numbers seen in the shared captures: pods ``1081100-10-U`` and
``1081100-13-V`` (vitals ``TEPOD``), packages ``2012170-25-E`` and ``3012170-05-B`` (/api/powerwalls,
vitals ``TETHC``); ``1092170-`` is the earlier Powerwall 2 package. A part number not in the table gets
no nameplate series at all (rather than a guess): add a row when a new product shows up.
"""

from __future__ import annotations

from exporter.units import KWH_TO_J

# prefix → (product, usable energy in kWh). Longest matching prefix wins.
NAMEPLATE_KWH: dict[str, tuple[str, float]] = {
    "1081100-": ("Powerwall 2 battery pod", 13.5),
    "1092170-": ("Powerwall 2", 13.5),
    "2012170-": ("Powerwall 2", 13.5),
    "3012170-": ("Powerwall+", 13.5),
    "1707000-": ("Powerwall 3", 13.5),
    "1807000-": ("Powerwall 3 DC Expansion", 13.5),
}


def nameplate_joules(part_number: str) -> float | None:
    """Usable nameplate energy of the pack with this part number, or None when unknown."""
    best = max((p for p in NAMEPLATE_KWH if part_number.startswith(p)), key=len, default=None)
    return None if best is None else NAMEPLATE_KWH[best][1] * KWH_TO_J

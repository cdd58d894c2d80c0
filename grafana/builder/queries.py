"""PromQL helpers: the selectors and expressions several dashboards share.

Why one module: every query must filter by the same ``job``/``gateway`` variables, and the queries that
combine a Powerwall 2's series with a Powerwall 3's (``block_or_packs``, ``block_or_inverter``) or turn
joule counters into kWh are subtle enough to be written once. Plain strings only: nothing here knows
about panels (``kit``), so any dashboard module can use it.
"""

from __future__ import annotations

from collections.abc import Callable

J_TO_KWH = "3.6e6"  # joules per kWh
NAMEPLATE_KWH = 13.5  # Powerwall 2 / 2+ / 3 usable energy on the data sheet

# Selector fragments. Every powerwall_* series carries `gateway`; Prometheus adds `job`.
S = 'job=~"$job", gateway=~"$gateway"'
SJ = 'job=~"$job"'
SSER = f'{S}, serial=~"$serial"'
SC = f'{S}, currency=~"$currency"'
SPOD = f'{S}, serial=~"$pod"'


# --------------------------------------------------------------------------------------------------
# Per Powerwall, on both generations


def per_powerwall(metric: str) -> str:
    """A battery pod/inverter series labelled with (and filtered by) the serial of its Powerwall.

    The `serial` variable lists Powerwall serials (battery blocks; the thermal controller TETHC of a
    Powerwall 2 and a Powerwall 3 itself have the same serial). Pods and inverters carry their own
    serials; their parent DIN in powerwall_device_info names the Powerwall (``TETHC--<part>--<serial>``
    on a Powerwall 2, the Powerwall 3's DIN ``<part>--<serial>`` for its packs, DC expansions included,
    and its inverter PCH), so join on it and expose it as `powerwall`. The part number is part of the
    match because captures with zeroed serials repeat the serial.
    """
    parent = (
        f'label_replace(powerwall_device_info{{{S}, parent_din=~".+--($serial)"}}, '
        '"powerwall", "$1", "parent_din", ".+--(.+)")'
    )
    return f"{metric}{{{S}}} * on(gateway, device, part_number, serial) group_left(powerwall) {parent}"


BLOCK_FULL = "powerwall_battery_block_full_pack_energy_joules"
BLOCK_DISCHARGED = "powerwall_battery_block_energy_discharged_joules_total"
BLOCK_REMAINING = "powerwall_battery_block_remaining_energy_joules"
POD_FULL = "powerwall_pod_full_pack_energy_joules"
POD_DISCHARGED = "powerwall_pod_energy_discharged_joules_total"
POD_REMAINING = "powerwall_pod_energy_remaining_joules"


def block_or_packs(
    block: str,
    pack: str,
    fn: Callable[[str], str] = lambda series: series,
    *,
    agg: str = "sum",
    by: str = "",
    serials: str = "$serial",
) -> str:
    """A Powerwall 2 battery-block quantity per Powerwall, or on a Powerwall 3 its packs' (``agg``).

    A Powerwall 2 reports the quantity per battery block (/api/system_status, labelled with the
    Powerwall's serial and part number); a Powerwall 3's blocks there carry no data, but TEDAPI
    reports each of its battery packs (HVP: built-in and DC expansions), whose parent DIN
    ``<part>--<serial>`` is the Powerwall 3's. So the packs are combined per parent DIN, and its
    part and serial become `part_number` and `serial`: both sides of `or` carry the same labels,
    the block's own, or ``by`` when given (both sides are then summed by it). ``fn`` wraps each
    series selector (e.g. ``max_over_time(...[30d])``); ``serials`` is the regex of Powerwall
    serials to keep (".+" on dashboards without a `serial` variable).
    """
    serial = "" if serials == ".+" else f', serial=~"{serials}"'
    left = fn(f"{block}{{{S}{serial}}}")
    pack_series = fn(f'{pack}{{{S}, device="HVP"}}')
    parent = f'powerwall_device_info{{{S}, device="HVP", parent_din=~".+--({serials})"}}'
    packs = f"{pack_series} * on(gateway, device, part_number, serial) group_left(parent_din) {parent}"
    per_parent = f"{agg} by (job, instance, gateway, parent_din) ({packs})"
    for label, group in (("serial", "$2"), ("part_number", "$1")):
        per_parent = f'label_replace({per_parent}, "{label}", "{group}", "parent_din", "(.+)--(.+)")'
    if by:
        return f"(sum by ({by}) ({left}) or sum by ({by}) ({per_parent}))"
    return f"({left} or sum without (parent_din) ({per_parent}))"


def block_or_inverter(block: str, inverter: str) -> str:
    """A Powerwall 2 battery-block series, or on a Powerwall 3 its inverter PCH's (TEDAPI), which
    carries the Powerwall 3's own serial and part number: only `device` is dropped, so both sides
    of `or` have the same labels."""
    return f'({block}{{{SSER}}} or sum without (device) ({inverter}{{{SSER}, device="PCH"}}))'


# --------------------------------------------------------------------------------------------------
# Gateway meters: the lifetime joule counters and power of the site, solar, battery and load meters


def meter(name: str, m: str, extra: str = "") -> str:
    """A series of one gateway meter (site, solar, battery, load), filtered by the dashboard variables."""
    return f'{name}{{{S}, meter="{m}"{extra}}}'


def kwh_range(counter: str, m: str, window: str = "$__range") -> str:
    """kWh that flowed through one meter in a window, summed over its selected gateways."""
    return f"sum by (gateway) (increase({meter(counter, m)}[{window}])) / {J_TO_KWH}"


IMP = "powerwall_meter_energy_imported_joules_total"
EXP = "powerwall_meter_energy_exported_joules_total"
POWER = "powerwall_meter_power_watts"

# (legend, counter, meter): the six energy flows a home owner reads.
FLOWS: list[tuple[str, str, str]] = [
    ("Home", IMP, "load"),
    ("Solar", EXP, "solar"),
    ("From grid", IMP, "site"),
    ("To grid", EXP, "site"),
    ("Battery charged", IMP, "battery"),
    ("Battery discharged", EXP, "battery"),
]


def zero_if_absent(expr: str) -> str:
    """Show 0 instead of "No data" for counters that only appear after the first event (e.g. a 429)."""
    return f"({expr}) or sum by (gateway) (0 * powerwall_up{{{S}}})"


# --------------------------------------------------------------------------------------------------
# Energy flows (issue 11): the exporter's flow counters, source → sink


FLOW = "powerwall_energy_flow_joules_total"
# (legend, matcher) of the seven flows, in stacking order: what feeds the home first.
FLOW_SERIES: list[tuple[str, str]] = [
    ("Solar → home", 'source="solar", sink="home"'),
    ("Battery → home", 'source="battery", sink="home"'),
    ("Grid → home", 'source="grid", sink="home"'),
    ("Solar → battery", 'source="solar", sink="battery"'),
    ("Grid → battery", 'source="grid", sink="battery"'),
    ("Solar → grid", 'source="solar", sink="grid"'),
    ("Battery → grid", 'source="battery", sink="grid"'),
]


def flow_increase(matchers: str, window: str, by: str = "gateway") -> str:
    """Energy (J) of the flows matching `matchers` in a window, summed by `by`."""
    return f"sum by ({by}) (increase({FLOW}{{{S}, {matchers}}}[{window}]))"


def flow_kwh(matchers: str, window: str, by: str = "gateway") -> str:
    """:func:`flow_increase` in kWh."""
    return f"{flow_increase(matchers, window, by)} / {J_TO_KWH}"


def self_powered(window: str, by: str = "gateway") -> str:
    """Share of home energy from solar and battery; no value (not NaN) without home use."""
    home = flow_increase('sink="home"', window, by)
    own = flow_increase('sink="home", source=~"solar|battery"', window, by)
    return f"{own} / ({home} > 0)"


def money(counter: str, window: str, by: str = "gateway, currency") -> str:
    """Cost or credit accrued in a window; kept per currency, since sums across currencies mean nothing."""
    return f"sum by ({by}) (increase({counter}{{{SC}}}[{window}]))"

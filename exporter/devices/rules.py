"""The one rule table for per-device data: which signal becomes which metric, with what scale and labels.

Every per-device source decodes into :class:`~exporter.devices.model.Device` records whose signals
carry the gateway's vital names (the vitals protobuf sends them; ``/api/solar_powerwall`` is
renamed to them in :mod:`exporter.sources.solar_powerwall.tables`; TEDAPI will be too). This table
is the only place that maps those names to metrics, so all sources yield identical names and labels
for the same quantity. The rest of this docstring says "vital" for such a signal name.

This module is the table and nothing else, so that adding a vital is a one-line change a reviewer can
check against the gateway documentation (``shared/docs/gateway-api.md`` section 4,
``shared/docs/tedapi.md``), and so that tests can reason about the mapping as a whole (every metric
keeps one label schema; no two vitals of a device can land on the same series). The engine that
applies it (matching, label templates, the generic rule for every vital no rule takes) and checks
its invariants at import is :mod:`exporter.devices.resolve`.

Curated rules (:data:`RULES`)
    Each :class:`Rule` has a regular expression matched against the *whole* vital name (named
    groups allowed), the target :class:`~exporter.metrics.metricset.MetricDef`, a scale factor and extra
    labels. Label values are ``str.format`` templates over the named groups, with the conversions
    of :data:`exporter.devices.resolve.CONVERSIONS`: ``!l`` lower-cases (``{side!l}``: ``Main`` →
    ``main``), ``!n`` turns a CT letter into its 1-based number (``A`` → ``1``), ``!i`` a 0-based
    index into a 1-based one (``0`` → ``1``), ``!p`` a line number into its phase (``1`` → ``A``)
    and ``!q`` a line pair into its phase pair (``L1L2`` → ``AB``, ``L1L3`` → ``CA``). The first
    matching rule wins. Numeric and bool values (bool → 0/1) go to gauge/counter rules, text values to ``_info``
    rules whose value becomes the label named by ``value_label`` (``state`` unless the text is
    not a state, e.g. a CT's ``location``). A value of the wrong type for its rule (a state that
    suddenly arrives as a number) falls through to the generic rule (:mod:`exporter.devices.resolve`),
    so it is still exported.

Per-device units are converted to Prometheus base units here and nowhere else, with the factors of
:mod:`exporter.units`: ``PINV_Pout``/``PINV_Qout`` arrive in kW/kvar (* 1000), ``PVAC_Pout`` and the
CT powers already in W/var, energies in Wh (* 3600 → J), temperatures in °C, frequencies in Hz,
voltages in V, currents in A. TEDAPI adds Powerwall 3 signals in other units: ``BMS_*`` energies in
kWh (* 3.6e6 → J), charges in Ah (* 3600 → C), ``PCH_FanDuty_*`` in % (* 0.01 → ratio),
``SYNC_Uptime`` in ms (* 0.001 → s); ``PCH_*`` powers are already W (unlike ``PINV_Pout``). Where a
Powerwall 3 signal measures the same quantity as a Powerwall 2 vital it shares that vital's family
(``PCH_AcRealPowerSum`` and ``PINV_Pout`` → ``powerwall_inverter_power_watts``,
``BMS_nominalEnergyRemaining`` and ``POD_nom_energy_remaining`` →
``powerwall_pod_energy_remaining_joules``, ``PCH_AmbientTemp`` and ``THC_AmbientTemp`` → one ambient
temperature), so one dashboard panel serves both generations; the ``device`` label tells them apart.

Every per-device series carries ``device``, ``serial``, ``part_number`` first, then the rule's
extra labels, then the value label. One vocabulary (README, "Label vocabulary"):

* ``channel`` is the CT input group of the measuring device, not a site role (that is ``meter`` on
  ``powerwall_meter_*``): ``X``/``Y``/``Z`` from ``METER_<channel>_*`` on TESYNC/TEMSA, and
  ``neurio`` for a wireless Neurio meter (whose ``serial`` identifies it; the value is kept so
  every ``powerwall_ct_*`` family has one label schema).
* ``ct`` is the 1-based CT number as a string: ``METER_<c>_CTA/CTB/CTC_*`` → ``1``/``2``/``3``,
  ``NEURIO_CT0..CT3_*`` → ``1``..``4``.
* ``phase`` is the conductor, ``A``/``B``/``C`` (the gateway's L1/L2/L3), or for a line-to-line
  quantity the pair ``AB``/``BC``/``CA``. No rule uses ``line``/``lines``.
* ``string`` is the PV string's letter as the inverter names it, ``A``.. (``PVAC_*_<X>`` A..D,
  ``PCH_Pv*<X>`` A..F).
* ``fan`` is the fan's letter as the device names it: ``A``/``B`` for ``PCH_FanSpeed_<X>`` and
  ``PCH_FanDuty_<X>``; a device with one unnamed fan (the PVAC's ``PVAC_Fan_Speed_Actual_RPM``) is
  ``A``. Which fan, never a setpoint-versus-actual distinction (a setpoint would be its own family).
* ``sensor`` says which of several readings of one quantity: ``max``/``min`` for a pack's cell
  temperature extremes (``HVP_PackTempMax/Min``).
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.metrics.metricset import MetricDef, counter, gauge, info
from exporter.units import AH_TO_C, KVAR_TO_VAR, KW_TO_W, KWH_TO_J, MS_TO_S, PERCENT_TO_RATIO, WH_TO_J

# ---------------------------------------------------------------------------------------------
# Device-level metrics (from the device record, not from a vital)
DEVICE_INFO = info(
    "powerwall_device_info",
    "A device the gateway reports (vitals or TEDAPI): DIN, parent DIN, firmware, manufacturer; always 1.",
)
DEVICE_LAST_COMMUNICATION = gauge(
    "powerwall_device_last_communication_timestamp_seconds",
    "When the gateway last heard from the device (Unix time, lastCommunicationTime).",
)
DEVICE_FIRST_COMMUNICATION = gauge(
    "powerwall_device_first_communication_timestamp_seconds",
    "When the gateway first heard from the device (Unix time, firstCommunicationTime), when sent.",
)
DEVICE_ALERT = gauge(
    "powerwall_device_alert",
    "An active alert of the device (one series per distinct alert name); always 1.",
)
DEVICE_NAMEPLATE_POWER = gauge(
    "powerwall_device_nameplate_power_watts",
    "Nameplate real power of a PV inverter or generator (pvInverterAttributes/generatorAttributes).",
)
DEVICE_NAMEPLATE_APPARENT_POWER = gauge(
    "powerwall_device_nameplate_apparent_power_va",
    "Nameplate apparent power of a generator (generatorAttributes.nameplateApparentPowerVa).",
)
DEVICE_METRICS: tuple[MetricDef, ...] = (
    DEVICE_INFO,
    DEVICE_LAST_COMMUNICATION,
    DEVICE_FIRST_COMMUNICATION,
    DEVICE_ALERT,
    DEVICE_NAMEPLATE_POWER,
    DEVICE_NAMEPLATE_APPARENT_POWER,
)
DEVICE_LABELS = ("device", "serial", "part_number")
DEVICE_INFO_LABELS = (*DEVICE_LABELS, "din", "parent_din", "firmware", "manufacturer")


@dataclass(frozen=True, slots=True)
class Rule:
    """One curated mapping entry; see the module docstring for the semantics."""

    pattern: str
    metric: MetricDef
    scale: float = 1.0
    labels: tuple[tuple[str, str], ...] = ()
    value_label: str = "state"

    def __post_init__(self) -> None:
        # The flattener hands a series' label pairs to MetricSet.add_pairs as they are, which
        # wants distinct names: a rule label repeating a device label would be a duplicate.
        names = (*DEVICE_LABELS, *(k for k, _ in self.labels), self.value_label)
        if len(set(names)) != len(names):
            raise ValueError(f"{self.pattern}: label names {names} repeat one")


def _rule(
    pattern: str,
    metric: MetricDef,
    scale: float = 1.0,
    value_label: str = "state",
    **labels: str,
) -> Rule:
    return Rule(pattern, metric, scale, tuple(labels.items()), value_label)


_g = gauge
_c = counter
_i = info

# Families fed by more than one rule are defined once, so their help text does not depend on which
# device happens to come first in a payload.
CT_POWER = gauge(
    "powerwall_ct_power_watts",
    "Real power through one CT (METER_<m>_CT<c>_InstRealPower, NEURIO_CT<n>_InstRealPower).",
)
CT_REACTIVE_POWER = gauge(
    "powerwall_ct_reactive_power_var",
    "Reactive power through one CT (METER_<m>_CT<c>_InstReactivePower, NEURIO_CT<n>_InstReactivePower).",
)

# Families that TEDAPI's Powerwall 3 signals share with the vitals (one family per quantity); each
# help text names every signal that feeds it.
INVERTER_POWER = gauge(
    "powerwall_inverter_power_watts",
    "Inverter real power: Powerwall 2 battery inverter (PINV_Pout, kW scaled to W; + discharging, - charging), "
    "Powerwall 3 inverter (PCH_AcRealPowerSum, W).",
)
INVERTER_VOLTAGE = gauge(
    "powerwall_inverter_voltage_volts", "Inverter output voltage, line to line (PINV_Vout; PCH_AcVoltageAB)."
)
INVERTER_PHASE_VOLTAGE = gauge(
    "powerwall_inverter_phase_voltage_volts",
    "Inverter voltage, line to neutral (PINV_VSplit1/2 → phase A/B; PCH_AcVoltageAN/BN/CN).",
)
INVERTER_FREQUENCY = gauge(
    "powerwall_inverter_frequency_hertz", "Inverter output frequency (PINV_Fout; PCH_AcFrequency)."
)
INVERTER_STATE = info("powerwall_inverter_state_info", "Inverter state (PINV_State; PCH_State); always 1.")
POD_ENERGY_REMAINING = gauge(
    "powerwall_pod_energy_remaining_joules",
    "Nominal energy remaining in the pod or pack (POD_nom_energy_remaining Wh; BMS_nominalEnergyRemaining kWh; in J).",
)
POD_FULL_PACK_ENERGY = gauge(
    "powerwall_pod_full_pack_energy_joules",
    "Nominal full-pack energy of the pod or pack (POD_nom_full_pack_energy Wh; BMS_nominalFullPackEnergy kWh; in J).",
)
POD_STATE = info("powerwall_pod_state_info", "Battery pod or pack state (POD_state; HVP_State); always 1.")
THERMAL_AMBIENT_TEMPERATURE = gauge(
    "powerwall_thermal_ambient_temperature_celsius",
    "Ambient temperature at the Powerwall (THC_AmbientTemp; PCH_AmbientTemp on a Powerwall 3).",
)
SOLAR_STRING_POWER = gauge(
    "powerwall_solar_string_power_watts",
    "PV string power (PVAC_PVMeasuredPower_<string>; voltage x current where the inverter reports none).",
)
SOLAR_STRING_VOLTAGE = gauge(
    "powerwall_solar_string_voltage_volts",
    "PV string voltage (PVAC_PVMeasuredVoltage_<string>; PCH_PvVoltage<string>).",
)
SOLAR_STRING_CURRENT = gauge(
    "powerwall_solar_string_current_amperes", "PV string current (PVAC_PVCurrent_<string>; PCH_PvCurrent<string>)."
)
SOLAR_STRING_STATE = info(
    "powerwall_solar_string_state_info", "PV string state (PVAC_PvState_<string>; PCH_PvState_<string>); always 1."
)
FAN_SPEED = gauge(
    "powerwall_fan_speed_rpm",
    "Fan speed in revolutions per minute (PCH_FanSpeed_<fan>, PVAC_Fan_Speed_Actual_RPM).",
)
CT_CURRENT = gauge("powerwall_ct_current_amperes", "Current through one CT (METER_<channel>_CT<A|B|C>_I → ct 1/2/3).")

# fmt: off
RULES: tuple[Rule, ...] = (
    # --- TEPINV: Powerwall battery inverter --------------------------------------------------
    _rule(r"PINV_Pout", INVERTER_POWER, KW_TO_W),
    _rule(r"PINV_Qout", _g("powerwall_inverter_reactive_power_var",
          "Battery inverter reactive power (PINV_Qout, kvar scaled to var)."), KVAR_TO_VAR),
    _rule(r"PINV_Vout", INVERTER_VOLTAGE),
    _rule(r"PINV_VSplit(?P<n>[0-9])", INVERTER_PHASE_VOLTAGE, phase="{n!p}"),
    _rule(r"PINV_Fout", INVERTER_FREQUENCY),
    _rule(r"PINV_PllFrequency", _g("powerwall_inverter_pll_frequency_hertz",
          "Grid frequency seen by the battery inverter's PLL (PINV_PllFrequency).")),
    _rule(r"PINV_EnergyCharged", _c("powerwall_inverter_energy_charged_joules_total",
          "Lifetime energy into the battery inverter (PINV_EnergyCharged, Wh scaled to J)."), WH_TO_J),
    _rule(r"PINV_EnergyDischarged", _c("powerwall_inverter_energy_discharged_joules_total",
          "Lifetime energy out of the battery inverter (PINV_EnergyDischarged, Wh scaled to J)."),
          WH_TO_J),
    _rule(r"PINV_State", INVERTER_STATE),
    _rule(r"PINV_GridState", _i("powerwall_inverter_grid_state_info",
          "Battery inverter grid compliance state (PINV_GridState); always 1.")),
    _rule(r"PINV_PowerLimiter", _i("powerwall_inverter_power_limiter_info",
          "What currently limits the battery inverter's power (PINV_PowerLimiter); always 1.")),
    # --- TEPOD: battery pod --------------------------------------------------------------------
    _rule(r"POD_nom_energy_remaining", POD_ENERGY_REMAINING, WH_TO_J),
    _rule(r"POD_nom_full_pack_energy", POD_FULL_PACK_ENERGY, WH_TO_J),
    _rule(r"POD_nom_energy_to_be_charged", _g("powerwall_pod_energy_to_be_charged_joules",
          "Energy the pod can still take (POD_nom_energy_to_be_charged, Wh scaled to J)."), WH_TO_J),
    _rule(r"POD_available_charge_power", _g("powerwall_pod_available_charge_power_watts",
          "Charge power the pod can accept now (POD_available_charge_power).")),
    _rule(r"POD_available_dischg_power", _g("powerwall_pod_available_discharge_power_watts",
          "Discharge power the pod can deliver now (POD_available_dischg_power).")),
    _rule(r"POD_PermanentlyFaulted", _g("powerwall_pod_permanently_faulted",
          "1 when the pod reports a permanent fault (POD_PermanentlyFaulted).")),
    _rule(r"POD_PersistentlyFaulted", _g("powerwall_pod_persistently_faulted",
          "1 when the pod reports a persistent fault (POD_PersistentlyFaulted).")),
    _rule(r"POD_state", POD_STATE),
    # --- TETHC: Powerwall thermal controller ---------------------------------------------------
    _rule(r"THC_AmbientTemp", THERMAL_AMBIENT_TEMPERATURE),
    _rule(r"THC_State", _i("powerwall_thermal_state_info",
          "Powerwall thermal controller state (THC_State); always 1.")),
    # --- PVAC/PVS: Powerwall+ solar inverter, per string ---------------------------------------
    _rule(r"PVAC_PVMeasuredPower_(?P<string>[A-Z])", SOLAR_STRING_POWER, string="{string}"),
    _rule(r"PVAC_PVMeasuredVoltage_(?P<string>[A-Z])", SOLAR_STRING_VOLTAGE, string="{string}"),
    _rule(r"PVAC_PVCurrent_(?P<string>[A-Z])", SOLAR_STRING_CURRENT, string="{string}"),
    _rule(r"PVAC_PvState_(?P<string>[A-Z])", SOLAR_STRING_STATE, string="{string}"),
    _rule(r"PVS_String(?P<string>[A-Z])_Connected", _g("powerwall_solar_string_connected",
          "1 when the PV string is connected (PVS_String<string>_Connected)."), string="{string}"),
    # --- PVAC: Powerwall+ solar inverter -------------------------------------------------------
    _rule(r"PVAC_Pout", _g("powerwall_solar_inverter_power_watts",
          "Solar inverter real power (PVAC_Pout, already W).")),
    _rule(r"PVAC_Qout", _g("powerwall_solar_inverter_reactive_power_var",
          "Solar inverter reactive power (PVAC_Qout).")),
    _rule(r"PVAC_Vout", _g("powerwall_solar_inverter_voltage_volts",
          "Solar inverter output voltage, line to line (PVAC_Vout).")),
    _rule(r"PVAC_Fout", _g("powerwall_solar_inverter_frequency_hertz",
          "Solar inverter output frequency (PVAC_Fout).")),
    _rule(r"PVAC_Iout", _g("powerwall_solar_inverter_current_amperes",
          "Solar inverter output current (PVAC_Iout).")),
    _rule(r"PVAC_VL(?P<n>[0-9])Ground", _g("powerwall_solar_inverter_line_ground_voltage_volts",
          "Solar inverter line-to-ground voltage (PVAC_VL1Ground/PVAC_VL2Ground → phase A/B)."),
          phase="{n!p}"),
    _rule(r"PVAC_VHvMinusChassisDC", _g("powerwall_solar_inverter_hv_minus_chassis_voltage_volts",
          "Solar inverter DC voltage from HV- to chassis (PVAC_VHvMinusChassisDC).")),
    _rule(r"PVAC_LifetimeEnergyPV_Total", _c("powerwall_solar_inverter_energy_joules_total",
          "Lifetime PV energy of the solar inverter (PVAC_LifetimeEnergyPV_Total, Wh scaled to J)."),
          WH_TO_J),
    _rule(r"PVAC_State", _i("powerwall_solar_inverter_state_info",
          "Solar inverter state (PVAC_State); always 1.")),
    _rule(r"PVAC_InvState", _i("powerwall_solar_inverter_inv_state_info",
          "Solar inverter power-stage state (PVAC_InvState); always 1.")),
    _rule(r"PVAC_GridState", _i("powerwall_solar_inverter_grid_state_info",
          "Solar inverter grid compliance state (PVAC_GridState); always 1.")),
    # --- PVS: PV string safety board -----------------------------------------------------------
    _rule(r"PVS_State", _i("powerwall_solar_pvs_state_info",
          "PV string safety board state (PVS_State); always 1.")),
    _rule(r"PVS_vLL", _g("powerwall_solar_pvs_line_voltage_volts",
          "Line-to-line AC voltage at the PV string safety board (PVS_vLL).")),
    # --- TESYNC / TEMSA: wired site CTs (METER_X site, METER_Y solar/aux, METER_Z backup switch) -
    _rule(r"METER_(?P<ch>[A-Z])_CT(?P<ct>[A-Z])_InstRealPower", CT_POWER, channel="{ch}", ct="{ct!n}"),
    _rule(r"METER_(?P<ch>[A-Z])_CT(?P<ct>[A-Z])_InstReactivePower", CT_REACTIVE_POWER,
          channel="{ch}", ct="{ct!n}"),
    _rule(r"METER_(?P<ch>[A-Z])_CT(?P<ct>[A-Z])_I", CT_CURRENT, channel="{ch}", ct="{ct!n}"),
    _rule(r"METER_(?P<ch>[A-Z])_VL(?P<n>[0-9])N", _g("powerwall_ct_meter_voltage_volts",
          "Line-to-neutral voltage a meter channel measures, one per phase, not per CT "
          "(METER_<channel>_VL<1|2|3>N → phase A/B/C)."), channel="{ch}", phase="{n!p}"),
    _rule(r"METER_(?P<ch>[A-Z])_LifetimeEnergyImport",
          _c("powerwall_ct_energy_imported_joules_total",
             "Lifetime energy imported through a meter channel (METER_<channel>_LifetimeEnergyImport, "
             "Wh scaled to J)."),
          WH_TO_J, channel="{ch}"),
    _rule(r"METER_(?P<ch>[A-Z])_LifetimeEnergyExport",
          _c("powerwall_ct_energy_exported_joules_total",
             "Lifetime energy exported through a meter channel (METER_<channel>_LifetimeEnergyExport, "
             "Wh scaled to J)."),
          WH_TO_J, channel="{ch}"),
    # --- NEURIO: wireless CT meter (CT0..CT3 → ct 1..4) ------------------------------------------
    _rule(r"NEURIO_CT(?P<ct>[0-9]+)_InstRealPower", CT_POWER, channel="neurio", ct="{ct!i}"),
    _rule(r"NEURIO_CT(?P<ct>[0-9]+)_InstReactivePower", CT_REACTIVE_POWER, channel="neurio", ct="{ct!i}"),
    _rule(r"NEURIO_CT(?P<ct>[0-9]+)_Location", _i("powerwall_ct_location_info",
          "What a CT measures (NEURIO_CT<n>_Location, e.g. solarRGM; CT0 → ct 1); always 1."),
          value_label="location", channel="neurio", ct="{ct!i}"),
    # --- TESYNC: islanding / backup switch ------------------------------------------------------
    _rule(r"ISLAND_FreqL(?P<n>[0-9])_(?P<side>Main|Load)", _g("powerwall_island_frequency_hertz",
          "Frequency on the grid (main) or home (load) side of the backup switch (ISLAND_FreqL<n>_*)."),
          phase="{n!p}", side="{side!l}"),
    _rule(r"ISLAND_VL(?P<n>[0-9])N_(?P<side>Main|Load)", _g("powerwall_island_voltage_volts",
          "Line-to-neutral voltage on the grid (main) or home (load) side (ISLAND_VL<n>N_*)."),
          phase="{n!p}", side="{side!l}"),
    _rule(r"ISLAND_GridConnected", _g("powerwall_island_grid_connected",
          "1 when the backup switch connects the site to the grid (ISLAND_GridConnected).")),
    _rule(r"ISLAND_GridState", _i("powerwall_island_grid_state_info",
          "Grid state seen by the backup switch (ISLAND_GridState); always 1.")),
    _rule(r"ISLAND_(?P<pair>L[0-9]L[0-9])PhaseDelta", _g("powerwall_island_phase_delta_degrees",
          "Phase angle between two lines (ISLAND_L<a>L<b>PhaseDelta → phase AB/BC/CA; the gateway's sign; "
          "degrees, split phase reads ~180)."),
          phase="{pair!q}"),
    _rule(r"ISLAND_PhaseL(?P<n>[0-9])_Main_Load", _g("powerwall_island_main_load_phase_delta_degrees",
          "Phase angle between grid and home side of one line (ISLAND_PhaseL<n>_Main_Load; degrees)."),
          phase="{n!p}"),
    _rule(r"ISLAND_L(?P<n>[0-9])MicrogridOk", _g("powerwall_island_microgrid_ok",
          "1 when the line is fit for microgrid operation (ISLAND_L<n>MicrogridOk)."), phase="{n!p}"),
    # --- TEDAPI additions to the Powerwall 2/+ families (components.msa, esCan) ----------------
    _rule(r"PINV_HeatsinkTemp", _g("powerwall_inverter_heatsink_temperature_celsius",
          "Battery inverter heatsink temperature (PINV_HeatsinkTemp).")),
    _rule(r"PINV_LifetimeEnergyCharged", _c("powerwall_inverter_lifetime_energy_charged_joules_total",
          "Lifetime energy into the battery inverter (PINV_LifetimeEnergyCharged, Wh scaled to J)."),
          WH_TO_J),
    _rule(r"PINV_LifetimeEnergyDischarged", _c("powerwall_inverter_lifetime_energy_discharged_joules_total",
          "Lifetime energy out of the battery inverter (PINV_LifetimeEnergyDischarged, Wh scaled to J)."),
          WH_TO_J),
    _rule(r"PVAC_Fan_Speed_Actual_RPM", FAN_SPEED, fan="A"),
    _rule(r"SYNC_Uptime", _g("powerwall_device_uptime_seconds",
          "Uptime of the device's controller (SYNC_Uptime, ms scaled to s)."), MS_TO_S),
    _rule(r"NEURIO_CT(?P<ct>[0-9]+)_I", CT_CURRENT, channel="neurio", ct="{ct!i}"),
    _rule(r"NEURIO_CT(?P<ct>[0-9]+)_InstVoltage", _g("powerwall_ct_voltage_volts",
          "Voltage the meter reads with one CT (NEURIO_CT<n>_InstVoltage; CT0 → ct 1)."),
          channel="neurio", ct="{ct!i}"),
    # --- PCH: Powerwall 3 inverter (TEDAPI components.pch) --------------------------------------
    _rule(r"PCH_PvVoltage(?P<string>[A-Z])", SOLAR_STRING_VOLTAGE, string="{string}"),
    _rule(r"PCH_PvCurrent(?P<string>[A-Z])", SOLAR_STRING_CURRENT, string="{string}"),
    _rule(r"PCH_PvPower(?P<string>[A-Z])", SOLAR_STRING_POWER, string="{string}"),
    _rule(r"PCH_PvState_(?P<string>[A-Z])", SOLAR_STRING_STATE, string="{string}"),
    _rule(r"PCH_AcRealPowerSum", INVERTER_POWER),
    _rule(r"PCH_AcVoltage(?P<p>[A-C])N", INVERTER_PHASE_VOLTAGE, phase="{p}"),
    _rule(r"PCH_AcVoltage(?:AB|LL)", INVERTER_VOLTAGE),
    _rule(r"PCH_AcFrequency", INVERTER_FREQUENCY),
    _rule(r"PCH_State", INVERTER_STATE),
    _rule(r"PCH_AcMode", _i("powerwall_inverter_ac_mode_info",
          "AC mode of the Powerwall 3 inverter (PCH_AcMode, as the state label); always 1.")),
    _rule(r"PCH_BatteryPower", _g("powerwall_inverter_battery_power_watts",
          "DC power between the Powerwall 3 inverter and its battery packs (PCH_BatteryPower; the gateway's sign).")),
    _rule(r"PCH_SlowPvPowerSum", _g("powerwall_inverter_solar_power_watts",
          "PV power into the Powerwall 3 inverter, all strings, slowly filtered (PCH_SlowPvPowerSum).")),
    _rule(r"PCH_AmbientTemp", THERMAL_AMBIENT_TEMPERATURE),
    _rule(r"PCH_FanSpeed_(?P<fan>[A-Z])", FAN_SPEED, fan="{fan}"),
    _rule(r"PCH_FanDuty_(?P<fan>[A-Z])", _g("powerwall_fan_duty_ratio",
          "Fan duty cycle (PCH_FanDuty_<fan>, % scaled to 0..1)."), PERCENT_TO_RATIO, fan="{fan}"),
    # --- BMS/HVP: Powerwall 3 battery packs, one device per pack (TEDAPI components.bms/hvp) -----
    _rule(r"BMS_nominalEnergyRemaining", POD_ENERGY_REMAINING, KWH_TO_J),
    _rule(r"BMS_nominalFullPackEnergy", POD_FULL_PACK_ENERGY, KWH_TO_J),
    _rule(r"BMS_kwhDischargeTotal", _c("powerwall_pod_energy_discharged_joules_total",
          "Lifetime energy out of the battery pack (BMS_kwhDischargeTotal, kWh scaled to J)."), KWH_TO_J),
    _rule(r"BMS_LOG_numFullBattCycles", _c("powerwall_pod_full_cycles_total",
          "Full charge cycles of the battery pack (BMS_LOG_numFullBattCycles).")),
    _rule(r"BMS_LOG_cacAvg", _g("powerwall_pod_charge_capacity_coulombs",
          "Average charge capacity of the battery pack's cells (BMS_LOG_cacAvg, Ah scaled to C)."), AH_TO_C),
    _rule(r"BMS_LOG_ahDischargeTotal", _c("powerwall_pod_charge_discharged_coulombs_total",
          "Lifetime charge out of the battery pack (BMS_LOG_ahDischargeTotal, Ah scaled to C)."), AH_TO_C),
    _rule(r"HVP_PackTemp(?P<sensor>Max|Min)", _g("powerwall_pod_temperature_celsius",
          "Highest (max) or lowest (min) cell temperature of the battery pack (HVP_PackTempMax/Min)."),
          sensor="{sensor!l}"),
    _rule(r"HVP_ShuntTemperature", _g("powerwall_pod_shunt_temperature_celsius",
          "Temperature of the battery pack's current shunt (HVP_ShuntTemperature).")),
    _rule(r"HVP_State", POD_STATE),
    # --- BAGGR: Powerwall 3 battery aggregator ---------------------------------------------------
    _rule(r"BAGGR_NumBatteriesExpected", _g("powerwall_battery_packs_expected",
          "Battery packs the Powerwall 3 expects, built-in and expansions (BAGGR_NumBatteriesExpected).")),
    _rule(r"BAGGR_NumBatteriesPresent", _g("powerwall_battery_packs_present",
          "Battery packs the Powerwall 3 detects (BAGGR_NumBatteriesPresent).")),
    _rule(r"BAGGR_NumBatteriesConnected", _g("powerwall_battery_packs_connected",
          "Battery packs connected to the Powerwall 3's DC bus (BAGGR_NumBatteriesConnected).")),
    _rule(r"BAGGR_State", _i("powerwall_battery_aggregator_state_info",
          "State of the Powerwall 3's battery aggregator (BAGGR_State); always 1.")),
)
# fmt: on

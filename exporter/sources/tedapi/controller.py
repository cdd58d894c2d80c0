"""One DeviceControllerQuery answer → the site's :class:`~exporter.devices.model.Device` records.

Why a module of its own: this answer describes the whole site (the gateway, every device on its
esCan bus, the Neurio meters, the msa components) and is asked for on every scrape; how its bus
slots become devices is the bulk of what TEDAPI knows about a Powerwall 2/+.

Pure mapping, no networking: the TEDAPI source fetches and decodes the envelope and calls
:func:`controller_devices`. The records carry the *vital names* the vitals protobuf uses wherever
TEDAPI reports the same quantity (``PINV_Pout`` in kW, ``POD_nom_energy_remaining`` in Wh,
``METER_X_CTA_InstRealPower`` ...), so the one rule table (:mod:`exporter.devices.rules`) gives a
Powerwall 2/+ the same metric families whether its data came from vitals (firmware < 23.44) or
from TEDAPI. Identity, firmware and the reading of component signals follow the rules of
:mod:`.records`.

* ``esCan.bus.THC[i]`` carries the Powerwall's identity (``packagePartNumber``/
  ``packageSerialNumber``); ``PINV[i]`` and ``POD[i]`` have none and take THC[i]'s, by index
  (their parent is the TETHC record). ``PVS[i]`` takes ``PVAC[i]``'s identity, as vitals gives
  the PVS the PVAC's serial (its parent is the PVAC record).
* A group's signals are the scalar members of its sub-messages (``PINV_Status.PINV_Pout`` →
  ``PINV_Pout``); ``isMIA``/``isComplete``/``lastRxTime`` and other bookkeeping are not signals.
  ``alerts.active`` becomes the record's alerts, ``lastRxTime`` its last communication (the
  Go zero time, "never", is absent).
* ``SYNC`` (site CTs) and ``ISLANDER`` (``ISLAND_*``) make one TESYNC record, as in vitals;
  ``MSA`` (``METER_Z_*``) a TEMSA record; ``neurio.readings[]`` NEURIO records
  (``dataRead[n]`` → ``NEURIO_CT<n>_InstRealPower``/``_InstReactivePower``/``_InstVoltage``/``_I``).
* A sub-message that says ``isMIA: true`` gives no signals: a Powerwall 3 fills its fixed-size
  esCan arrays with such slots, zeros and default states (``PINV_Off``, ``Grid_Uncompliant``)
  beside the flag, and those are no readings.
* A slot whose every sub-message says ``isMIA: true`` and that gives no signal is no device either,
  whatever serial it carries: the gateway does not hear it, and an info series would show it as
  present (a pod that vanished must vanish, for the pod-missing alert).
* No identity, no device: a record whose serial is empty (its own, or the THC's/PVAC's it takes)
  is skipped, whatever it carries, so an empty slot never becomes ``serial=""`` series (false
  zeros, and fuel for pod alerts). A Powerwall 3's esCan arrays are all such slots.
* ``components.msa[]`` (the full variant) adds its signals and alerts to these records
  (:mod:`.msa`).
* One record for the gateway itself: family ``STSTSM`` with DIN ``STSTSM--<gateway DIN>``, as
  vitals names the site controller (``PW3`` and the plain DIN when the DIN is a Powerwall 3's,
  ``1707000-``), alerts = ``control.alerts.active``; the other records' parent. A Powerwall+
  solar inverter's parent is the first Powerwall's TETHC, as in vitals.

Nothing sensitive is read: only the paths above are visited (never ``system.supportMode``,
``installer``, ``customer``, ``credentials``), and all input is treated as hostile (wrong types and
missing keys are skipped, nothing raises).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any

from exporter.coerce import as_list, as_mapping, as_text, is_number, signal
from exporter.devices.model import Device, SignalValue, split_din
from exporter.site.convert import rfc3339_timestamp
from exporter.sources.tedapi.msa import attach_msa
from exporter.sources.tedapi.records import PV_STRINGS, PW3_DIN_PREFIX, Builder, alert_names, built, part_number

log = logging.getLogger(__name__)

_META_KEYS = frozenset({"isMIA", "isComplete", "lastRxTime", "alerts"})
_SIGNAL_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+$")


def _group_signals(group: Mapping[str, Any]) -> Iterator[tuple[str, SignalValue]]:
    """Scalar members of a bus group's sub-messages (and signal-named scalars at its top level)."""
    for key, value in group.items():
        if not isinstance(key, str) or key in _META_KEYS:
            continue
        if isinstance(value, Mapping):
            if value.get("isMIA") is True:
                continue  # zeros and defaults beside the flag, not readings (module docstring)
            for name, v in value.items():
                if isinstance(name, str) and name not in _META_KEYS and _SIGNAL_NAME_RE.match(name):
                    s = signal(v)
                    if s is not None:
                        yield name, s
        elif _SIGNAL_NAME_RE.match(key) and not key.startswith("package"):
            s = signal(value)
            if s is not None:
                yield key, s


def _all_mia(group: Mapping[str, Any]) -> bool:
    """Whether every flag of a bus group says ``isMIA: true`` (and there is at least one): the flags of
    its sub-messages, and its own when it carries one (a Powerwall 3's empty ``POD`` slot is only that)."""
    flags = [v.get("isMIA") for k, v in group.items() if k not in _META_KEYS and isinstance(v, Mapping)]
    if "isMIA" in group:
        flags.append(group["isMIA"])
    return bool(flags) and all(f is True for f in flags)


def _identity(group: Mapping[str, Any]) -> tuple[str, str]:
    return part_number(group.get("packagePartNumber")), as_text(group.get("packageSerialNumber"))


def _bus_device(
    group: Any, family: str, identity: tuple[str, str] | None = None, parent_din: str | None = None
) -> Builder | None:
    """One esCan group as a record, or None for an empty slot (module docstring)."""
    g = as_mapping(group)
    if not g:
        return None
    part, serial = identity if identity is not None else _identity(g)
    signals = dict(_group_signals(g))
    if not serial:
        if signals:
            log.debug("%s slot without identity skipped (%d signals)", family, len(signals))
        return None
    if not signals and _all_mia(g):
        return None  # the gateway hears nothing from it: no readings, and no device to show as present
    # When the gateway last heard from the device: the latest lastRxTime of its groups ("never" dropped).
    heard = [rfc3339_timestamp(x.get("lastRxTime")) for x in (g, *(v for v in g.values() if isinstance(v, Mapping)))]
    last = max((t for t in heard if t is not None), default=None)
    b = Builder(family, part, serial, parent_din, last_communication=last)
    for k, v in signals.items():
        b.add(k, v)
    b.alerts.extend(alert_names(as_mapping(g.get("alerts")).get("active")))
    return b


def _derive_pvac_power(b: Builder) -> None:
    """``PVAC_PVMeasuredPower_<X>`` (a vital TEDAPI's PVAC_Logging lacks) = voltage * current, when absent."""
    for letter in PV_STRINGS:
        v = b.signals.get(f"PVAC_PVMeasuredVoltage_{letter}")
        i = b.signals.get(f"PVAC_PVCurrent_{letter}")
        if is_number(v) and is_number(i):
            b.add(f"PVAC_PVMeasuredPower_{letter}", float(v) * float(i))  # type: ignore[arg-type]


def _neurio(readings: Any, gateway_din: str) -> list[Builder]:
    out: list[Builder] = []
    for r in as_list(readings):
        reading = as_mapping(r)
        serial = as_text(reading.get("serial"))
        b = Builder("NEURIO", "", serial, gateway_din or None)
        b.firmware = as_text(reading.get("firmwareVersion")) or None
        b.last_communication = rfc3339_timestamp(reading.get("timestamp"))
        for n, d in enumerate(as_list(reading.get("dataRead"))):
            data = as_mapping(d)
            for key, suffix in (
                ("realPowerW", "InstRealPower"),
                ("reactivePowerVAR", "InstReactivePower"),
                ("voltageV", "InstVoltage"),
                ("currentA", "I"),
            ):
                v = signal(data.get(key))
                if is_number(v):
                    b.add(f"NEURIO_CT{n}_{suffix}", v)  # type: ignore[arg-type]
        if serial:
            out.append(b)
        elif b.signals:
            log.debug("Neurio reading without serial skipped")
    return out


def gateway_family(gateway_din: str) -> str:
    """``PW3`` for a Powerwall 3 leader's DIN, else ``STSTSM``: the site controller of a Gateway 2 /
    Backup Gateway, the family vitals reports it under (so both paths label it alike)."""
    return "PW3" if gateway_din.startswith(PW3_DIN_PREFIX) else "STSTSM"


def gateway_record_din(gateway_din: str) -> str:
    """The gateway record's DIN: a Powerwall 3 leader's own; ``STSTSM--<DIN>`` as vitals names the
    site controller otherwise."""
    family = gateway_family(gateway_din)
    return gateway_din if family == "PW3" or not gateway_din else f"{family}--{gateway_din}"


def controller_devices(data: Mapping[str, Any], gateway_din: str, firmware: str | None) -> list[Device]:
    """The devices of one DeviceControllerQuery ``data`` (module docstring), the gateway first."""
    d = as_mapping(data)
    control = as_mapping(d.get("control"))
    part, serial = split_din(f"X--{gateway_din}")[1:] if gateway_din else ("", "")
    gateway = Builder(gateway_family(gateway_din), part, serial, din=gateway_record_din(gateway_din))
    gateway.alerts.extend(alert_names(as_mapping(control.get("alerts")).get("active")))
    records: list[Builder] = [gateway]
    parent = gateway.din or None

    bus = as_mapping(as_mapping(d.get("esCan")).get("bus"))
    thc = as_list(bus.get("THC"))
    pinv = as_list(bus.get("PINV"))
    pod = as_list(bus.get("POD"))
    for i in range(max(len(thc), len(pinv), len(pod))):
        thc_g = thc[i] if i < len(thc) else None
        thc_b = _bus_device(thc_g, "TETHC", parent_din=parent)
        # The Powerwall's identity, even while its THC is missing in action and a sibling still reports.
        ident = _identity(as_mapping(thc_g))
        thc_din = thc_b.full_din if thc_b else None
        pinv_b = _bus_device(pinv[i] if i < len(pinv) else None, "TEPINV", ident, thc_din)
        pod_b = _bus_device(pod[i] if i < len(pod) else None, "TEPOD", ident, thc_din)
        records.extend(b for b in (pinv_b, pod_b, thc_b) if b is not None)
    # Vitals hangs the Powerwall+ solar inverter under the first Powerwall: so does this.
    first_thc = next((r.full_din for r in records if r.family == "TETHC" and r.full_din), None)

    pvac = as_list(bus.get("PVAC"))
    pvs = as_list(bus.get("PVS"))
    for i in range(max(len(pvac), len(pvs))):
        pvac_b = _bus_device(pvac[i] if i < len(pvac) else None, "PVAC", parent_din=first_thc or parent)
        ident = (pvac_b.part, pvac_b.serial) if pvac_b else ("", "")
        pvs_b = _bus_device(pvs[i] if i < len(pvs) else None, "PVS", ident, pvac_b.full_din if pvac_b else None)
        records.extend(b for b in (pvac_b, pvs_b) if b is not None)

    sync = _bus_device(bus.get("SYNC"), "TESYNC", parent_din=parent)
    # The islander has no identity of its own: vitals reports its signals on the synchrometer.
    sync_ident = (sync.part, sync.serial) if sync is not None else None
    islander = _bus_device(bus.get("ISLANDER"), "TESYNC", sync_ident, parent_din=parent)
    if sync is not None and islander is not None:
        for k, v in islander.signals.items():
            sync.add(k, v)
        sync.alerts.extend(islander.alerts)
        sync.last_communication = sync.last_communication or islander.last_communication
    elif islander is not None:
        sync = islander
    if sync is not None:
        records.append(sync)
    msa = _bus_device(bus.get("MSA"), "TEMSA", parent_din=parent)
    if msa is not None:
        records.append(msa)

    records.extend(_neurio(as_mapping(d.get("neurio")).get("readings"), gateway.full_din))
    attach_msa(as_mapping(d.get("components")).get("msa"), records, gateway.full_din)
    for r in records:
        if r.family == "PVAC":
            _derive_pvac_power(r)  # only where neither the bus nor msa gave the measured power
    return built(records, firmware)

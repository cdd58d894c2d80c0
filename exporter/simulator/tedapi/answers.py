"""TEDAPI answers of the simulated gateway, built from the same model snapshot as the JSON API.

This module wraps answers in envelopes (config.json, getSystemInfo, queries by operation) for
requests :mod:`exporter.simulator.tedapi.classify` has read; the query data is built in
:mod:`exporter.simulator.tedapi.controller` and :mod:`exporter.simulator.tedapi.components` from the
shapes of :mod:`exporter.simulator.tedapi.signals`. The generated protobuf classes are used here to
*write* answers only; no request is judged with them.

Why from the snapshot: a client that reads the same site through ``/api/...`` and TEDAPI must see
the same numbers (``control.systemStatus`` = ``/api/system_status``, ``control.meterAggregates`` =
``/api/meters/aggregates``, the ``esCan`` bus = the vitals devices), or tests of a source that merges
both would test the simulator's inconsistencies instead of the exporter.

What is modelled (shared/docs/tedapi.md §2-§4): the ``config.json`` read (on a Powerwall 3 with
``site_info.battery_commission_date`` as a real one writes it, ISO 8601 with the site's offset),
``getSystemInfo`` (``"<build> <short hash>"``, githash the hash's bytes, as the real capture) and the
signed queries ``DeviceControllerQuery`` and ``ComponentsQuery``/``PW3Query``, answered by operation
name. Signatures are checked against the gateway's key ring over the signed bytes only; the
variables are not signed and are applied as the gateway does: unknown signal names are dropped, a
known name the device lacks comes back ``null``, a name asked twice comes twice, and a component type
outside the gateway's enum anywhere in the variables empties the whole answer (``{}``).

The Powerwall 3 site (``SiteModel.pw3``): the leader is the gateway (its DIN is the gateway DIN),
followers are addressed through ``/tedapi/device/<DIN>/v1``; each unit answers its own components:
``pch[0]`` (inverter with six PV inputs), one ``bms``/``hvp`` pair per pack (built-in first, then the
DC expansions, matched to ``battery_expansions[].din`` by serial) and, on the leader only, a phantom
slot (empty serial, null energies, an alert of its own).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from exporter.proto import tedapi_pb2 as _pb
from exporter.simulator.model import SiteModel
from exporter.simulator.payloads import deep_merge
from exporter.simulator.snapshot import Snapshot
from exporter.simulator.tedapi.classify import Query
from exporter.simulator.tedapi.components import components
from exporter.simulator.tedapi.controller import device_controller
from exporter.simulator.tedapi.signals import COMPONENT_TYPES, JSON
from exporter.simulator.tedapi.signature import verify

PB: Any = _pb  # generated module: no type information

LOCAL_HTTPS = 1
INSTALLER = 1
STATUS_SUCCESS = 1
STATUS_ERROR_FULL = 3
UNAUTHORIZED = 2

# --------------------------------------------------------------------------- fake secrets
# config.json and the support session carry personal data on a real gateway. These obviously fake
# values let tests prove that nothing of them ever reaches a metric, a label or a log.
SECRETS = (
    "SECRET-CUSTOMER-NAME",
    "SECRET-CUSTOMER-EMAIL",
    "SECRET-CUSTOMER-PHONE",
    "SECRET-CUSTOMER-ADDRESS",
    "SECRET-INSTALLER-COMPANY",
    "SECRET-INSTALLER-EMAIL",
    "SECRET-INSTALLER-PHONE",
    "SECRET-CREDENTIAL-HASH",
    "SECRET-WIFI-PSK",
    "SECRET-SUPPORT-SESSION",
)


# --------------------------------------------------------------------------- envelopes
def _reply_message(sender_din: str, tail: int) -> Any:
    msg = PB.Message()
    msg.envelope.deliveryChannel = LOCAL_HTTPS
    msg.envelope.sender.din = sender_din
    msg.envelope.recipient.local = INSTALLER
    msg.tail.value = tail
    return msg


def _bytes(msg: Any) -> bytes:
    return bytes(msg.SerializeToString())


def config_reply(
    s: Snapshot, m: SiteModel, sender: str, tail: int, blob: bytes | None = None, extra: JSON | None = None
) -> bytes:
    """The readFileResponse with config.json (``blob``: other bytes in its place; ``extra``: deep-merged
    into the file; the ``tedapi_config_blob`` and ``tedapi_extra_json`` faults)."""
    msg = _reply_message(sender, tail)
    if blob is None:
        config = config_json(s, m)
        blob = json.dumps(deep_merge(config, extra) if extra else config, indent=2).encode()
    resp = msg.envelope.filestore.readFileResponse
    resp.file.name = "config.json"
    resp.file.blob = blob
    resp.hash = hashlib.sha256(blob).digest()
    return _bytes(msg)


def wrong_wire_type(body: bytes) -> bytes:
    """``body`` (a Message whose first field is the envelope, wire type 2) with that field sent as a
    varint instead: valid protobuf whose envelope a parser must skip as an unknown field."""
    length, pos = 0, 1
    for shift in range(0, 64, 7):  # the envelope's length, a varint after the tag byte
        byte = body[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
    return b"\x08\x01" + body[pos + length :]  # field 1, wire type 0, value 1; the rest unchanged


def firmware_reply(m: SiteModel, sender: str, tail: int) -> bytes:
    msg = _reply_message(sender, tail)
    info = msg.envelope.common.getSystemInfoResponse
    info.deviceId.partNumber = m.gateway_part_number
    info.deviceId.serialNumber = m.gateway_serial
    info.din = m.gateway_din
    # As a real one: "<build> <short hash>" (a Powerwall 3's build has a suffix, "24.12.6-PW3-AFCI"),
    # and githash the bytes of that short hash.
    build, _, short = m.firmware_version.strip().partition(" ")
    short = short.strip() or m.git_hash[:8]
    info.firmwareVersion.version = f"{build} {short}"
    with contextlib.suppress(ValueError):  # a model given a firmware text whose hash is not hex: no bytes
        info.firmwareVersion.githash = bytes.fromhex(short)
    return _bytes(msg)


def query_reply(
    s: Snapshot,
    m: SiteModel,
    query: Query | None,
    tail: int,
    unit: int,
    keys: Sequence[bytes],
    sender: str,
    *,
    empty_data: bool = False,
    extra: JSON | None = None,
) -> bytes:
    """The queryResponse for ``query`` (as :mod:`~exporter.simulator.tedapi.classify` read it; None:
    no query it accepts): status 3 + UNAUTHORIZED on a signature none of ``keys`` verifies (checked
    with :func:`~exporter.simulator.tedapi.signature.verify`), else the data of the operation
    (``unit``: the Powerwall 3 the request was addressed to), with ``extra`` deep-merged into it
    (the ``tedapi_extra_json`` fault)."""
    msg = _reply_message(sender, tail)
    resp = msg.envelope.graphql.queryResponse
    if query is None or not keys or not verify(query.signed, query.signature, keys):
        resp.status = STATUS_ERROR_FULL
        err = resp.errors.add()
        err.code = UNAUTHORIZED
        err.message = "UNAUTHORIZED"
        return _bytes(msg)
    resp.status = STATUS_SUCCESS
    if empty_data:
        resp.data = ""
        return _bytes(msg)
    try:
        variables = json.loads(query.variables_json) if query.variables_json.strip() else {}
    except ValueError:
        variables = None
    operation = query.operation
    data: JSON
    if not isinstance(variables, dict) or _has_unknown_type(variables):
        data = {}
    elif operation == "DeviceControllerQuery":
        data = device_controller(s, m, variables)
    elif operation in ("ComponentsQuery", "PW3Query"):
        data = components(s, m, unit, variables)
    else:
        data = {}
    if extra:
        data = deep_merge(data, extra)
    resp.data = json.dumps(data, separators=(",", ":"))
    return _bytes(msg)


def _has_unknown_type(obj: Any) -> bool:
    """A component type outside the gateway's enum anywhere in the variables."""
    if isinstance(obj, dict):
        types = obj.get("types")
        if isinstance(types, list) and any(not isinstance(t, str) or t not in COMPONENT_TYPES for t in types):
            return True
        return any(_has_unknown_type(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_unknown_type(v) for v in obj)
    return False


# --------------------------------------------------------------------------- config.json
def config_json(s: Snapshot, m: SiteModel) -> JSON:
    pw3 = m.generation == "pw3"
    blocks: list[JSON] = []
    for i, din in enumerate(m.battery_dins):
        kind = ("Powerwall3" if i == 0 else "Powerwall3Follower") if pw3 else "Powerwall2"
        expansions = [{"din": p.din} for p in m.packs[i] if p.expansion] if pw3 else []
        blocks.append({"vin": din, "type": kind, "battery_expansions": expansions, "min_soe": 0, "max_soe": 100})
    n_packs = sum(len(p) for p in m.packs) if pw3 else m.powerwalls
    meters: list[JSON]
    if pw3:
        meters = [
            {
                "location": "site",
                "type": "trm_wifi",
                "cts": [True, True, False, False],
                "connection": {"device_serial": m.tesync_serial},
            }
        ]
    else:
        meters = [
            {
                "location": "site",
                "type": "synchrometerX",
                "cts": [True, True, False, False],
                "connection": {"device_serial": m.tesync_serial},
            }
        ]
        if m.solar_peak_w > 0:
            meters.append(
                {
                    "location": "solar",
                    "type": "neurio_w2_tcp",
                    "cts": [True, False, False, False],
                    "connection": {"device_serial": m.neurio_serial, "ip_address": "192.168.91.50"},
                }
            )
    solars: list[JSON] = []
    if m.solar_peak_w > 0:
        model = "Powerwall 3" if pw3 else ("Solar Powerwall" if m.solar_powerwall else "Solar Inverter 7.6")
        solars.append({"brand": "Tesla", "model": model, "power_rating_watts": round(m.solar_peak_w)})
    return {
        "vin": m.gateway_din,
        "battery_blocks": blocks,
        "meters": meters,
        "site_info": {
            "site_name": m.site_name,
            "timezone": m.timezone,
            "backup_reserve_percent": m.backup_reserve_percent,
            "nominal_system_energy_ac": round(13.5 * n_packs, 1),
            "nominal_system_power_ac": round(m.max_power_w / 1000.0, 1),
            "grid_code": f"{int(m.nominal_frequency)}Hz_{int(m.nominal_voltage)}V_s_UL1741SA:2019_California",
            **({"battery_commission_date": m.battery_commission_date} if pw3 else {}),
        },
        "default_real_mode": m.real_mode,
        "solars": solars,
        "installer": {
            "company": "SECRET-INSTALLER-COMPANY",
            "email": "SECRET-INSTALLER-EMAIL",
            "phone": "SECRET-INSTALLER-PHONE",
        },
        "customer": {
            "name": "SECRET-CUSTOMER-NAME",
            "email": "SECRET-CUSTOMER-EMAIL",
            "phone": "SECRET-CUSTOMER-PHONE",
            "address": "SECRET-CUSTOMER-ADDRESS",
        },
        "credentials": {"installer_hash": "SECRET-CREDENTIAL-HASH", "wifi_psk": "SECRET-WIFI-PSK"},
    }

"""The one policy for turning a decoded gateway value into a number, shared by every source and the accounting.

Why one module: the gateway is a device on the LAN and its answers are hostile input. Each reader of
those answers (the JSON API tables, the TEDAPI and ``/api/solar_powerwall`` decoders, the energy
accounting) used to carry its own ``float()`` and ``isfinite`` check, and they disagreed: one of them
let ``10**400`` (valid JSON, since JSON integers have no size limit) reach ``float()`` and raise
``OverflowError``, which cost every series computed after it. With one policy, a value is either a
usable number everywhere or absent everywhere.

The policy (:func:`number`):

* ``int`` and ``float`` are numbers when they are finite as a float: NaN, ±Inf and integers beyond
  float range (``±10**400``) are *no value*, never an exception.
* ``bool`` is not a number: JSON ``true`` is a flag, and a field that is a flag says so itself
  (the JSON tables convert flags explicitly).
* Strings are not numbers, not even ``"12"``: every number in the captured answers is a JSON number,
  the strings next to them are versions, serials and states, and reading ``"NaN"`` or ``"1e999"`` as
  numbers would let text in through the numeric path.
* Anything else (``null``, lists, objects) is no value.

"No value" means the series is absent, never a made-up 0.

The policy for label values (:func:`text`): a field the gateway documents as text becomes a label
value only when it *is* text. A number, bool, list or object there (``"country": 61`` in a
config.json) is no label value: ``str()`` of it would put ``country="61"`` or ``state="{'a': 1}"``
on a series, a value no real site has, that changes with the input's formatting. The label is left
out (``""``, which Prometheus reads as no label) and the caller counts the field; ``null`` is the
gateway's own "not set" and just absent.

Nothing here imports from the sources or the accounting: they import from here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

Signal = bool | int | float | str
"""A device signal value as the decoders keep it (same members as ``exporter.devices.model.SignalValue``)."""


def number(v: Any) -> float | None:
    """``v`` as a finite float under the module's policy, else None (never raises)."""
    if type(v) is float:  # the usual case, decided without the checks below
        return v if math.isfinite(v) else None
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    try:
        f = float(v)
    except OverflowError:  # an int beyond float range: as absurd as Inf
        return None
    return f if math.isfinite(f) else None


def signal(v: Any) -> Signal | None:
    """A usable device signal: flags and text as they are, numbers under :func:`number`, else None.

    A usable int is returned unchanged rather than as a float: the vitals protobuf carries int64
    values, and the decoded records keep them exact (the exposition converts them at the end).
    """
    if isinstance(v, bool | str):
        return v
    if number(v) is None:
        return None
    return v if isinstance(v, int) else float(v)


def text(v: Any) -> str | None:
    """``v`` as a label value under the module's policy: a ``str`` as it is, anything else None."""
    return v if isinstance(v, str) else None


def as_mapping(v: Any) -> Mapping[str, Any]:
    """``v`` if it is a JSON object, else an empty one (a reader walks on without a type check)."""
    return v if isinstance(v, Mapping) else {}


def as_list(v: Any) -> Sequence[Any]:
    """``v`` if it is a JSON array, else an empty one."""
    return v if isinstance(v, list) else ()


def as_text(v: Any) -> str:
    """``v`` stripped if it is a string, else empty: an identity (serial, part number, DIN)."""
    return v.strip() if isinstance(v, str) else ""


def is_number(v: Any) -> bool:
    """Whether ``v`` is a number (a bool is not one, though Python says it is an int)."""
    return isinstance(v, int | float) and not isinstance(v, bool)


def printable(v: Any) -> str:
    """``str(v)`` of any value, safe to encode: JSON may smuggle lone surrogates (``"\\ud800"``)."""
    return str(v).encode("utf-8", "replace").decode("utf-8")

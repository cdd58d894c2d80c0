"""Label values from JSON answers: text fields become labels only as text, and the others are counted.

Why one place: every label value the JSON mappers take from an answer (``/api/site_info``'s grid
code and utility, ``/api/status``'s version and DIN, ``/api/powerwalls``' serials, states of every
endpoint, and the same answers a Powerwall 3's config.json stands in for) is read through
:meth:`LabelFields.text`, which applies :func:`exporter.coerce.text`: a ``str`` is used as it is; a
number, bool, list or object where the gateway documents text leaves the label out (``""``) and is
counted per field, not as a failure of the answer (the other labels and series of the answer stay).
``null`` and absent keys are the gateway's "not set": left out, not counted.

Counted in ``powerwall_field_decode_errors_total{endpoint, field}`` (cumulative, from the first
problem on) and logged once per gateway and endpoint, as the generic-name drops are
(:class:`exporter.metrics.naming.DropLedger`). ``field`` is one of the documented field names the
mappers ask for, so its values are bounded by the code, not by the gateway.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from exporter.coerce import text
from exporter.metrics.metricset import MetricSet, counter
from exporter.metrics.naming import DropLedger

FIELD_DECODE_ERRORS = counter(
    "powerwall_field_decode_errors_total",
    "Documented text fields the gateway sent as another type (number, bool, list, object), "
    "left out of their label, by endpoint and field.",
)

WRONG_TYPES = DropLedger("text fields with values of another type, left out of their labels", FIELD_DECODE_ERRORS)


class LabelFields:
    """The label values one mapping of one answer reads (rule in the module docstring).

    Create one per answer, read every label value with :meth:`text`, then call :meth:`finish` with
    the filled set to count (and expose) the fields of the wrong type.
    """

    __slots__ = ("_example", "_wrong", "endpoint")

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._wrong: Counter[str] = Counter()
        self._example = ""

    def get(self, obj: Mapping[str, Any], key: str) -> str | None:
        """``obj[key]`` if it is text; None when absent, null or of another type (which is counted)."""
        value = obj.get(key)
        label = text(value)
        if label is None and value is not None:
            self._count(key, value)
        return label

    def text(self, obj: Mapping[str, Any], key: str) -> str:
        """:meth:`get`, with ``""`` (no label) for None."""
        return self.get(obj, key) or ""

    def flag(self, obj: Mapping[str, Any], key: str) -> str:
        """A field documented as a bool, as the label value ``"true"``/``"false"``; else as :meth:`text`."""
        value = obj.get(key)
        if isinstance(value, bool):
            return "true" if value else "false"
        if value is not None:
            self._count(key, value)
        return ""

    def _count(self, key: str, value: Any) -> None:
        if not self._wrong:
            self._example = f"{key}: {type(value).__name__}"
        self._wrong[key] = 1  # once per answer, however often the mapping reads the field

    def finish(self, ms: MetricSet) -> None:
        """Record this answer's fields of the wrong type and add the cumulative counter samples to ``ms``."""
        gateway = ms.base_labels.get("gateway", "")
        for field, n in sorted(WRONG_TYPES.record(gateway, self.endpoint, self._wrong, self._example).items()):
            ms.add(FIELD_DECODE_ERRORS, n, {"endpoint": self.endpoint, "field": field})

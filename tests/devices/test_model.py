"""Device identity from a DIN and a source's part/serial fields (:func:`derive_labels`, :func:`split_din`).

Every source labels devices by this one rule, so the same device gets the same ``device``,
``serial`` and ``part_number`` labels whichever source reported it.
"""

from __future__ import annotations

import pytest

from exporter.devices.model import derive_labels, split_din


@pytest.mark.parametrize(
    ("din", "part", "serial", "expected"),
    [
        ("TEPOD--1081100-10-U--T21C0007854", "1081100-10-U", "T21C0007854", ("TEPOD", "1081100-10-U", "T21C0007854")),
        ("TEPOD--1081100-10-U--T21C0007854", None, None, ("TEPOD", "1081100-10-U", "T21C0007854")),
        ("TEPOD--1081100-10-U--T21C0007854", "", "", ("TEPOD", "1081100-10-U", "T21C0007854")),
        ("NEURIO--VAH123", None, "VAH123", ("NEURIO", "", "VAH123")),
        ("NEURIO--VAH123", "", "", ("NEURIO", "", "VAH123")),
        ("TESLA--J123", None, "J123", ("TESLA", "", "J123")),
        ("TESLA--1538100-00-F--C123", None, "1538100-00-F--C123", ("TESLA", "1538100-00-F", "C123")),
        ("TESLA--1538100-00-F--C123", "", "1538100-00-F--C123", ("TESLA", "1538100-00-F", "C123")),
        # Fields win over the DIN when both are present.
        ("PVAC--1538100-00-F--C1", "1538100-00-G", "C2", ("PVAC", "1538100-00-G", "C2")),
        ("STSTSM", None, None, ("STSTSM", "", "")),
        ("A--B--C--D", None, None, ("A", "B--C", "D")),
    ],
)
def test_label_derivation(din: str, part: str | None, serial: str | None, expected: tuple[str, str, str]) -> None:
    assert derive_labels(din, part, serial) == expected


def test_split_din() -> None:
    assert split_din("TETHC--2012170-25-E--T1") == ("TETHC", "2012170-25-E", "T1")
    assert split_din("NEURIO--V1") == ("NEURIO", "", "V1")

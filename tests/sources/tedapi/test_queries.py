"""Loading signed queries: validated at load, verified against a key, extended only by appending."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from exporter.sources.tedapi import queries as q
from exporter.sources.tedapi import query_variables
from tests.sources.tedapi.signing import (
    COMPONENTS_TEXT,
    COMPONENTS_VARIABLES,
    CONTROLLER_TEXT,
    CONTROLLER_VARIABLES,
    Signer,
)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


def _file(tmp_path: Path, signer: Signer, **entries: dict[str, object]) -> Path:
    base = {
        "device_controller_full": signer.entry(CONTROLLER_TEXT, CONTROLLER_VARIABLES),
        "components": signer.entry(COMPONENTS_TEXT, COMPONENTS_VARIABLES),
    }
    return signer.write(tmp_path / "queries.json", {**base, **entries})


def test_a_role_keyed_file_loads_verifies_and_appends_the_extra_signals(tmp_path: Path, signer: Signer) -> None:
    qs = q.load(_file(tmp_path, signer), keys=[signer.public_pem])
    assert qs is not None and set(qs.queries) == {"device_controller", "components"}
    dc = qs.queries["device_controller"]
    assert (dc.operation, dc.verified) == ("DeviceControllerQuery", True)
    assert dc.signed == q.signed_bytes(1, CONTROLLER_TEXT.encode())  # version 0 files are sent as 1
    variables = json.loads(dc.variables_json)
    assert variables["msaSignals"][0] == "THC_AmbientTemp"  # captured names first: appended, never inserted
    assert variables["msaSignals"][1:] == list(query_variables.EXTRA_VARIABLES["device_controller"]["msaSignals"])
    assert set(variables["msaComp"]["types"]) <= query_variables.COMPONENT_TYPES
    comp = json.loads(qs.queries["components"].variables_json)
    assert comp["pchSignalNames"][:2] == ["PCH_State", "PCH_PvVoltageA"]
    assert "PCH_AmbientTemp" in comp["pchSignalNames"] and "BMS_LOG_numFullBattCycles" in comp["bmsSignalNames"]
    assert "hvpSignalNames" not in comp  # a list the text does not declare is never created


def test_signatures_that_do_not_verify_are_sent_anyway_with_a_warning(
    tmp_path: Path, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        qs = q.load(_file(tmp_path, signer))  # Tesla's key: our throwaway signatures do not verify
    assert qs is not None and qs.queries["device_controller"].verified is False
    assert "do not verify against Tesla's public key" in caplog.text


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("mutation DeviceControllerQuery{x}", "not a single read query"),
        ("query DeviceControllerQuery{a} mutation M{b}", "not a single read query"),
        ("query SetBackupReserve{x}", "not on the read-only list"),
        ("{control{systemStatus{nominalFullPackEnergyWh}}}", "not a single read query"),
    ],
)
def test_texts_that_are_not_allow_listed_reads_are_refused(
    tmp_path: Path, signer: Signer, text: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = signer.write(tmp_path / "q.json", {"device_controller_full": signer.entry(text)})
    with caplog.at_level(logging.WARNING):
        assert q.load(path, keys=[signer.public_pem]) is None
    assert why in caplog.text
    assert "TEDAPI off" in caplog.text


def test_inconsistent_signed_bytes_bad_hex_and_foreign_types_are_refused(tmp_path: Path, signer: Signer) -> None:
    good = signer.entry(CONTROLLER_TEXT, CONTROLLER_VARIABLES, version=2)
    cases = {
        "signed_bytes": {**good, "signed_bytes": q.signed_bytes(2, b"query Other{x}").hex()},
        "hex": {**good, "code": "zz"},
        "types": signer.entry(CONTROLLER_TEXT, {"pchComponentsFilter": {"types": ["NOPE"]}}),
    }
    for name, entry in cases.items():
        with pytest.raises(q.QueryError):
            q.parse_entry("device_controller_full", "device_controller", entry, [signer.public_pem])
        del name
    ok = q.parse_entry(
        "DeviceControllerQuery",
        "device_controller",
        {**good, "signed_bytes": q.signed_bytes(2, CONTROLLER_TEXT.encode()).hex()},
        [signer.public_pem],
    )
    assert ok.verified is True


def test_no_usable_queries_turn_tedapi_off_with_one_actionable_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert q.load(broken) is None
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "tedapi.queries_file" in errors[0].getMessage()


def test_an_installed_pypowerwall_provides_tesla_signed_queries_that_verify() -> None:
    """Optional: CI installs pypowerwall; its real files go through the loader and verify under Tesla's key."""
    files = q.pypowerwall_files()
    if not files:
        pytest.skip("pypowerwall is not installed")
    qs = q.load(None)
    assert qs is not None
    assert qs.origin.startswith("pypowerwall ")
    assert {"device_controller", "components"} <= set(qs.queries)
    assert all(query.verified is True for query in qs.queries.values())
    for path in files:
        for key, entry in json.loads(path.read_text()).items():
            try:
                parsed = q.parse_entry(key, "any", entry, [q.TESLA_PUBLIC_KEY])
            except q.QueryError:
                continue  # an operation outside our read-only list: never loaded
            assert parsed.verified is True, key

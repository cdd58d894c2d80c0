"""The ``tedapi:`` block: every key checked on its own, each problem naming its key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exporter.config import ConfigError, parse_config
from exporter.config.tedapi import TedapiConfig
from exporter.simulator import write_query_file
from exporter.sources.tedapi import queries
from tests.test_config_check import check, gateway, run_check


def _parse(tedapi: object) -> TedapiConfig | None:
    return parse_config({"state_file": None, "gateways": [gateway(tedapi=tedapi)]}).gateways[0].tedapi


def test_a_minimal_block_turns_tedapi_on_with_the_gateways_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERWALL_GATEWAY_PASSWORD", "ABCDE12345")
    t = _parse({"gateway_password": "${POWERWALL_GATEWAY_PASSWORD}"})
    assert t is not None
    assert (
        t.gateway_password is not None and t.gateway_password.reveal() == "ABCDE12345" and "ABCDE12345" not in repr(t)
    )
    assert (t.host, t.port, t.queries_file, t.min_interval_seconds) == ("192.0.2.10", 443, None, 30.0)
    assert parse_config({"state_file": None, "gateways": [gateway()]}).gateways[0].tedapi is None


def test_every_key_of_the_contract(tmp_path: Path) -> None:
    queries = tmp_path / "queries.json"
    pem = write_query_file(queries)
    key = tmp_path / "key.pem"
    key.write_bytes(pem)
    secret = tmp_path / "gw.secret"
    secret.write_text("FROMFILE99\n")
    t = _parse(
        {
            "gateway_password_file": str(secret),
            "address": "https://192.168.91.1",
            "queries_file": str(queries),
            "query_public_key_file": str(key),
            "min_interval_seconds": 3600,
        }
    )
    assert t is not None
    assert t.gateway_password is not None and t.gateway_password.reveal() == "FROMFILE99"
    assert (t.base_url, t.queries_file, t.query_public_key, t.min_interval_seconds) == (
        "https://192.168.91.1:443",
        queries,
        pem,
        3600.0,
    )


@pytest.mark.parametrize(
    ("block", "key", "why"),
    [
        ({}, "gateways[0].tedapi.gateway_password", "required"),
        ("yes", "gateways[0].tedapi", "must be a mapping"),
        ({"gateway_password": "x", "gateway_password_file": "/x"}, "gateways[0].tedapi.gateway_password", "either"),
        ({"gateway_password": "x", "adress": "h"}, "gateways[0].tedapi.adress", "unknown key"),
        ({"gateway_password": "x", "address": "http://192.168.91.1"}, "gateways[0].tedapi.address", "HTTPS"),
        ({"gateway_password": "x", "min_interval_seconds": 0}, "gateways[0].tedapi.min_interval_seconds", "between"),
        ({"gateway_password": "x", "min_interval_seconds": 3601}, "gateways[0].tedapi.min_interval_seconds", "between"),
        (
            {"gateway_password": "x", "queries_file": "/nonexistent.json"},
            "gateways[0].tedapi.queries_file",
            "not exist",
        ),
    ],
)
def test_each_bad_key_is_named(block: object, key: str, why: str) -> None:
    with pytest.raises(ConfigError) as err:
        _parse(block)
    assert any(p.key == key and why.lower() in str(p).lower() for p in err.value.problems), err.value


def test_a_queries_file_without_usable_queries_fails_the_check(tmp_path: Path) -> None:
    queries = tmp_path / "queries.json"
    queries.write_text(json.dumps({"device_controller_full": {"text": "mutation X{y}", "code": "00"}}))
    key = tmp_path / "key.pem"
    key.write_text("not a key")
    config = {
        "state_file": None,
        "gateways": [
            gateway(
                tedapi={
                    "gateway_password": "x",
                    "queries_file": str(queries),
                    "query_public_key_file": str(key),
                    "min_interval_seconds": "30",
                }
            )
        ],
    }
    code, errors = check(tmp_path, config)
    assert code == 2
    keys = sorted(e.split("invalid configuration: ")[1].split(":")[0] for e in errors)
    # The block's syntax first: what the queries file holds is judged (by the TEDAPI source) once the
    # block parses, since the key it is verified with is part of it.
    assert keys == ["gateways[0].tedapi.min_interval_seconds", "gateways[0].tedapi.query_public_key_file"], errors
    key.write_bytes(write_query_file(tmp_path / "other-queries.json"))
    config["gateways"][0]["tedapi"]["min_interval_seconds"] = 30  # type: ignore[index]
    code, errors = check(tmp_path, config)
    assert code == 2
    keys = sorted(e.split("invalid configuration: ")[1].split(":")[0] for e in errors)
    assert keys == ["gateways[0].tedapi.queries_file"], errors
    assert any("not a single read query" in e for e in errors)


def test_a_good_block_passes_the_check_and_never_prints_the_password(tmp_path: Path) -> None:
    queries = tmp_path / "queries.json"
    (tmp_path / "key.pem").write_bytes(write_query_file(queries))
    block = {"gateway_password": "TOPSECRET-GW", "queries_file": str(queries), "query_public_key_file": "key.pem"}
    proc = run_check(tmp_path, {"state_file": None, "gateways": [gateway(tedapi=block)]})
    assert proc.returncode == 0 and "invalid configuration" not in proc.stderr, proc.stderr
    assert "TOPSECRET-GW" not in proc.stderr + proc.stdout


def test_the_check_says_where_the_queries_would_come_from(tmp_path: Path) -> None:
    proc = run_check(tmp_path, {"state_file": None, "gateways": [gateway(tedapi={"gateway_password": "y"})]})
    assert proc.returncode == 0, proc.stderr
    if queries.pypowerwall_files():
        assert "TEDAPI queries from pypowerwall" in proc.stderr
    else:
        assert "TEDAPI would be off" in proc.stderr and "tedapi" in proc.stderr

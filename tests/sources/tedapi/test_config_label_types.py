"""A Powerwall 3's config.json gives label values only from text, like any JSON answer.

The simulated Powerwall 3 site serves a config.json whose ``site_info`` has fields of every wrong
type (the ``tedapi_extra_json`` fault); the collector maps it through the ``/api/site_info`` mapper it
stands in for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.simulator import SiteModel
from exporter.web.exposition import render_text
from tests.simtime import SIM_START
from tests.sources.tedapi.test_tedapi_against_simulator import Site, start_site
from tests.support.wiring import make_collector

ODD_SITE_INFO = {
    "country": 61,
    "state": True,
    "utility": ["Simulated Power & Light"],
    "distributor": {"name": "x"},
    "retailer": None,
    "grid_phase_setting": "Split",
    "region": "UL1741SA",
    "site_name": 42,
}
WRONG = {"country", "state", "utility", "distributor", "site_name"}


@pytest.fixture
def odd(tmp_path: Path) -> Iterator[Site]:
    site = start_site(tmp_path, SiteModel.pw3(start_time=SIM_START))
    site.gw.faults.set("tedapi_extra_json", {"site_info": ODD_SITE_INFO}, kinds={"config"})
    yield site
    site.gw.stop()


def test_config_json_fields_of_the_wrong_type_are_no_labels_and_are_counted(odd: Site) -> None:
    collector = make_collector(dataclasses.replace(odd.cfg, name="odd-config"))
    try:
        ms = collector.scrape()
    finally:
        collector.close()
    assert ms.get("powerwall_scrape_endpoint_success", endpoint="tedapi:config") == 1
    ((site_info, _),) = [(dict(k), v) for k, v in ms.samples("powerwall_site_info").items()]
    assert {k: site_info[k] for k in ("country", "state", "utility", "distributor", "retailer")} == dict.fromkeys(
        ("country", "state", "utility", "distributor", "retailer"), ""
    )
    assert site_info["grid_phase_setting"] == "Split" and site_info["region"] == "UL1741SA"
    assert site_info["grid_code"].startswith("60Hz_240V")
    (info,) = [dict(k) for k in ms.samples("powerwall_info")]
    assert info["site_name"] == "" and info["timezone"] == "America/Los_Angeles"
    assert ms.get("powerwall_site_nominal_energy_joules") is not None  # the answer's numbers stay
    counted = {dict(k)["field"]: v for k, v in ms.samples("powerwall_field_decode_errors_total").items()}
    assert counted == dict.fromkeys(WRONG, 1.0)
    assert {dict(k)["endpoint"] for k in ms.samples("powerwall_field_decode_errors_total")} == {"/api/site_info"}
    text = render_text(ms, False).decode()
    assert (
        'country="61"' not in text
        and 'state="True"' not in text
        and "42" not in text.split("powerwall_info{")[1].split("\n")[0]
    )

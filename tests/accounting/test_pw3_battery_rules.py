"""The shipped battery-health recording rules give every pack of a Powerwall 3 site a capacity ratio
and the site a warranty end, fed with what the exporter really exposes for the simulated site.

Why: the ratio divides ``powerwall_pod_full_pack_energy_joules`` by
``powerwall_pod_nameplate_energy_joules`` on identical labels, so a pack whose nameplate is missing
or labelled differently silently drops out of every battery-health panel. A real Powerwall 3's
built-in pack reports a part number the nameplate table does not know (``1800420-11-F``); the
simulated one does too. promtool evaluates the rules file as Prometheus would.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from exporter.metrics.metricset import MetricSet
from exporter.simulator import SimulatedGateway
from tests.e2e_support import RULES_DIR
from tests.support.prereqs import require_binary
from tests.test_golden import CASES, exposition_metrics

FULL = "powerwall_pod_full_pack_energy_joules"
NAMEPLATE = "powerwall_pod_nameplate_energy_joules"
COMMISSION = "powerwall_battery_commission_timestamp_seconds"
WARRANTY_END = "powerwall_battery_warranty_end_timestamp_seconds"
RATIO = "gateway_serial:powerwall_pod_capacity_over_nameplate:ratio"
WARRANTY = "gateway:powerwall_battery_warranty_end_timestamp_seconds:default10y"


@pytest.fixture(scope="module")
def scraped() -> Iterator[MetricSet]:
    (case,) = [c for c in CASES if c.name == "sim-pw3"]
    gw: SimulatedGateway = case.make()
    gw.start()
    try:
        yield exposition_metrics(gw, tedapi=True)
    finally:
        gw.stop()


def _selector(name: str, key: tuple[tuple[str, str], ...]) -> str:
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in key) + "}"


def test_every_pack_has_a_ratio_and_the_site_a_warranty_end(scraped: MetricSet, tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    full = scraped.samples(FULL)
    packs = {dict(k)["part_number"] for k in full}
    assert "1800420-11-F" in packs and len(full) == 4  # the built-in packs' own part number, not in the table
    commission, warranty_end = scraped.get(COMMISSION), scraped.get(WARRANTY_END)
    assert commission is not None and warranty_end is not None  # from config.json's battery_commission_date
    series = [(FULL, k, v) for k, v in full.items()]
    series += [(NAMEPLATE, k, v) for k, v in scraped.samples(NAMEPLATE).items()]
    series += [(n, k, v) for n in (COMMISSION, WARRANTY_END) for k, v in scraped.samples(n).items()]
    test = {
        "rule_files": [str(RULES_DIR / "powerwall-energy.rules.yml")],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": _selector(n, k), "values": f"{v!r}x20"} for n, k, v in series],
                "promql_expr_test": [
                    {
                        "expr": RATIO,
                        "eval_time": "10m",
                        "exp_samples": [
                            {"labels": _selector(RATIO, k), "value": v / (13.5 * 3.6e6)} for k, v in full.items()
                        ],
                    },
                    {
                        "expr": WARRANTY,
                        "eval_time": "10m",
                        "exp_samples": [
                            {"labels": _selector(WARRANTY, (("gateway", "golden"),)), "value": warranty_end}
                        ],
                    },
                ],
            }
        ],
    }
    path = tmp_path / "pw3.test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    proc = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr

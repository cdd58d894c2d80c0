"""``--demo.site``: the demo shows a Powerwall 3 site (and a Powerwall 2 on new firmware) through TEDAPI.

Why: most new installations are Powerwall 3, whose per-pack, per-string and temperature series come
only from TEDAPI. Trying the exporter (and its dashboards) without a Powerwall should show them, with
our own signed query file and a throwaway key, never Tesla's texts.
"""

from __future__ import annotations

from pathlib import Path

from tests.scrape import Scrape
from tests.support.exporter import ExporterProcess, run_exporter, start_exporter


def _scrape_until(exp: ExporterProcess, metric: str, timeout: float = 30.0) -> Scrape:
    """A scrape that has ``metric``: TEDAPI answers arrive on their own cadence, not the first scrape's."""

    def scrape_with_metric() -> Scrape | None:
        scrape = exp.parsed()
        return scrape if scrape.samples.get(metric) else None

    return exp.wait_until(f"a scrape with {metric}", scrape_with_metric, timeout=timeout, interval=0.5)


def test_demo_pw3_site_shows_packs_strings_and_tedapi_health(tmp_path: Path) -> None:
    exp = start_exporter(None, tmp_path, "--demo", "--demo.site=pw3", env={"TMPDIR": str(tmp_path)})
    try:
        scrape = _scrape_until(exp, "powerwall_pod_full_pack_energy_joules")
        assert scrape.value("powerwall_up", gateway="demo") == 1
        assert scrape.value("powerwall_tedapi_enabled", gateway="demo") == 1
        tedapi = {lbl["endpoint"]: v for lbl, v in scrape.samples["powerwall_scrape_endpoint_success"]}
        tedapi = {e: v for e, v in tedapi.items() if e.startswith("tedapi:")}
        assert {"tedapi:din", "tedapi:config", "tedapi:DeviceControllerQuery"} <= set(tedapi), tedapi
        assert all(v == 1 for v in tedapi.values()), tedapi
        # Both units' built-in packs and the leader's two DC expansions, each with its Powerwall 3.
        packs = {lbl["serial"] for lbl, _ in scrape.samples["powerwall_pod_full_pack_energy_joules"]}
        assert len(packs) == 4, packs
        parents = {
            lbl["serial"]: lbl["parent_din"]
            for lbl, _ in scrape.samples["powerwall_device_info"]
            if lbl["device"] == "HVP"
        }
        assert set(parents) == packs and len(set(parents.values())) == 2
        strings = {
            lbl["string"] for lbl, _ in scrape.samples["powerwall_solar_string_voltage_volts"] if lbl["device"] == "PCH"
        }
        assert strings == set("ABCDEF")
        expected = scrape.samples["powerwall_battery_packs_expected"]
        assert expected and all(lbl["device"] == "BAGGR" for lbl, _ in expected)
        # The signed query file is ours, verified against the demo's own key, and lives in its temp dir.
        (query,) = [lbl for lbl, _ in scrape.samples["powerwall_tedapi_query_info"] if lbl["role"] == "components"]
        assert query["verified"] == "yes" and Path(query["origin"]).is_relative_to(tmp_path)
    finally:
        err = exp.stop()
    assert "Traceback" not in err, err[-2000:]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("pwsim-")]  # key and queries removed


def test_demo_pw3_v1r_site_reads_the_powerwall_3_over_signed_v1r(tmp_path: Path) -> None:
    exp = start_exporter(None, tmp_path, "--demo", "--demo.site=pw3-v1r", env={"TMPDIR": str(tmp_path)})
    try:
        scrape = _scrape_until(exp, "powerwall_pod_full_pack_energy_joules")
        assert scrape.value("powerwall_up", gateway="demo") == 1
        tedapi = {lbl["endpoint"]: v for lbl, v in scrape.samples["powerwall_scrape_endpoint_success"]}
        tedapi = {e: v for e, v in tedapi.items() if e.startswith("tedapi:")}
        assert {"tedapi:din", "tedapi:config", "tedapi:DeviceControllerQuery"} <= set(tedapi), tedapi
        assert all(v == 1 for v in tedapi.values()), tedapi
        # The built-in pack and the two DC expansions, over v1r, with the gateway's key verdict.
        packs = {lbl["serial"] for lbl, _ in scrape.samples["powerwall_pod_full_pack_energy_joules"]}
        assert len(packs) == 3, packs
        assert {lbl["path"] for lbl, _ in scrape.samples["powerwall_tedapi_path_info"]} == {"v1r"}
        assert scrape.value("powerwall_tedapi_v1r_key_accepted", gateway="demo") == 1
        offset = scrape.value("powerwall_tedapi_clock_offset_seconds", gateway="demo")
        assert offset is not None and abs(offset) < 2
        # No key material on any page: the private key's base64 lines, none of them.
        (key_file,) = tmp_path.glob("pwsim-*/v1r-key/tedapi_rsa_private.pem")
        secret_lines = [line for line in key_file.read_text().splitlines() if not line.startswith("-----")]
        pages = b"".join(exp.get(path)[1] for path in ("/", "/metrics", "/probe?target=demo"))
        assert not any(line.encode() in pages for line in secret_lines)
    finally:
        err = exp.stop()
    assert "Traceback" not in err, err[-2000:]
    assert "v1r client key" in err and "PRIVATE KEY" not in err
    assert not any(line in err for line in secret_lines)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("pwsim-")]  # the key removed with the rest


def test_demo_pw2_tedapi_site_shows_the_powerwall_2_devices(tmp_path: Path) -> None:
    exp = start_exporter(None, tmp_path, "--demo", "--demo.site=pw2-tedapi")
    try:
        scrape = _scrape_until(exp, "powerwall_thermal_ambient_temperature_celsius")
        assert scrape.value("powerwall_tedapi_enabled", gateway="demo") == 1
        assert scrape.samples.get("powerwall_thermal_ambient_temperature_celsius")
        assert scrape.samples.get("powerwall_inverter_heatsink_temperature_celsius")
    finally:
        exp.stop()


def test_the_default_demo_site_has_no_tedapi(tmp_path: Path) -> None:
    exp = start_exporter(None, tmp_path, "--demo")
    try:
        scrape = exp.parsed()
        assert scrape.value("powerwall_up", gateway="demo") == 1
        assert scrape.value("powerwall_tedapi_enabled", gateway="demo") in (None, 0)
    finally:
        exp.stop()


def test_demo_site_without_demo_is_one_error_line() -> None:
    proc = run_exporter("--demo.site=pw3", timeout=30)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--demo.site" in lines[0] and "--demo" in lines[0], lines

"""Fleet sharding: our split agrees with Prometheus' hashmod routing, checked by promtool itself."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from exporter.cli import build_parser
from exporter.config import ConfigError, load_config
from exporter.shard import hashmod, main, split
from tests.support.paths import REPO
from tests.support.prereqs import require_binary

EXAMPLE = REPO / "deploy" / "scaling" / "prometheus-sharded.yml"
NAMES = [f"site-{i:03d}" for i in range(40)]


def fleet() -> dict[str, object]:
    return {
        "state_file": "",
        "gateways": [{"name": n, "address": "192.0.2.1", "password": f"${{PW_{i}}}"} for i, n in enumerate(NAMES)],
    }


def test_split_is_complete_and_disjoint() -> None:
    parts = split(fleet(), 3)
    names = [g["name"] for p in parts for g in p["gateways"]]
    assert sorted(names) == NAMES
    assert all(p["state_file"] == "" for p in parts)
    assert all(len(p["gateways"]) > 5 for p in parts)


def test_split_rejects_duplicates() -> None:
    f = fleet()
    gateways = list(f["gateways"])  # type: ignore[call-overload]
    f["gateways"] = [*gateways, gateways[0]]
    with pytest.raises(ConfigError, match="duplicate"):
        split(f, 2)


def test_cli_writes_valid_replica_configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "fleet.yaml"
    src.write_text(yaml.safe_dump(fleet()))
    assert main(["--config.file", str(src), "--replicas", "3", "--out-dir", str(tmp_path / "out")]) == 0
    for i in range(len(NAMES)):
        monkeypatch.setenv(f"PW_{i}", "x")
    seen = []
    for i in range(3):
        path = tmp_path / "out" / f"exporter-{i}.yaml"
        assert path.stat().st_mode & 0o777 == 0o600
        cfg = load_config(path)
        assert all(hashmod(g.name, 3) == i for g in cfg.gateways)
        seen += [g.name for g in cfg.gateways]
    assert sorted(seen) == NAMES
    assert yaml.safe_load((tmp_path / "out" / "targets.yml").read_text()) == [{"targets": NAMES}]


def test_prometheus_routes_each_target_to_the_replica_that_holds_it(tmp_path: Path) -> None:
    tool = require_binary("promtool")
    src = tmp_path / "fleet.yaml"
    src.write_text(yaml.safe_dump(fleet()))
    assert main(["--config.file", str(src), "--replicas", "3", "--out-dir", str(tmp_path)]) == 0
    config = tmp_path / "prometheus.yml"
    shutil.copy(EXAMPLE, config)
    check = subprocess.run([tool, "check", "config", str(config)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    proc = subprocess.run(
        [tool, "check", "service-discovery", "--timeout=3s", str(config), "powerwall"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    targets = [t for t in json.loads(proc.stdout) if t.get("labels")]
    kept = {t["labels"]["instance"]: t["labels"]["__address__"] for t in targets}
    # This example server is shard 0 of 2: it keeps exactly the sites whose hashmod(name, 2) is 0 ...
    assert sorted(kept) == sorted(n for n in NAMES if hashmod(n, 2) == 0)
    # ... and sends each to the replica whose config holds it.
    for name, address in kept.items():
        assert address == f"powerwall-exporter-{hashmod(name, 3)}.powerwall-exporter:9871"


def test_the_kubernetes_replicas_are_where_prometheus_sends_each_gateway() -> None:
    """The StatefulSet, its headless Service and the sharded Prometheus config name the same replicas:
    replica i is powerwall-exporter-i.powerwall-exporter:9871 and reads exporter-i.yaml (exporter.shard's
    output), and there are as many replicas as the exporter hashmod's modulus."""
    docs = list(yaml.safe_load_all((REPO / "deploy" / "scaling" / "kubernetes" / "statefulset.yaml").read_text()))
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    svc = next(d for d in docs if d["kind"] == "Service")
    prom = yaml.safe_load(EXAMPLE.read_text())
    relabels = prom["scrape_configs"][0]["relabel_configs"]
    replica_hash = next(r for r in relabels if r.get("target_label") == "__tmp_exporter_replica")
    address = next(r for r in relabels if r.get("target_label") == "__address__" and "replacement" in r)
    name, service = sts["metadata"]["name"], sts["spec"]["serviceName"]
    assert svc["metadata"]["name"] == service and svc["spec"]["clusterIP"] == "None"
    assert sts["spec"]["replicas"] == replica_hash["modulus"]
    port = svc["spec"]["ports"][0]["port"]
    assert address["replacement"] == f"{name}-${{1}}.{service}:{port}"
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert "--config.file=/etc/powerwall-exporter/exporter-$(REPLICA).yaml" in container["args"]
    env = {e["name"]: e for e in container["env"]}
    assert env["REPLICA"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['apps.kubernetes.io/pod-index']"
    assert f"--web.listen-address=:{port}" in container["args"]
    # Every argument is one the exporter takes (argparse exits on an unknown flag or a bad value).
    args = build_parser().parse_args([a.replace("$(REPLICA)", "0") for a in container["args"]])
    assert args.max_requests >= 64, "room for a third of a replica's sites dropping off at once"

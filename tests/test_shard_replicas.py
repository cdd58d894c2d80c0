"""``python -m exporter.shard`` never writes a replica config the exporter would refuse.

Why: the exporter rejects ``gateways: []``, so a replica handed an empty share would crash-loop
after the split said it succeeded. And the flag is ``--config.file`` like everywhere else.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from exporter.shard import empty_replicas, hashmod, largest_full_split, main, split


def _fleet(names: list[str]) -> dict[str, object]:
    return {"state_file": "", "gateways": [{"name": n, "address": "192.0.2.1", "password": "x"} for n in names]}


def _names_filling(replicas: int, n: int) -> list[str]:
    """``n`` names that all hash into replicas 0..``replicas``-2, so the last replica stays empty."""
    out = [f"site-{i}" for i in range(10_000) if hashmod(f"site-{i}", replicas) != replicas - 1]
    return out[:n]


def test_an_empty_replica_is_refused_naming_a_count_that_works(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    names = _names_filling(3, 4)
    src = tmp_path / "fleet.yaml"
    src.write_text(yaml.safe_dump(_fleet(names)))
    assert empty_replicas(split(_fleet(names), 3)) == [2]
    works = largest_full_split(_fleet(names), 3)
    assert works < 3 and not empty_replicas(split(_fleet(names), works))
    out = tmp_path / "out"
    with caplog.at_level(logging.ERROR, logger="exporter.shard"):
        assert main(["--config.file", str(src), "--replicas", "3", "--out-dir", str(out)]) == 2
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "replica(s) 2 of 3 would hold no gateway" in message
    assert f"use --replicas {works}" in message
    assert not out.exists()  # nothing written


def test_the_old_config_flag_is_gone(tmp_path: Path) -> None:
    src = tmp_path / "fleet.yaml"
    src.write_text(yaml.safe_dump(_fleet(["a", "b"])))
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(src), "--replicas", "1", "--out-dir", str(tmp_path)])
    assert exc.value.code == 2


def test_one_replica_gets_everything(tmp_path: Path) -> None:
    src = tmp_path / "fleet.yaml"
    src.write_text(yaml.safe_dump(_fleet(["a", "b"])))
    assert main(["--config.file", str(src), "--replicas", "1", "--out-dir", str(tmp_path / "o")]) == 0
    assert [g["name"] for g in yaml.safe_load((tmp_path / "o" / "exporter-0.yaml").read_text())["gateways"]] == [
        "a",
        "b",
    ]

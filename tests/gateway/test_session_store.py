"""The session state file: never blocks start-up, never loses another process's session, only safe tokens.

Why: the path comes from the configuration. A FIFO there blocked ``open()`` (and so start-up) forever;
two exporters sharing the file (shards, an overlapping restart) could each overwrite the other's
session and then log in again on every start, which is what the file exists to prevent; and a token
read back from a file someone else can write goes verbatim into request headers.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from exporter.gateway import sessions as session_store
from exporter.gateway.sessions import MAX_STATE_BYTES, SessionStore, valid_token
from exporter.simulator import SimulatedGateway
from tests.support.wiring import gateway_config, make_collector

URL = "https://192.0.2.1"
TOKEN = "tok-" + "A" * 60 + "=="


def in_thread(fn: Callable[[], object], timeout: float = 5.0) -> None:
    """Run ``fn`` in a thread and fail (instead of hanging the suite) if it does not return in time."""
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "blocked"


@pytest.mark.parametrize(
    ("token", "ok"),
    [
        (TOKEN, True),
        ("a", True),
        ("x" * 4096, True),
        ("!#$%&'()*+-./:<=>?@[]^_`{|}~", True),
        ('a"b', False),  # not a cookie-octet (RFC 6265)
        ("a\\b", False),
        ("", False),
        ("x" * 4097, False),
        ("a b", False),
        ("a\r\nX-Injected: 1", False),
        ("a\n", False),
        ("a;b", False),
        ("a,b", False),
        ("tök", False),
        ("a\tb", False),
        ("a\x00", False),
        ("a\x7f", False),
    ],
)
def test_valid_token(token: str, ok: bool) -> None:
    assert valid_token(token) is ok


def test_round_trip_and_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "state" / "sessions.json"
    store = SessionStore(path)
    store.save("home", URL, TOKEN, "eyJyZWNvcmQiOjF9")
    assert SessionStore(path).load("home", URL) == (TOKEN, "eyJyZWNvcmQiOjF9")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.lock_path.stat().st_mode) == 0o600
    assert store.lock_path == tmp_path / "state" / "sessions.json.lock"


def test_a_fifo_at_the_path_does_not_block_and_disables_persistence(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sessions.json"
    os.mkfifo(path)
    store = SessionStore(path)
    got: list[object] = []
    with caplog.at_level(logging.WARNING, logger="exporter.gateway.sessions"):
        in_thread(lambda: got.append(store.load("home", URL)))
        in_thread(lambda: store.save("home", URL, TOKEN, None))
    assert got == [None]
    assert stat.S_ISFIFO(path.lstat().st_mode)  # left alone, not replaced
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and str(path) in warnings[0] and "not a regular file" in warnings[0]


def test_a_symlink_or_directory_at_the_path_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps({"home": {"address": URL, "token": TOKEN}}))
    link = tmp_path / "link.json"
    link.symlink_to(target)
    directory = tmp_path / "dir.json"
    directory.mkdir()
    with caplog.at_level(logging.WARNING, logger="exporter.gateway.sessions"):
        for path in (link, directory):
            store = SessionStore(path)
            assert store.load("home", URL) is None
            store.save("home", URL, TOKEN, None)
    assert link.is_symlink() and directory.is_dir()
    assert json.loads(target.read_text())["home"]["token"] == TOKEN  # not written through the link
    assert any(str(link) in r.getMessage() and "symbolic link" in r.getMessage() for r in caplog.records)
    assert any(str(directory) in r.getMessage() for r in caplog.records)


def test_an_oversized_file_is_not_read(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "sessions.json"
    entry = {"address": URL, "token": TOKEN}
    path.write_text(json.dumps({"home": entry, "pad": "x" * MAX_STATE_BYTES}))
    with caplog.at_level(logging.WARNING, logger="exporter.gateway.sessions"):
        assert SessionStore(path).load("home", URL) is None
    assert "larger than" in caplog.text


def test_an_invalid_saved_token_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    bad = {"address": URL, "token": "abc\r\nX-Injected: 1", "user_record": "r"}
    bad_record = {"address": URL, "token": TOKEN, "user_record": "a;b"}
    path.write_text(json.dumps({"home": bad, "other": bad_record, "long": {"address": URL, "token": "x" * 5000}}))
    store = SessionStore(path)
    assert store.load("home", URL) is None
    assert store.load("long", URL) is None
    assert store.load("other", URL) == (TOKEN, None)


def test_an_invalid_token_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    store = SessionStore(path)
    store.save("home", URL, "a b", None)
    assert not path.exists()
    store.save("home", URL, TOKEN, "bad record\n")
    assert json.loads(path.read_text())["home"]["user_record"] is None


def test_drop_with_a_token_keeps_a_fresher_session(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    a, b = SessionStore(path), SessionStore(path)
    a.save("home", URL, "old-token", None)
    b.save("home", URL, "new-token", None)  # the other process logged in again meanwhile
    a.drop("home", "old-token")  # our old token expired
    assert a.load("home", URL) == ("new-token", None)
    a.drop("home", "new-token")
    assert a.load("home", URL) is None


class PausingStore(SessionStore):
    """Stops between reading and writing, where a second writer used to slip in."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reading_done = threading.Event()
        self.go_on = threading.Event()

    def _write(self, data: dict[str, object]) -> None:
        self.reading_done.set()
        assert self.go_on.wait(5)
        super()._write(data)


def test_two_writers_do_not_lose_each_others_session(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    slow, fast = PausingStore(path), SessionStore(path)
    t_slow = threading.Thread(target=slow.save, args=("a", URL, "token-a", None))
    t_slow.start()
    assert slow.reading_done.wait(5)
    t_fast = threading.Thread(target=fast.save, args=("b", URL, "token-b", None))
    t_fast.start()
    t_fast.join(0.3)  # with the lock it waits for the slow writer; without it, it writes now
    slow.go_on.set()
    t_slow.join(5)
    t_fast.join(5)
    store = SessionStore(path)
    assert store.load("a", URL) == ("token-a", None)
    assert store.load("b", URL) == ("token-b", None)


def _save_many(path: str, prefix: str, n: int) -> None:
    store = SessionStore(Path(path))
    for i in range(n):
        store.save(f"{prefix}{i}", URL, f"token-{prefix}{i}", None)


def test_two_processes_sharing_the_file_keep_every_session(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_save_many, args=(str(path), p, 40)) for p in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    data = json.loads(path.read_text())
    assert sorted(data) == sorted(f"{p}{i}" for p in "ab" for i in range(40))


def test_a_lock_held_elsewhere_delays_then_skips_the_save(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl

    monkeypatch.setattr(session_store, "LOCK_TIMEOUT_SECONDS", 0.2)
    path = tmp_path / "sessions.json"
    store = SessionStore(path)
    fd = os.open(store.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        in_thread(lambda: store.save("home", URL, TOKEN, None))
        assert not path.exists()
    finally:
        os.close(fd)
    store.save("home", URL, TOKEN, None)
    assert store.load("home", URL) == (TOKEN, None)


# -------------------------------------------------------- through the transport and the collector
def test_session_survives_a_restart(sim: SimulatedGateway, tmp_path: Path) -> None:
    state = tmp_path / "state" / "sessions.json"
    c1 = make_collector(gateway_config(sim), state_file=state)
    assert c1.scrape().get("powerwall_up") == 1
    c1.close()
    assert state.stat().st_mode & 0o777 == 0o600
    assert "sim-password" not in state.read_text()
    c2 = make_collector(gateway_config(sim), state_file=state)
    assert c2.scrape().get("powerwall_up") == 1
    assert sim.login_count == 1
    sim.invalidate_sessions()
    assert c2.scrape().get("powerwall_up") == 1
    assert sim.login_count == 2
    c2.close()


def test_session_store_ignores_other_addresses(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.json")
    store.save("home", "https://10.0.0.1:443", "tok", "rec")
    assert store.load("home", "https://10.0.0.1:443") == ("tok", "rec")
    assert store.load("home", "https://10.0.0.2:443") is None
    store.drop("home")
    assert store.load("home", "https://10.0.0.1:443") is None

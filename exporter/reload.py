"""Reload without restart: re-read ``--config.file`` on ``SIGHUP`` or ``POST /-/reload``.

As in Prometheus and the exporter-toolkit exporters: a new configuration that does not load is
refused as a whole and the running one stays, so a typo during a live edit never takes monitoring
down; the outcome is in ``powerwall_exporter_config_last_reload_successful``. Applying keeps every
unchanged gateway's session and state (see :meth:`PowerwallCollector.apply`). ``--web.config.file``
is not re-read: TLS and basic auth still need a restart.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path
from typing import NoReturn

from exporter.config import ConfigError, load_config, pin_warnings
from exporter.scrape.collector import ApplySummary, PowerwallCollector
from exporter.sources.registry import check_gateway

log = logging.getLogger(__name__)


class ReloadError(Exception):
    """A refused reload; the message is what ``POST /-/reload`` answers and the log says."""


class Reloader:
    """Loads the config file and applies it to the collector, one reload at a time."""

    def __init__(self, collector: PowerwallCollector, config_file: str | Path | None) -> None:
        self.collector = collector
        self.config_file = config_file
        self._lock = threading.Lock()  # a SIGHUP and a POST at once must not interleave their applies

    def reload(self, trigger: str) -> ApplySummary:
        """Re-read and apply the config file; raises :class:`ReloadError` (already logged) if refused.

        ``trigger`` (``"SIGHUP"``, ``"POST /-/reload"``) only goes into the log lines.
        """
        with self._lock:
            if self.config_file is None:
                self._refuse(trigger, "no --config.file to re-read (the demo runs on a built-in configuration)")
            try:
                config = load_config(self.config_file, check=check_gateway)
            except ConfigError as exc:  # names the offending key(s), as at start-up
                self._refuse(trigger, "invalid configuration: " + "; ".join(str(p) for p in exc.problems))
            try:
                summary = self.collector.apply(config)
            except Exception as exc:  # a bug, or e.g. a thread that cannot start: never fatal for a reload
                log.exception("reload (%s) failed while applying the new configuration", trigger)
                self._refuse(trigger, f"applying the configuration failed: {exc.__class__.__name__}: {exc}")
            log.info("configuration reloaded (%s) from %s: %s gateway(s)", trigger, self.config_file, summary)
            for warning in pin_warnings(config):
                log.warning("%s", warning)
            return summary

    def _refuse(self, trigger: str, why: str) -> NoReturn:
        self.collector.reload_failed()
        log.error("configuration reload (%s) refused, the running configuration stays: %s", trigger, why)
        raise ReloadError(why) from None

    def reload_logged(self, trigger: str) -> None:
        """:meth:`reload` for callers with nobody to answer (a signal): the outcome is logged only."""
        with contextlib.suppress(ReloadError):
            self.reload(trigger)

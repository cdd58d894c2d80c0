"""A private temporary directory for the simulated gateway's certificate and key files.

Why a module of its own: ``ssl`` insists on reading a certificate and key from disk, and the demo runs
in a read-only container, so *where* those files may go is a question apart from serving: only a real
temporary directory, never the current one, and a clear error when there is none.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path


class NoWritableTempDirError(OSError):
    """No temporary directory can be written (a read-only container without a tmpfs on /tmp)."""


def _temp_dir_candidates() -> list[str]:
    env = [os.environ.get(k) for k in ("TMPDIR", "TEMP", "TMP")]
    defaults = ["/tmp", "/var/tmp", "/usr/tmp"] if os.name == "posix" else []  # noqa: S108 - the usual temp dirs
    return list(dict.fromkeys(d for d in (*env, *defaults) if d))


def private_tmpdir(prefix: str, candidates: Sequence[str] | None = None) -> Path:
    """A new 0700 directory for the certificate and key files ``ssl`` insists on reading from disk.

    ``tempfile.mkdtemp()`` alone falls back to the *current directory* when no temporary directory is
    writable, which would drop a private key wherever the process happens to run (or fail with a
    confusing message in a read-only container). Only real temporary directories are tried here, in
    ``tempfile``'s order; the caller removes the directory when done.
    """
    tried: list[str] = []
    for d in _temp_dir_candidates() if candidates is None else candidates:
        try:
            return Path(tempfile.mkdtemp(prefix=prefix, dir=d))
        except OSError as exc:
            tried.append(f"{d}: {exc.strerror or exc}")
    raise NoWritableTempDirError(
        "no writable temporary directory for the simulated gateway's certificate "
        f"({'; '.join(tried) or 'none configured'}); mount a tmpfs on /tmp or set TMPDIR"
    )

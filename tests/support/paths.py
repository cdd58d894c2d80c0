"""Where the checkout and the shared captures are, for every test and helper.

Why one place: the shared fixtures sit beside the repository (``../shared``), not inside it, and a
path computed from ``__file__`` in each module breaks silently when that module moves.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures"

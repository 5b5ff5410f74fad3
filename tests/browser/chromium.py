"""Debian's chromium as the browser tests run it: Playwright and Lighthouse start it the same
way (no sandbox in containers, no GPU, nothing fetched in the background)."""

from __future__ import annotations

import shutil

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def chromium_path() -> str:
    """Where `scripts/bootstrap --browser` puts it (Playwright cannot download one here)."""
    return shutil.which("chromium") or "/usr/bin/chromium"

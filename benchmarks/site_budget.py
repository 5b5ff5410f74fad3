"""The site's own weight: every .js and .css file under static_site/ (the vendored Voice SDK in
static_site/vendor/ aside), each compressed with gzip at level 9, summed. What a first visit
downloads of our own code, near enough (Static Web Apps compresses what it serves)."""

from __future__ import annotations

import gzip
from pathlib import Path

SITE = Path(__file__).resolve().parent.parent / "static_site"
VENDOR = SITE / "vendor"
BUDGET_BYTES = 50 * 1024


def own_assets(site: Path = SITE) -> list[Path]:
    vendor = site / VENDOR.name
    return sorted(
        path
        for path in site.rglob("*")
        if path.suffix in (".js", ".css") and path.is_file() and not path.is_relative_to(vendor)
    )


def gzipped_sizes(site: Path = SITE) -> dict[str, int]:
    """Each own asset's gzip -9 size in bytes, by its path under the site."""
    return {
        path.relative_to(site).as_posix(): len(gzip.compress(path.read_bytes(), compresslevel=9))
        for path in own_assets(site)
    }


def vendored_gzipped_bytes(site: Path = SITE) -> int:
    return sum(
        len(gzip.compress(path.read_bytes(), compresslevel=9))
        for path in (site / VENDOR.name).rglob("*.js")
    )

"""The sandbox: plays Twilio's and Stripe's part over real, signed HTTP to our own endpoints.

Only the local host mounts it, and only when OWNNUMBER_MODE=sandbox.
"""

from __future__ import annotations

from local_host.http_types import Mount
from shared.config import Settings


def sandbox_mounts(settings: Settings) -> list[Mount]:
    mounts: list[Mount] = []
    return mounts

"""The sandbox: plays Twilio's and Stripe's part over real, signed HTTP to our own endpoints.

Only the local host mounts it, and only when OWNNUMBER_MODE=sandbox.
"""

from __future__ import annotations

from local_host.http_types import Mount
from local_host.sandbox.caller_id_store import caller_id_store
from local_host.sandbox.stripe_sandbox import StripeSandbox
from local_host.sandbox.telephony import TelephonySandbox
from local_host.sandbox.twilio_api import fake_calls_api, sandbox_twilio_api
from shared.config import SANDBOX_STRIPE_PATH, SANDBOX_TWILIO_PATH, Settings


def sandbox_mounts(settings: Settings) -> list[Mount]:
    mounts: list[Mount] = []
    mounts.append(Mount(SANDBOX_TWILIO_PATH, sandbox_twilio_api(settings).handle))
    mounts.append(
        Mount(
            "/sandbox/telephony",
            TelephonySandbox(settings, fake_calls_api(), caller_id_store()).handle,
        )
    )
    mounts.append(Mount(SANDBOX_STRIPE_PATH, StripeSandbox(settings).handle))
    return mounts

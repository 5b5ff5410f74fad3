"""Where Twilio calls us: the routes that serve its webhooks, and the URLs the TwiML and the
TwiML App name. One place, so that a renamed route cannot leave Twilio posting to nowhere,
and so that every URL Twilio is given carries our connection overrides (webhook_overrides)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from shared.telephony.webhook_overrides import with_overrides

API_PREFIX = "/api/"

VOICE_ROUTE = "voice"
STATUS_CALLBACK_ROUTE = "call-status"
DIAL_ACTION_ROUTE = "call-status/dial-action"
CALLER_ID_STATUS_ROUTE = "caller-id/status"

VOICE_PATH = API_PREFIX + VOICE_ROUTE
STATUS_CALLBACK_PATH = API_PREFIX + STATUS_CALLBACK_ROUTE
DIAL_ACTION_PATH = API_PREFIX + DIAL_ACTION_ROUTE
CALLER_ID_STATUS_PATH = API_PREFIX + CALLER_ID_STATUS_ROUTE


def public_url(public_base_url: str, path: str, query: str = "") -> str:
    """Our URL for this path as Twilio requests it: ours, never the one a request claims."""
    return f"{public_base_url}{path}" + (f"?{query}" if query else "")


def twilio_url(public_base_url: str, path: str, query: str = "") -> str:
    """The URL to give Twilio for one of our webhooks: ours, with our connection overrides."""
    return with_overrides(public_url(public_base_url, path, query))


def voice_url(public_base_url: str) -> str:
    """The Voice URL to configure in the TwiML App (the README shows it)."""
    return twilio_url(public_base_url, VOICE_PATH)


@dataclass(frozen=True)
class DialCallbacks:
    """Where Twilio reports on one <Dial>: its action and its <Number>'s status callbacks."""

    action_url: str
    status_callback_url: str


def dial_callbacks(public_base_url: str, user_id: str, call_sid: str) -> DialCallbacks:
    """The report URLs for the call `call_sid` (the parent CallSid) of this user."""
    # Twilio signs these URLs with their query, so the callbacks can trust whose call it is.
    query = urlencode({"user": user_id, "call": call_sid})
    return DialCallbacks(
        action_url=twilio_url(public_base_url, DIAL_ACTION_PATH, query),
        status_callback_url=twilio_url(public_base_url, STATUS_CALLBACK_PATH, query),
    )


def caller_id_status_url(public_base_url: str, user_id: str, attempt: str) -> str:
    """Where Twilio reports on one caller-ID validation: ?u=<user id>&a=<attempt id>, signed
    with the rest of the URL (the attempt id is ours: Twilio's CallSid is known only after)."""
    query = urlencode({"u": user_id, "a": attempt})
    return twilio_url(public_base_url, CALLER_ID_STATUS_PATH, query)

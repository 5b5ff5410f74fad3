"""Twilio's Calls API: a call and the legs it dialled, for reconciliation; deleting a call's
log, for account deletion (DELETE_TWILIO_CALL_LOGS).

The ports (`CallsApi` and `CallLogsApi`, in shared.calling.calls_api) are what reconciliation
and the erasure depend on; `TwilioCallsApi` implements them with `twilio.rest.Client`, loaded
only when first used. Its HTTP layer sends what the SDK addresses to https://api.twilio.com
to TWILIO_API_BASE_URL instead when that is set (the sandbox's loopback fake), so the SDK's
own requests and parsing run unchanged in tests.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import requests

from shared.calling.calls_api import CallLogsApi, CallsApi, TwilioApiUnavailable
from shared.calling.lifecycle import TwilioCallView
from shared.config import TwilioSettings

if TYPE_CHECKING:
    from twilio.rest import Client

TWILIO_API_ORIGIN = "https://api.twilio.com"
_TIMEOUT_SECONDS = 10.0
# What the SDK would otherwise read from os.environ: TWILIO_EDGE and TWILIO_REGION choose its
# REST API's host (TWILIO_EDGE=roaming, say, would make it ask api.roaming.us1.twilio.com).
# Our settings come from shared.config only; the browser's edges are TWILIO_VOICE_EDGES, named
# apart for this reason. (An empty mapping would not do: the SDK falls back to os.environ for
# any falsy one.)
_NO_ENVIRONMENT = {"TWILIO_EDGE": "", "TWILIO_REGION": ""}


class TwilioCallsApi(CallsApi, CallLogsApi):
    def __init__(self, settings: TwilioSettings) -> None:
        self._settings = settings
        self._client: Client | None = None
        self._lock = threading.Lock()

    def fetch(self, call_sid: str) -> TwilioCallView | None:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            return _view(self._rest().calls(call_sid).fetch())
        except TwilioRestException as error:
            if error.status == 404:
                return None
            raise TwilioApiUnavailable(f"Twilio answered {error.status} for a call") from None
        except (TwilioException, requests.RequestException, ValueError) as error:
            raise _unavailable(error) from error

    def children(self, parent_call_sid: str) -> list[TwilioCallView]:
        from twilio.base.exceptions import TwilioException

        try:
            calls = self._rest().calls.list(parent_call_sid=parent_call_sid)
            return [_view(call) for call in calls]
        except (TwilioException, requests.RequestException, ValueError) as error:
            raise _unavailable(error) from error

    def delete(self, call_sid: str) -> bool:
        """DELETE /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json: 204 deleted (True), 404
        not known, which after a first attempt means deleted already (False)."""
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            return bool(self._rest().calls(call_sid).delete())
        except TwilioRestException as error:
            if error.status == 404:
                return False
            raise TwilioApiUnavailable(
                f"Twilio answered {error.status} to deleting a call"
            ) from None
        except (TwilioException, requests.RequestException, ValueError) as error:
            raise _unavailable(error) from error

    def _rest(self) -> Client:
        with self._lock:
            if self._client is None:
                self._client = rest_client(self._settings)
            return self._client


def rest_client(twilio: TwilioSettings) -> Client:
    """twilio.rest.Client as OwnNumber uses it: an API key, requests to TWILIO_API_BASE_URL
    when that is set, and nothing read from the environment."""
    from twilio.rest import Client

    # An API key, not the auth token: it can be revoked without touching webhooks.
    return Client(
        twilio.api_key_sid,
        twilio.api_key_secret,
        twilio.account_sid,
        http_client=_http_client(twilio.api_base_url),
        environment=_NO_ENVIRONMENT,
    )


def _http_client(base_url: str | None) -> Any:
    from twilio.http.http_client import TwilioHttpClient

    class RebasedHttpClient(TwilioHttpClient):  # type: ignore[misc]  # the library is untyped
        """Twilio's own HTTP client, pointed at another base address when one is set."""

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if base_url and url.startswith(TWILIO_API_ORIGIN):
                url = base_url + url[len(TWILIO_API_ORIGIN) :]
            return super().request(method, url, *args, **kwargs)

    return RebasedHttpClient(timeout=_TIMEOUT_SECONDS)


def _view(call: Any) -> TwilioCallView:
    duration = call.duration
    return TwilioCallView(
        sid=str(call.sid),
        parent_call_sid=call.parent_call_sid or None,
        status=str(call.status),
        duration_seconds=int(duration) if duration not in (None, "") else None,
        end_time=call.end_time or None,  # the SDK parses Twilio's RFC 2822 times
    )


def _unavailable(error: Exception) -> TwilioApiUnavailable:
    if isinstance(error, requests.RequestException):
        return TwilioApiUnavailable(f"Twilio's API is unreachable: {type(error).__name__}")
    return TwilioApiUnavailable(f"Twilio's API failed: {type(error).__name__}: {error}"[:300])

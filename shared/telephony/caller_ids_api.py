"""Twilio's caller-ID validation (`validation_requests.create`) and OutgoingCallerIds (delete),
through twilio.rest.Client built as for the Calls API (shared.telephony.calls_api.rest_client):
TWILIO_API_BASE_URL honoured, TWILIO_EDGE/TWILIO_REGION in the environment ignored."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import requests

from shared.callerid.caller_ids_api import CallerIdsApi, ValidationStarted
from shared.callerid.errors import CallerIdProviderUnavailable, CallerIdRefused
from shared.config import TwilioSettings
from shared.telephony.calls_api import rest_client

if TYPE_CHECKING:
    from twilio.rest import Client

logger = logging.getLogger("ownnumber.telephony")


class TwilioCallerIdsApi(CallerIdsApi):
    def __init__(self, settings: TwilioSettings) -> None:
        self._settings = settings
        self._client: Client | None = None
        self._lock = threading.Lock()

    def start_validation(
        self, phone_number: str, friendly_name: str, status_callback: str
    ) -> ValidationStarted:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            request = self._rest().validation_requests.create(
                phone_number=phone_number,
                friendly_name=friendly_name,
                status_callback=status_callback,
                status_callback_method="POST",
            )
        except TwilioRestException as error:
            # Twilio's code only (e.g. 21450 already verified): its message names the number.
            logger.warning("Twilio refused a validation request: %s %s", error.status, error.code)
            if 400 <= error.status < 500 and error.status != 429:
                raise CallerIdRefused(
                    "The telephone provider refused to verify this number; check it, or try "
                    "another."
                ) from None
            raise CallerIdProviderUnavailable(f"Twilio answered {error.status}") from None
        except (TwilioException, requests.RequestException, ValueError) as error:
            raise CallerIdProviderUnavailable(
                f"Twilio's API failed: {type(error).__name__}"
            ) from error
        code = str(request.validation_code or "")
        call_sid = str(request.call_sid or "")
        if not (code.isdigit() and call_sid):
            raise CallerIdProviderUnavailable("Twilio's validation request gave no code")
        return ValidationStarted(validation_code=code, call_sid=call_sid)

    def delete(self, outgoing_caller_id_sid: str) -> None:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            self._rest().outgoing_caller_ids(outgoing_caller_id_sid).delete()
        except TwilioRestException as error:
            if error.status == 404:
                return  # gone already
            raise CallerIdProviderUnavailable(f"Twilio answered {error.status}") from None
        except (TwilioException, requests.RequestException, ValueError) as error:
            raise CallerIdProviderUnavailable(
                f"Twilio's API failed: {type(error).__name__}"
            ) from error

    def _rest(self) -> Client:
        with self._lock:
            if self._client is None:
                self._client = rest_client(self._settings)
            return self._client

"""The port to Twilio's caller-ID validation and OutgoingCallerIds API (the adapter is
shared.telephony.caller_ids_api; tests subclass this with fakes)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class ValidationStarted:
    """What Twilio answers a validation request with: the code the owner types, and the
    call that asks for it."""

    validation_code: str
    call_sid: str


class CallerIdsApi(ABC):
    @abstractmethod
    def start_validation(
        self, phone_number: str, friendly_name: str, status_callback: str
    ) -> ValidationStarted:
        """Asks Twilio to call phone_number for its code (CallerIdProviderUnavailable)."""

    @abstractmethod
    def delete(self, outgoing_caller_id_sid: str) -> None:
        """Removes the verified caller ID from the Twilio account; one that is gone already
        is not an error (CallerIdProviderUnavailable when Twilio cannot be asked)."""

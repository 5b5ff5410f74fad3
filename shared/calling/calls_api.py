"""The ports to Twilio's Calls API: reading a call and the legs it dialled, as lifecycle's
TwilioCallView (reconciliation), and deleting a call's log (account deletion).

The adapter, shared.telephony.calls_api.TwilioCallsApi, implements it with the Twilio SDK;
tests fake it by subclassing. Nothing here imports an SDK, so the domain never depends on one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from shared.calling.lifecycle import TwilioCallView


class TwilioApiUnavailable(Exception):
    """Twilio's API could not be reached or answered with an error; try again later."""


class CallsApi(ABC):
    @abstractmethod
    def fetch(self, call_sid: str) -> TwilioCallView | None:
        """The call, or None when Twilio does not know it."""

    @abstractmethod
    def children(self, parent_call_sid: str) -> list[TwilioCallView]:
        """The legs this call dialled (for <Dial><Number>, at most one)."""


class CallLogsApi(ABC):
    """Deleting calls' logs at Twilio (account deletion, with DELETE_TWILIO_CALL_LOGS)."""

    @abstractmethod
    def delete(self, call_sid: str) -> bool:
        """Deletes the call's record at Twilio: True if deleted, False if Twilio did not know
        it (already deleted). TwilioApiUnavailable for anything else."""

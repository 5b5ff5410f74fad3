"""What deleting an account can refuse, named for the problem; the edge maps them to statuses."""

from __future__ import annotations

from shared.errors import InvalidInput


class NotConfirmed(InvalidInput):
    """The typed confirmation is missing or is not the word asked for."""


class CallInProgress(Exception):
    """The account has a call up: its hold would be erased under a call still costing money."""

"""The calling error that more than one job of the package raises: placing a call and
following its reports both give up with CallsBusy when the rows keep changing under them."""

from __future__ import annotations


class CallsBusy(Exception):
    """The call's rows kept changing under every attempt; the caller should retry."""

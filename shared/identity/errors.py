"""Sign-in's errors, in a module that imports nothing, so that the HTTP edge can map them
without loading accounts or sessions."""

from __future__ import annotations


class InvalidEmail(ValueError):
    """What was given as an email address is not one; the message says so in a sentence."""

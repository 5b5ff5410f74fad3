"""Sign-in's errors, in a module that imports nothing but the shared errors, so that the HTTP
edge can map them without loading accounts or sessions."""

from __future__ import annotations

import logging

from shared.errors import NotFound

logger = logging.getLogger("ownnumber.sign_in")


class InvalidEmail(ValueError):
    """What was given as an email address is not one; the message says so in a sentence."""


class SessionNotFound(NotFound):
    """The session named is not one of the caller's (or has ended already)."""


class ReauthRequired(Exception):
    """The session is live, but its sign-in is older than a dangerous action allows: the
    person must sign in again first."""


class SignInFailed(Exception):
    """A sign-in through the identity provider did not complete.

    Every failure is a page for a person, not a JSON problem: `sentence` says what happened in
    words, `status` is the page's HTTP status, and `code` names the event in the log (which
    never holds an email, a token or a code). `return_to` is where "try again" leads back to,
    once the flow that knows it has been read. `ended_flow` says whether this browser's sign-in
    in progress is over (its state cookie then goes): false when the failure touched nothing.
    """

    code = "failed"
    status = 400
    title = "Sign-in did not complete"
    sentence = "The sign-in did not complete."
    ended_flow = True

    def __init__(self, sentence: str | None = None) -> None:
        super().__init__(sentence or self.sentence)
        self.sentence = sentence or self.sentence
        self.return_to = "/"


class SignInNotConfigured(SignInFailed):
    code = "not_configured"
    status = 404
    sentence = "Sign-in with Google is not set up on this server."


class InvalidReturnTo(SignInFailed):
    code = "bad_return_to"
    sentence = "The page to come back to after signing in must be a page of this site."


class InvalidPrompt(SignInFailed):
    code = "bad_prompt"
    sentence = "The prompt of a sign-in may only be select_account or login."


class SignInStateMismatch(SignInFailed):
    """The callback's state is missing, or is not the one this browser's cookie holds (a
    sign-in started elsewhere, or a link someone else sent: login CSRF)."""

    code = "state_mismatch"
    ended_flow = False
    sentence = (
        "This sign-in was started in another tab or browser, or its link was changed, so it "
        "was stopped to keep your account safe."
    )


class SignInFlowUnknown(SignInFailed):
    """No flow is stored for this state: used already (a replay), or never started here."""

    code = "flow_unknown"
    sentence = "This sign-in link has been used already, or was not started here: each works once."


class SignInFlowExpired(SignInFailed):
    code = "flow_expired"
    sentence = "This sign-in took longer than ten minutes, so it expired."


class SignInCancelled(SignInFailed):
    """The identity provider says the person declined (error=access_denied)."""

    code = "cancelled"
    status = 401
    title = "Sign-in cancelled"
    sentence = "You cancelled the sign-in."


class SignInRefusedByProvider(SignInFailed):
    """The identity provider answered with an OAuth error other than access_denied."""

    code = "provider_error"
    status = 401
    sentence = "The identity provider did not sign you in."


class SignInTokenInvalid(SignInFailed):
    """MSAL refused the answer (state, nonce), or the ID token's claims are not for us."""

    code = "token_invalid"
    status = 401
    sentence = "The identity provider's answer could not be verified, so you were not signed in."


class SignInEmailMissing(SignInFailed):
    code = "email_missing"
    status = 403
    sentence = (
        "Your account did not share an email address with OwnNumber, and it needs one to sign "
        "you in. Allow access to your email address when asked."
    )


class SignInEmailUnverified(SignInFailed):
    code = "email_unverified"
    status = 403
    sentence = (
        "The email address of your account is not verified yet. Verify it with your email "
        "provider, then sign in again."
    )


class SignInUnavailable(SignInFailed):
    """The identity provider could not be reached, or storage failed mid-way."""

    code = "unavailable"
    status = 503
    sentence = "The sign-in service cannot be reached right now. Please try again in a minute."


# OAuth error codes are short ASCII words; anything else is not repeated on a page.
_MAX_ERROR_CODE_CHARS = 64


def provider_error(code: str) -> SignInFailed:
    """The failure an OAuth error code from the identity provider stands for."""
    if code == "access_denied":
        return SignInCancelled()
    readable = code.isascii() and code.replace("_", "").isalnum()
    shown = code if readable and len(code) <= _MAX_ERROR_CODE_CHARS else ""
    logger.warning("sign_in.provider_error: %s", shown or "unreadable")
    if code == "invalid_grant":
        return SignInRefusedByProvider(
            "The identity provider no longer accepts this sign-in (it took too long, or was "
            "used already)."
        )
    suffix = f" (it said: {shown})" if shown else ""
    return SignInRefusedByProvider(f"The identity provider did not sign you in{suffix}.")

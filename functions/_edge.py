"""What every HTTP adapter shares: JSON in and out, sessions from cookies, the one place
where errors named after business problems become status codes and problem+json, and the
span each invocation (timers too) is when telemetry is on.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import azure.functions as func

from shared.bootstrap import Services, get_services
from shared.callerid.errors import (
    CallerIdProviderUnavailable,
    TooManyAttempts,
    VerificationInProgress,
)
from shared.calling.calls_api import TwilioApiUnavailable
from shared.calling.errors import CallsBusy
from shared.config import ConfigError
from shared.credit.errors import (
    AccountBusy,
    PaymentInconsistent,
    PaymentProviderRefused,
    PaymentProviderUnavailable,
    WebhookSignatureInvalid,
)
from shared.deadline import REQUEST_DEADLINE_SECONDS, DeadlinePassed, deadline
from shared.errors import Forbidden, InvalidInput, NotFound, NotSignedIn
from shared.identity.errors import InvalidEmail, ReauthRequired
from shared.json_body import parse_json
from shared.limits.errors import LimitReached
from shared.money.errors import EntryIdReused, LedgerBusy
from shared.privacy.errors import CallInProgress, TooManyExports
from shared.storage.errors import BadContinuation, StorageUnavailable
from shared.storage.round_trips import ROUND_TRIPS_HEADER, RoundTrips, counting
from shared.telephony.errors import SignatureInvalid

if TYPE_CHECKING:
    from datetime import datetime

    from shared.identity.sessions import Session
    from shared.limits.requests import Action
    from shared.telemetry.startup import Invocation

logger = logging.getLogger("ownnumber")

# The session cookie's name on plain-http loopback (the sandbox), where __Host- cannot be had.
COOKIE_NAME = "ownnumber_session"
# On https. Browsers accept a __Host- cookie only when it is Secure, with Path=/ and no Domain,
# so no other host (a subdomain, a plain-http page) can set or shadow it.
SECURE_COOKIE_NAME = "__Host-session"

Handler = Callable[[func.HttpRequest], func.HttpResponse]
TimerJob = Callable[[func.TimerRequest], None]

# Status, title and (for 503) Retry-After per error, most specific first.
_PROBLEMS: tuple[tuple[type[Exception], int, str], ...] = (
    (InvalidEmail, 400, "Invalid email address"),
    (BadContinuation, 400, "Invalid continuation token"),
    (WebhookSignatureInvalid, 400, "Invalid signature"),
    (InvalidInput, 400, "Invalid request"),
    (ReauthRequired, 401, "Sign in again"),
    (NotSignedIn, 401, "Not signed in"),
    (SignatureInvalid, 403, "Invalid signature"),
    (Forbidden, 403, "Forbidden"),
    (NotFound, 404, "Not found"),
    (EntryIdReused, 409, "Conflicting event"),
    (VerificationInProgress, 409, "Verification in progress"),
    (CallInProgress, 409, "Call in progress"),
    (TooManyAttempts, 429, "Too many attempts"),
    (TooManyExports, 429, "Too many exports"),
    (LimitReached, 429, "Too many requests"),
    (PaymentProviderRefused, 502, "Payment provider refused"),
    (PaymentProviderUnavailable, 503, "Payment provider unavailable"),
    (CallerIdProviderUnavailable, 503, "Telephone provider unavailable"),
    (TwilioApiUnavailable, 503, "Telephone provider unavailable"),
    (LedgerBusy, 503, "Account busy"),
    (AccountBusy, 503, "Account busy"),
    (PaymentInconsistent, 503, "Payment inconsistent"),
    (CallsBusy, 503, "Call busy"),
    (StorageUnavailable, 503, "Storage unavailable"),
    (DeadlinePassed, 503, "Service busy"),
    (ConfigError, 503, "Service misconfigured"),
)
# A word for machines in the problem's body, where a client must act on which problem it is
# (here: start a fresh sign-in rather than show a sign-in page).
_CODES: Mapping[type[Exception], str] = {
    ReauthRequired: "reauth_required",
    CallInProgress: "call_in_progress",
}
_RETRY_AFTER_SECONDS = "5"


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(data, separators=(",", ":")),
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
        mimetype="application/json",
    )


def problem(
    status: int,
    title: str,
    detail: str,
    code: str | None = None,
    retry_after: int | None = None,
) -> func.HttpResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if code is not None:
        body["code"] = code
    headers = {"Cache-Control": "no-store"}
    if status == 503:
        headers["Retry-After"] = _RETRY_AFTER_SECONDS
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return func.HttpResponse(
        json.dumps(body), status_code=status, headers=headers, mimetype="application/problem+json"
    )


def problem_for(error: Exception) -> func.HttpResponse:
    if isinstance(error, EntryIdReused):
        # One id, two amounts: a bug or a tampered event, never retried into success. The
        # message names the entry id (a Stripe or call id) and amounts, nothing personal.
        logger.error("Conflicting event: %s", error)
    for kind, status, title in _PROBLEMS:
        if isinstance(error, kind):
            if status >= 500:
                logger.warning("%s: %s", title, error)
                return problem(status, title, _server_sentence(error, title))
            retry_after = (
                error.retry_after_seconds
                if isinstance(error, TooManyAttempts | TooManyExports | LimitReached)
                else None
            )
            return problem(status, title, str(error) or title, _CODES.get(kind), retry_after)
    logger.exception("Unexpected error", exc_info=error)
    return problem(500, "Internal error", "Something went wrong on our side; please try again.")


def _server_sentence(error: Exception, title: str) -> str:
    # Configuration sentences name a setting, never a value: safe to show; storage and
    # provider details are not the caller's business.
    if isinstance(error, ConfigError):
        return str(error)
    if isinstance(error, PaymentProviderRefused):
        return "The payment provider refused this purchase; retrying will not help."
    return f"{title}: please retry in a few seconds."


def endpoint(handler: Handler) -> Handler:
    """Wraps an HTTP adapter so that no error escapes as a bare 500, and no request waits on
    its dependencies past the request deadline (then: 503 with Retry-After)."""
    return endpoint_within(REQUEST_DEADLINE_SECONDS)(handler)


def endpoint_within(seconds: float) -> Callable[[Handler], Handler]:
    """`endpoint` with a deadline of its own: for a download a person waits for (the data
    export), which reads far more than any webhook and has no provider's budget to keep."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def wrapper(req: func.HttpRequest) -> func.HttpResponse:
            with _request_invocation(handler, req) as traced, counting() as storage:
                try:
                    with deadline(seconds):
                        response = handler(req)
                except Exception as error:  # noqa: BLE001 - mapped (or logged) by problem_for
                    traced.failed(error)
                    response = problem_for(error)
                traced.answered(response.status_code)
                return _with_round_trips(response, storage)

        return wrapper

    return wrap


def _with_round_trips(response: func.HttpResponse, storage: RoundTrips) -> func.HttpResponse:
    # Counts only, nothing about what was read: lets anyone who runs the app (and the tests,
    # from outside) see what a request cost in storage, in production as on loopback.
    response.headers[ROUND_TRIPS_HEADER] = f"{storage.rounds}; requests={storage.requests}"
    return response


def page(handler: Handler) -> Handler:
    """Wraps an HTTP adapter that answers with pages of its own (sign-in): each request is a
    span when telemetry is on, and the handler maps its own errors."""

    @functools.wraps(handler)
    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        with _request_invocation(handler, req) as traced, counting() as storage:
            try:
                response = handler(req)
            except Exception as error:
                traced.failed(error)
                raise
            traced.answered(response.status_code)
            return _with_round_trips(response, storage)

    return wrapper


def _request_invocation(
    handler: Handler, req: func.HttpRequest
) -> AbstractContextManager[Invocation]:
    # The full URL, query string and all: the span processor masks numbers and secrets in it.
    method = req.method.upper()
    attributes = {"http.method": method, "http.url": req.url, "faas.name": handler.__name__}
    from shared.telemetry.startup import invocation

    return invocation(f"{method} {urlsplit(req.url).path}", attributes)


def timer_job(job: TimerJob) -> TimerJob:
    """Wraps a timer adapter so that each run is one span (when telemetry is on), failures
    included."""

    @functools.wraps(job)
    def wrapper(timer: func.TimerRequest) -> None:
        name = job.__name__
        from shared.telemetry.startup import invocation

        with invocation(f"timer {name}", {"faas.trigger": "timer", "faas.name": name}) as traced:
            try:
                job(timer)
            except Exception as error:
                traced.failed(error)
                raise

    return wrapper


def services() -> Services:
    return get_services()


def read_json(req: func.HttpRequest) -> dict[str, Any]:
    data = parse_json(req.get_body() or b"")
    if not isinstance(data, dict):
        raise InvalidInput("The request body must be a JSON object.")
    return data


def text_field(data: Mapping[str, Any], name: str, max_length: int = 500) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"The field {name!r} is required and must be a string.")
    if len(value) > max_length:
        raise InvalidInput(f"The field {name!r} is longer than {max_length} characters.")
    return value.strip()


def int_param(req: func.HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = req.params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"The parameter {name!r} must be a whole number.") from None
    if not low <= value <= high:
        raise InvalidInput(f"The parameter {name!r} must be between {low} and {high}.")
    return value


def client_address(req: func.HttpRequest) -> str:
    """Whom the per-address limits count this request as (shared.limits.client_address says
    which X-Forwarded-For entry, and why that one). Never log it."""
    from shared.limits.client_address import client_address as address_of

    return address_of(req.headers.get("x-forwarded-for"))


def limit_address(req: func.HttpRequest, action: Action) -> None:
    """Counts this request against the per-instance limit of its client address: raises
    LimitReached (429) past it. In memory: no round trip."""
    services().request_limits.check_address(action, client_address(req))


def limit_user(user_id: str, action: Action) -> None:
    """Counts this request against the account's per-instance limit (if `action` has one)."""
    services().request_limits.check_user(action, user_id)


def cookie_name() -> str:
    return SECURE_COOKIE_NAME if services().settings.secure_cookies else COOKIE_NAME


def request_cookie(req: func.HttpRequest, name: str) -> str | None:
    """The value of one cookie the browser sent, or None (absent, or a header that does not
    parse: no cookie can be trusted from it)."""
    header = req.headers.get("cookie")
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def session_token(req: func.HttpRequest) -> str | None:
    return request_cookie(req, cookie_name())


def require_session(req: func.HttpRequest) -> Session:
    token = session_token(req)
    session = services().sessions.resolve(token) if token else None
    if session is None:
        raise NotSignedIn("Sign in first: this needs a session, and yours is missing or expired.")
    return session


def require_fresh_session(req: func.HttpRequest) -> Session:
    """The live session of a request for a dangerous action (deleting the account, changing
    the caller ID, an export): its sign-in must be at most REAUTH_MAX_AGE_SECONDS old, else
    ReauthRequired (401, code reauth_required)."""
    session = require_session(req)
    services().sessions.require_fresh(session)
    return session


def start_session(
    req: func.HttpRequest, user_id: str, *, signed_in_at: datetime | None = None
) -> tuple[Session, str]:
    """Starts a session for a user who has just signed in, and returns it with the value of
    the Set-Cookie header that hands it to the browser. Only the device family of the
    request's User-Agent is kept; signed_in_at is when the person proved who they are (an ID
    token's auth_time), by default now."""
    sessions = services().sessions
    previous = session_token(req)
    if previous:
        # Signing in again in this browser ends the session it held: on a shared computer the
        # last person's session must not live on with nobody holding its cookie.
        sessions.end(previous)
    token, session = sessions.start(
        user_id, user_agent=req.headers.get("user-agent"), signed_in_at=signed_in_at
    )
    return session, session_cookie(token, session.absolute_seconds_left(session.created_at))


def require_same_origin(req: func.HttpRequest) -> None:
    """State-changing requests from a browser must come from our own pages."""
    origin = req.headers.get("origin")
    if origin is not None:
        if origin != services().settings.public_origin:
            raise Forbidden(f"Requests from {origin[:100]} may not change anything here.")
        return
    if req.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise Forbidden("Requests from another site may not change anything here.")


def session_cookie(token: str, max_age: int) -> str:
    """The Set-Cookie value for a session cookie: no Domain, so only this host gets it."""
    secure = services().settings.secure_cookies
    parts = [f"{cookie_name()}={token}", "Path=/", "HttpOnly", "SameSite=Lax", f"Max-Age={max_age}"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def cleared_session_cookie() -> str:
    """The Set-Cookie value that makes the browser drop its session cookie."""
    return session_cookie("", 0)


def twilio_webhook(req: func.HttpRequest) -> dict[str, str]:
    """The form of a request Twilio signed for the URL it was given (SignatureInvalid if not).

    Only the path and raw query come from the request; PUBLIC_BASE_URL supplies the rest.
    """
    from shared.telephony.signature import SIGNATURE_HEADER, verified_webhook

    url = urlsplit(req.url)
    return verified_webhook(
        services().settings,
        url.path,
        url.query,
        req.get_body() or b"",
        req.headers.get(SIGNATURE_HEADER.lower()),
    )


def twiml_response(xml: str) -> func.HttpResponse:
    from shared.telephony.twiml import TWIML_CONTENT_TYPE

    return func.HttpResponse(
        xml, status_code=200, headers={"Cache-Control": "no-store"}, mimetype=TWIML_CONTENT_TYPE
    )

"""Every operation of the public API, one entry each: who may call it, what it takes, what it
answers. document.py turns an entry into OpenAPI, adding the answers its access implies (401,
403 from another origin, 429, 503): a new limit or error is one line here."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from shared.api_contract.schemas import STRING, Schema, ref
from shared.telephony.webhook_paths import (
    CALLER_ID_STATUS_PATH,
    DIAL_ACTION_PATH,
    STATUS_CALLBACK_PATH,
    VOICE_PATH,
)


class Access(Enum):
    PUBLIC = "public"  # anyone, no session
    SESSION = "session"  # a live session cookie
    FRESH_SESSION = "fresh session"  # one whose sign-in is at most REAUTH_MAX_AGE_SECONDS old
    SESSION_OPTIONAL = "session optional"  # ends the session it is sent with, if any
    TWILIO = "Twilio signature"  # X-Twilio-Signature over our public URL and the form
    STRIPE = "Stripe signature"  # Stripe-Signature over the raw body
    SANDBOX = "sandbox only"  # the dev sign-in: 404 outside the local sandbox


AUTHENTICATED = (Access.SESSION, Access.FRESH_SESSION)


@dataclass(frozen=True)
class Body:
    schema: Schema
    media_type: str = "application/json"
    required: bool = True


@dataclass(frozen=True)
class Answer:
    """A success (or, for the sign-in pages, any) answer the operation itself gives."""

    description: str
    schema: Schema | None = None
    media_type: str = "application/json"
    headers: tuple[str, ...] = ()  # names of components/headers


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    access: Access
    answers: dict[int, Answer]
    # Problems it answers beyond those its access implies, with what they mean here.
    problems: dict[int, str] = field(default_factory=dict)
    changes_state: bool = False  # a browser's request must come from our origin
    parameters: tuple[dict[str, Any], ...] = ()
    body: Body | None = None
    # Set for Twilio's and Stripe's webhooks: their name under the document's `webhooks`.
    webhook: str | None = None
    # Pages for people (the sign-in flow) answer HTML, never problem+json.
    pages: bool = False
    uses_storage: bool = True


def query(name: str, schema: Schema, description: str, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


def limit(default: int, high: int) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": 1, "maximum": high, "default": default}
    return query("limit", schema, f"Rows per page, 1 to {high}.")


CONTINUATION = query(
    "continuation",
    {"type": "string", "maxLength": 2048},
    "The `continuation` of the previous page, as it was given: bound to the account that was "
    "given it; any other is a 400.",
)
TWIML = Answer("TwiML for Twilio.", {"type": "string"}, "text/xml")
TWIML_EMPTY = Answer("`<Response/>`: nothing more to do.", {"type": "string"}, "text/xml")
HTML_PAGE = Answer("A page saying what happened, with a link to try again.", STRING, "text/html")
HTML_RETRY_PAGE = Answer(
    "A page saying the service is unavailable, with a link to try again.",
    STRING,
    "text/html",
    ("Retry-After",),
)
NOT_A_CALL_OF_OURS = (
    "Signed by Twilio with the rest of the URL: who and which call this is about, put there by "
    "/api/voice. A forged combination fails the signature."
)


def json(description: str, schema_name: str, **kwargs: Any) -> Answer:
    return Answer(description, ref(schema_name), **kwargs)


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "get",
        "/api/health",
        "health",
        "Is the app up, and can it reach its storage?",
        Access.PUBLIC,
        {200: json("Up, storage reachable.", "Health")},
    ),
    Operation(
        "get",
        "/api/openapi.json",
        "openapi",
        "This document: the API's contract.",
        Access.PUBLIC,
        {200: Answer("The OpenAPI 3.1 document.", {"type": "object"})},
        uses_storage=False,
    ),
    Operation(
        "get",
        "/api/config",
        "config",
        "The public settings a page needs before anyone signs in.",
        Access.PUBLIC,
        {200: json("The settings.", "Config")},
    ),
    Operation(
        "get",
        "/api/countries",
        "countries",
        "The countries a call can go to.",
        Access.PUBLIC,
        {200: json("Sorted by region; cacheable for an hour.", "Countries")},
    ),
    Operation(
        "get",
        "/api/privacy/records",
        "privacyRecords",
        "The record of processing (GDPR Art. 30), from the privacy registry.",
        Access.PUBLIC,
        {200: json("The record; cacheable for an hour.", "RecordOfProcessing")},
    ),
    Operation(
        "get",
        "/api/privacy/cookies",
        "privacyCookies",
        "Every cookie and browser-storage item.",
        Access.PUBLIC,
        {200: json("The registry's cookies.", "Cookies")},
        uses_storage=False,
    ),
    Operation(
        "get",
        "/api/auth/login",
        "signIn",
        "Starts a sign-in through Entra External ID (a browser is sent here).",
        Access.PUBLIC,
        {
            302: Answer("To the identity provider, with the flow's state cookie.", None),
            400: HTML_PAGE,
            404: Answer(
                "Sign-in through Entra is not configured (the sandbox).", STRING, "text/html"
            ),
            500: HTML_PAGE,
            503: HTML_RETRY_PAGE,
        },
        parameters=(
            query("returnTo", STRING, "A path of this site to come back to."),
            query("prompt", {"enum": ["select_account", "login"]}, "What the provider asks."),
        ),
        pages=True,
    ),
    Operation(
        "get",
        "/api/auth/callback",
        "signInCallback",
        "Where the identity provider sends the browser back.",
        Access.PUBLIC,
        {
            302: Answer("To returnTo, with the session cookie.", None),
            400: HTML_PAGE,
            401: HTML_PAGE,
            403: HTML_PAGE,
            404: Answer(
                "Sign-in through Entra is not configured (the sandbox).", STRING, "text/html"
            ),
            500: HTML_PAGE,
            503: HTML_RETRY_PAGE,
        },
        parameters=(
            query("code", STRING, "The provider's authorization code."),
            query("state", STRING, "The flow's state; must match this browser's state cookie."),
        ),
        pages=True,
    ),
    Operation(
        "post",
        "/api/auth/dev-login",
        "devLogin",
        "The sandbox's sign-in with any email, no password. Outside the local sandbox (or "
        "addressed to anything but loopback) it does not exist: 404.",
        Access.SANDBOX,
        {
            200: json(
                "Signed in; the session cookie is set.", "DevSignedIn", headers=("Set-Cookie",)
            )
        },
        problems={
            400: "A bad email or body.",
            404: "Not the sandbox.",
            429: "Too many sign-ins; retry after `Retry-After` seconds.",
        },
        changes_state=True,
        body=Body(ref("DevLogin")),
    ),
    Operation(
        "post",
        "/api/auth/logout",
        "logout",
        "Ends this browser's session (its Twilio tokens place no more calls) and clears its "
        "cookie; without a session it only clears the cookie.",
        Access.SESSION_OPTIONAL,
        {200: json("Signed out.", "SignedOut", headers=("Set-Cookie",))},
        changes_state=True,
    ),
    Operation(
        "post",
        "/api/auth/logout-all",
        "logoutEverywhere",
        "Ends every session of the user, on every device.",
        Access.SESSION,
        {200: json("Signed out everywhere.", "SignedOutEverywhere", headers=("Set-Cookie",))},
        changes_state=True,
    ),
    Operation(
        "get",
        "/api/me",
        "me",
        "The signed-in user's profile and balance.",
        Access.SESSION,
        {200: json("The profile.", "Me")},
    ),
    Operation(
        "patch",
        "/api/me",
        "correctMe",
        "Corrects the name and contact email (GDPR Art. 16).",
        Access.SESSION,
        {200: json("The profile, corrected.", "Me")},
        problems={400: "A bad value, another field, or an empty body."},
        changes_state=True,
        body=Body(ref("MeCorrection")),
    ),
    Operation(
        "delete",
        "/api/me",
        "deleteMe",
        "Deletes the account (GDPR Art. 17): erases what may go, pseudonymises what accounting "
        "law keeps, and signs the browser out.",
        Access.FRESH_SESSION,
        {200: json("What was erased and kept.", "DeletionSummary", headers=("Set-Cookie",))},
        problems={
            400: "The confirmation is not DELETE.",
            409: 'A call is up (`"code":"call_in_progress"`); nothing changed.',
        },
        changes_state=True,
        body=Body(ref("DeletionConfirmation")),
    ),
    Operation(
        "get",
        "/api/me/export",
        "exportMe",
        "Everything stored about the user, as a ZIP (GDPR Art. 15 and 20).",
        Access.FRESH_SESSION,
        {
            200: Answer(
                "The archive.",
                {"type": "string", "contentMediaType": "application/zip"},
                "application/zip",
                ("Content-Disposition",),
            )
        },
    ),
    Operation(
        "get",
        "/api/me/sessions",
        "sessions",
        "The user's live sessions, most recently seen first.",
        Access.SESSION,
        {200: json("The sessions.", "Sessions")},
    ),
    Operation(
        "delete",
        "/api/me/sessions/{id}",
        "endSession",
        "Ends one of the user's sessions and its Twilio tokens; ending the current one signs out.",
        Access.SESSION,
        {200: json("Ended.", "SessionEnded", headers=("Set-Cookie",))},
        problems={404: "Not one of the user's sessions."},
        changes_state=True,
        parameters=(
            {
                "name": "id",
                "in": "path",
                "required": True,
                "schema": STRING,
                "description": "A session id from GET /api/me/sessions.",
            },
        ),
    ),
    Operation(
        "get",
        "/api/me/consent",
        "consent",
        "The user's choice about browser analytics (Sec-GPC: 1 reads as a refusal).",
        Access.SESSION,
        {200: json("The newest choice.", "Consent")},
    ),
    Operation(
        "put",
        "/api/me/consent",
        "changeConsent",
        "Records a choice about browser analytics (under Sec-GPC: 1, a refusal).",
        Access.SESSION,
        {200: json("The stored choice.", "Consent")},
        problems={400: "A body that is not a choice."},
        changes_state=True,
        body=Body(ref("ConsentChoice")),
    ),
    Operation(
        "get",
        "/api/balance",
        "balance",
        "The balance.",
        Access.SESSION,
        {200: json("The balance.", "Balance")},
    ),
    Operation(
        "get",
        "/api/ledger",
        "ledger",
        "The ledger, newest first, page by page.",
        Access.SESSION,
        {200: json("One page.", "LedgerPage")},
        problems={400: "A bad limit or continuation."},
        parameters=(limit(50, 200), CONTINUATION),
    ),
    Operation(
        "get",
        "/api/calls",
        "calls",
        "The calls, newest first, page by page.",
        Access.SESSION,
        {200: json("One page.", "CallsPage")},
        problems={400: "A bad limit or continuation."},
        parameters=(limit(20, 100), CONTINUATION),
    ),
    Operation(
        "get",
        "/api/payments",
        "payments",
        "The user's payments from our own records, newest first.",
        Access.SESSION,
        {200: json("The payments.", "Payments")},
        problems={400: "A bad limit."},
        parameters=(limit(10, 50),),
    ),
    Operation(
        "post",
        "/api/token",
        "token",
        "A Twilio access token for placing calls, bound to this session.",
        Access.SESSION,
        {200: json("The token.", "Token")},
        problems={400: "A bad ttl or body."},
        changes_state=True,
        body=Body(ref("TokenRequest"), required=False),
    ),
    Operation(
        "get",
        "/api/rates",
        "rates",
        "What calling a number costs, and how long the balance lasts.",
        Access.SESSION,
        {200: json("The price, or why the call is not possible.", "Rates")},
        problems={400: "No `to`, one over 256 characters, or a `country` with no numbering plan."},
        parameters=(
            query("to", {"type": "string", "maxLength": 256}, "The number as typed.", True),
            query("country", STRING, "ISO 3166 alpha-2: whose national numbers `to` may be."),
        ),
    ),
    Operation(
        "post",
        "/api/checkout",
        "startCheckout",
        "Starts a Stripe Checkout for a credit pack.",
        Access.SESSION,
        {200: json("Where to send the browser.", "CheckoutStarted")},
        problems={
            400: "An unknown pack or a bad body.",
            403: "A payment of the account is disputed, or the account is being deleted.",
            502: "Stripe refused.",
        },
        changes_state=True,
        body=Body(ref("CheckoutRequest")),
    ),
    Operation(
        "get",
        "/api/checkout/{session_id}",
        "checkout",
        "How one of the user's checkouts went, from our own records.",
        Access.SESSION,
        {200: json("The checkout.", "CheckoutStatus")},
        problems={404: "Not one of the user's checkouts."},
        parameters=(
            {
                "name": "session_id",
                "in": "path",
                "required": True,
                "schema": STRING,
                "description": "A Checkout Session id from POST /api/checkout.",
            },
        ),
    ),
    Operation(
        "get",
        "/api/me/caller-id",
        "callerId",
        "The user's own number as caller ID.",
        Access.SESSION,
        {200: json("Its state.", "CallerId")},
    ),
    Operation(
        "post",
        "/api/me/caller-id",
        "startCallerId",
        "Starts verifying the user's own number: Twilio calls it, the user types the code.",
        Access.FRESH_SESSION,
        {202: json("Pending, with the code to type.", "CallerId")},
        problems={
            400: "A number that cannot be verified for this account.",
            409: "A verification is pending, or a number is verified.",
        },
        changes_state=True,
        body=Body(ref("CallerIdRequest")),
    ),
    Operation(
        "delete",
        "/api/me/caller-id",
        "removeCallerId",
        "Removes the user's own number, at Twilio and here.",
        Access.SESSION,
        {200: json("State none.", "CallerId")},
        changes_state=True,
    ),
    Operation(
        "post",
        VOICE_PATH,
        "voice",
        "Twilio's voice webhook (the TwiML App's voice URL): a <Dial> bounded by what the "
        "balance pays for, or <Say> why not and <Hangup/>. Only for a `From` of "
        "`client:<identity>` whose session is still live.",
        Access.TWILIO,
        {200: TWIML},
        problems={400: "A signed request without a CallSid."},
        body=Body(ref("TwilioVoiceRequest"), "application/x-www-form-urlencoded"),
        webhook="twilioVoice",
    ),
    Operation(
        "post",
        STATUS_CALLBACK_PATH,
        "callStatus",
        "The dialled leg's status callbacks; the final one settles the call once.",
        Access.TWILIO,
        {200: TWIML_EMPTY},
        problems={409: "A settlement reusing an applied charge's id with another amount."},
        parameters=(
            query("user", STRING, NOT_A_CALL_OF_OURS, True),
            query("call", STRING, "The parent CallSid. " + NOT_A_CALL_OF_OURS, True),
        ),
        body=Body(ref("TwilioStatusCallback"), "application/x-www-form-urlencoded"),
        webhook="twilioCallStatus",
    ),
    Operation(
        "post",
        DIAL_ACTION_PATH,
        "dialAction",
        "The <Dial action> request: settles a dial that failed before any status callback.",
        Access.TWILIO,
        {200: Answer("`<Hangup/>`.", {"type": "string"}, "text/xml")},
        problems={409: "A settlement reusing an applied charge's id with another amount."},
        parameters=(
            query("user", STRING, NOT_A_CALL_OF_OURS, True),
            query("call", STRING, "The parent CallSid. " + NOT_A_CALL_OF_OURS, True),
        ),
        body=Body(ref("TwilioDialAction"), "application/x-www-form-urlencoded"),
        webhook="twilioDialAction",
    ),
    Operation(
        "post",
        CALLER_ID_STATUS_PATH,
        "callerIdStatus",
        "Twilio's caller-ID validation status callback.",
        Access.TWILIO,
        {200: TWIML_EMPTY},
        parameters=(
            query("u", STRING, "The user. Signed by Twilio with the rest of the URL.", True),
            query("a", STRING, "The attempt. Signed by Twilio with the rest of the URL.", True),
        ),
        body=Body(ref("TwilioValidationStatus"), "application/x-www-form-urlencoded"),
        webhook="twilioCallerIdStatus",
    ),
    Operation(
        "post",
        "/api/stripe/webhook",
        "stripeWebhook",
        "Stripe's signed events, applied to the ledger exactly once.",
        Access.STRIPE,
        {200: json("Received.", "StripeReceipt")},
        problems={
            400: "A signed event with a figure Stripe never sends; nothing changes.",
            409: "An event reusing the id of an applied one with another amount.",
        },
        body=Body(ref("StripeEvent")),
        webhook="stripeEvent",
    ),
)

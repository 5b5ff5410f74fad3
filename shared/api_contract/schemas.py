"""JSON Schemas (2020-12, as OpenAPI 3.1 has them) of what the API takes and answers, and the
responses many operations share. Each schema is what the code really sends: a field the code
may leave null is nullable here, and objects are closed (additionalProperties false) so that a
field added to an answer and not here fails the contract tests."""

from __future__ import annotations

from typing import Any

from shared.credit.outcome import Outcome
from shared.credit.payment_records import PaymentStatus
from shared.money.ledger import EntryKind

Schema = dict[str, Any]

# The session cookie's names (functions/_edge.py): on https the __Host- one; on plain-http
# loopback, where a __Host- cookie cannot be had, the sandbox's. A unit test keeps them equal.
SESSION_COOKIE = "__Host-session"
SANDBOX_SESSION_COOKIE = "ownnumber_session"

STRING: Schema = {"type": "string"}
NULLABLE_STRING: Schema = {"type": ["string", "null"]}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
EMAIL: Schema = {"type": "string", "format": "email"}
TIME: Schema = {"type": "string", "format": "date-time"}
NULLABLE_TIME: Schema = {"type": ["string", "null"], "format": "date-time"}
# An amount written out for people, "-0.01875 USD": the micros beside it are the figure.
AMOUNT: Schema = {"type": "string", "description": "The amount with its currency, for people."}


def closed(properties: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    """An object with exactly these fields, each of them always sent unless optional."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }


def array_of(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(name: str) -> Schema:
    return {"oneOf": [ref(name), {"type": "null"}]}


CARD = closed({"brand": STRING, "last4": STRING})

BALANCE_FIELDS: dict[str, Schema] = {
    "balance_micros": INTEGER,
    "balance": AMOUNT,
    "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
    "flags": {
        **array_of(STRING),
        "description": "Account states the dialer warns about: payment_disputed, account_closing.",
    },
}

CALLER_ID_VIEW = closed(
    {
        "state": {"enum": ["none", "pending", "verified", "failed"]},
        "number": NULLABLE_STRING,
        "formatted": NULLABLE_STRING,
        "code": {**NULLABLE_STRING, "description": "The 6 digits to type, while pending only."},
        "reason": {**NULLABLE_STRING, "description": "Why, when failed only."},
    }
)

SCHEMAS: dict[str, Schema] = {
    "Problem": {
        **closed(
            {
                "type": {"type": "string", "const": "about:blank"},
                "title": STRING,
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {**STRING, "description": "A sentence for people."},
                "code": {
                    "enum": ["reauth_required", "call_in_progress"],
                    "description": "For machines, where a client must act on which problem it is.",
                },
            },
            optional=("code",),
        ),
        "description": "RFC 9457 problem details, as functions/_edge.py `problem` sends them.",
    },
    "Card": CARD,
    "Balance": closed(BALANCE_FIELDS),
    "Me": closed(
        {
            "user_id": STRING,
            "email": STRING,
            "name": {**STRING, "description": '"" when the identity provider did not say.'},
            "email_verified": {"type": ["boolean", "null"]},
            "created_at": TIME,
            **BALANCE_FIELDS,
        }
    ),
    "MeCorrection": {
        **closed(
            {"name": {"type": "string", "minLength": 1, "maxLength": 100}, "email": EMAIL},
            optional=("name", "email"),
        ),
        "minProperties": 1,
    },
    "DeletionConfirmation": closed(
        {"confirm": {**STRING, "description": 'Type "DELETE" (any case).'}}
    ),
    "DeletionSummary": closed(
        {
            "deleted": {"type": "boolean", "const": True},
            "already_deleted": BOOLEAN,
            "erased": array_of(closed({"kind": STRING, "title": STRING, "count": INTEGER})),
            "kept": array_of(
                closed(
                    {
                        "kind": STRING,
                        "title": STRING,
                        "count": INTEGER,
                        "why": STRING,
                        "kept_until": {"type": ["string", "null"], "format": "date"},
                    }
                )
            ),
            "twilio_call_logs": closed({"deleted": BOOLEAN, "count": INTEGER}),
        }
    ),
    "LedgerPage": closed(
        {
            "entries": array_of(
                closed(
                    {
                        "id": STRING,
                        "kind": {"enum": [kind.value for kind in EntryKind]},
                        "amount_micros": INTEGER,
                        "amount": AMOUNT,
                        "balance_after_micros": INTEGER,
                        "balance_after": AMOUNT,
                        "created_at": TIME,
                        "details": {"type": "object", "description": "The event's own facts."},
                        "call": {
                            "oneOf": [
                                closed(
                                    {
                                        "to": STRING,
                                        "formatted": STRING,
                                        "duration_seconds": INTEGER,
                                        "billed_seconds": INTEGER,
                                        "destination": STRING,
                                        "country": STRING,
                                    }
                                ),
                                {"type": "null"},
                            ]
                        },
                        "card": nullable("Card"),
                    }
                )
            ),
            "continuation": NULLABLE_STRING,
        }
    ),
    "CallsPage": closed(
        {
            "calls": array_of(
                closed(
                    {
                        "call_sid": STRING,
                        "to": STRING,
                        "formatted": STRING,
                        "country": STRING,
                        "destination": STRING,
                        "status": STRING,
                        "settled": BOOLEAN,
                        "started_at": TIME,
                        "answered_at": NULLABLE_TIME,
                        "ended_at": NULLABLE_TIME,
                        "max_seconds": INTEGER,
                        "duration_seconds": INTEGER,
                        "billed_seconds": INTEGER,
                        "charge_micros": INTEGER,
                        "charge": AMOUNT,
                        "per_minute_micros": INTEGER,
                        "per_minute": AMOUNT,
                        "increments": STRING,
                    }
                )
            ),
            "continuation": NULLABLE_STRING,
        }
    ),
    "Payments": closed(
        {
            "payments": array_of(
                closed(
                    {
                        "payment_intent": STRING,
                        "status": {"enum": [status.value for status in PaymentStatus]},
                        "pack": STRING,
                        "amount": AMOUNT,
                        "amount_micros": INTEGER,
                        "credit": AMOUNT,
                        "credit_micros": INTEGER,
                        "card": nullable("Card"),
                        "created_at": NULLABLE_TIME,
                    }
                )
            )
        }
    ),
    "CheckoutRequest": closed(
        {
            "pack": {**STRING, "minLength": 1, "maxLength": 20, "description": "A pack id."},
            "nonce": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_-]{8,64}$",
                "description": "Made once per page view: its requests share one Checkout.",
            },
        },
        optional=("nonce",),
    ),
    "CheckoutStarted": closed({"url": {"type": "string", "format": "uri"}, "session_id": STRING}),
    "CheckoutStatus": closed(
        {
            "session_id": STRING,
            "status": {"enum": ["open", *(status.value for status in PaymentStatus)]},
            "pack": STRING,
            "amount": AMOUNT,
            "credit_micros": INTEGER,
            "credit": AMOUNT,
            "card": nullable("Card"),
            "balance_micros": INTEGER,
            "balance": AMOUNT,
        }
    ),
    "TokenRequest": closed(
        {"ttl": {"type": "integer", "minimum": 60, "maximum": 86400}}, optional=("ttl",)
    ),
    "Token": closed(
        {
            "token": {**STRING, "description": "A Twilio access token (JWT) with a VoiceGrant."},
            "identity": {**STRING, "description": "<user id>_<session id>"},
            "expires_at": TIME,
            "ttl_seconds": {"type": "integer", "minimum": 1},
        }
    ),
    "Rates": closed(
        {
            "to": {**STRING, "description": "The number as it was asked about."},
            "e164": NULLABLE_STRING,
            "formatted": NULLABLE_STRING,
            "national": NULLABLE_STRING,
            "country": NULLABLE_STRING,
            "number_type": NULLABLE_STRING,
            "description": NULLABLE_STRING,
            "per_minute_micros": {"type": ["integer", "null"]},
            "per_minute": NULLABLE_STRING,
            "increments": NULLABLE_STRING,
            "connect_fee_micros": {"type": ["integer", "null"]},
            "connect_fee": NULLABLE_STRING,
            "currency": STRING,
            "balance_micros": INTEGER,
            "max_seconds": {"type": "integer", "minimum": 0},
            "allowed": BOOLEAN,
            "reason": {**NULLABLE_STRING, "description": "Why not, for people."},
            "code": {
                **NULLABLE_STRING,
                "description": "Why not, for machines: invalid_number, emergency, premium_rate, "
                "shared_cost, high_risk_type, blocked_country, blocked_prefix, not_priced, "
                "account_on_hold, account_closing, negative_balance, insufficient_credit.",
            },
        }
    ),
    "Countries": closed(
        {
            "countries": array_of(
                closed(
                    {
                        "region": {"type": "string", "pattern": "^[A-Z]{2}$"},
                        "calling_code": INTEGER,
                        "example": NULLABLE_STRING,
                    }
                )
            )
        }
    ),
    "Config": closed(
        {
            "mode": {"enum": ["production", "sandbox"]},
            "currency": STRING,
            "credit_packs": array_of(
                closed(
                    {
                        "id": STRING,
                        "price_micros": INTEGER,
                        "credit_micros": INTEGER,
                        "price": AMOUNT,
                        "credit": AMOUNT,
                    }
                )
            ),
            "sign_in": {"enum": ["dev", "entra"]},
            "support_email": NULLABLE_STRING,
            "low_balance_minutes": INTEGER,
            "voice_edges": array_of(STRING),
            "analytics_connection_string": NULLABLE_STRING,
            "policy_version": STRING,
        }
    ),
    "Health": closed({"status": {"const": "ok"}, "storage": {"const": "ok"}}),
    "Cookie": closed(
        {
            "name": STRING,
            "set_by": STRING,
            "storage": {"enum": ["cookie", "localStorage"]},
            "necessary": BOOLEAN,
            "purpose": STRING,
            "lifetime": STRING,
        }
    ),
    "Cookies": closed({"cookies": array_of(ref("Cookie"))}),
    "RecordOfProcessing": closed(
        {
            "schema": {"const": "ownnumber.records/1"},
            "policy_version": STRING,
            "controller": closed({"name": STRING, "contact": NULLABLE_STRING}),
            "categories": array_of(
                closed(
                    {
                        "category": STRING,
                        "records": array_of(
                            closed(
                                {
                                    "name": STRING,
                                    "title": STRING,
                                    "purpose": STRING,
                                    "basis": STRING,
                                    "retention": STRING,
                                    "fields": array_of(closed({"name": STRING, "holds": STRING})),
                                    "export": STRING,
                                    "deletion": {"enum": ["erase", "pseudonymise", "expires"]},
                                    "deletion_note": STRING,
                                    "where": STRING,
                                }
                            )
                        ),
                    }
                )
            ),
            "processors": array_of(
                closed(
                    {
                        "name": STRING,
                        "service": STRING,
                        "role": STRING,
                        "data": STRING,
                        "location": STRING,
                        "safeguard": STRING,
                        "how_to_ask": STRING,
                    }
                )
            ),
            "transfers": array_of(closed({"to": STRING, "where": STRING, "safeguard": STRING})),
            "cookies": array_of(ref("Cookie")),
        }
    ),
    "Consent": closed(
        {
            "analytics": BOOLEAN,
            "gpc": BOOLEAN,
            "policy_version": STRING,
            "changed_at": NULLABLE_TIME,
            "source": {"enum": ["banner", "account", None]},
        }
    ),
    "ConsentChoice": closed(
        {"analytics": BOOLEAN, "source": {"enum": ["banner", "account"]}},
    ),
    "Sessions": closed(
        {
            "sessions": array_of(
                closed(
                    {
                        "id": STRING,
                        "device": {**STRING, "description": '"Firefox on Windows", say.'},
                        "created_at": TIME,
                        "last_seen_at": TIME,
                        "signed_in_at": TIME,
                        "expires_at": TIME,
                        "current": BOOLEAN,
                    }
                )
            )
        }
    ),
    "SessionEnded": closed({"id": STRING, "current": BOOLEAN, "signed_in": BOOLEAN}),
    "SignedOut": closed({"signed_in": {"const": False}}),
    "SignedOutEverywhere": closed(
        {"signed_in": {"const": False}, "sessions_ended": {"type": "integer", "minimum": 0}}
    ),
    "DevLogin": closed({"email": {**EMAIL, "maxLength": 320}}),
    "DevSignedIn": closed({"user_id": STRING, "email": STRING}),
    "CallerId": CALLER_ID_VIEW,
    "CallerIdRequest": closed({"number": {**STRING, "maxLength": 64}}),
    "StripeReceipt": closed(
        {
            "received": {"const": True},
            "outcome": {"enum": [outcome.value for outcome in Outcome]},
        }
    ),
    "StripeEvent": {
        "type": "object",
        "description": "A Stripe event as Stripe sends it: the signature covers its raw bytes.",
        "properties": {"id": STRING, "type": STRING, "data": {"type": "object"}},
    },
    "TwilioVoiceRequest": {
        "type": "object",
        "description": "Twilio's voice webhook for a call placed by the Voice SDK.",
        "properties": {
            "AccountSid": STRING,
            "ApplicationSid": STRING,
            "CallSid": STRING,
            "From": {**STRING, "description": "client:<identity of the access token>"},
            "To": {**STRING, "description": "The number to dial, E.164."},
            "CallerId": {"enum": ["own", "service"], "description": "Which number to show."},
        },
        "required": ["AccountSid", "CallSid", "From", "To"],
    },
    "TwilioStatusCallback": {
        "type": "object",
        "description": "A <Number> status callback of the dialled leg.",
        "properties": {
            "AccountSid": STRING,
            "CallSid": STRING,
            "ParentCallSid": STRING,
            "CallStatus": STRING,
            "SequenceNumber": STRING,
            "CallDuration": STRING,
            "Timestamp": STRING,
        },
        "required": ["AccountSid", "CallSid", "CallStatus"],
    },
    "TwilioDialAction": {
        "type": "object",
        "description": "The <Dial action> request, when the dial ends.",
        "properties": {
            "AccountSid": STRING,
            "CallSid": STRING,
            "DialCallStatus": STRING,
            "DialCallSid": STRING,
            "DialCallDuration": STRING,
        },
        "required": ["AccountSid", "CallSid"],
    },
    "TwilioValidationStatus": {
        "type": "object",
        "description": "Twilio's caller-ID validation status callback.",
        "properties": {
            "AccountSid": STRING,
            "CallSid": STRING,
            "VerificationStatus": {"enum": ["success", "failed"]},
            "OutgoingCallerIdSid": STRING,
            "PhoneNumber": STRING,
        },
        "required": ["AccountSid", "VerificationStatus"],
    },
}

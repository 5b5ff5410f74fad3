"""Wiring in one place: builds each dependency from the settings the first time it is needed.

Nothing is created at import time, and nothing is even imported before it is needed: each
property imports the module it builds from. So a cold start pays only for what its first
request uses: a token mint loads the table store and Twilio's JWT code, never the rate deck,
phonenumbers or the Stripe SDK.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from shared.config import Settings, get_settings
from shared.storage.keys import (
    ACCOUNTS_TABLE,
    CALLER_ID_OWNERS_TABLE,
    IDENTITIES_TABLE,
    LIMITS_TABLE,
    OPEN_CALLS_TABLE,
    PAYMENTS_TABLE,
    SIGN_IN_FLOWS_TABLE,
)

if TYPE_CHECKING:
    from shared.callerid.caller_ids import CallerIds
    from shared.calling.calls import Calls
    from shared.calling.pricing import Pricing
    from shared.credit.payments import Payments
    from shared.credit.stripe_gateway import StripeGateway
    from shared.identity.accounts import Accounts
    from shared.identity.sessions import Sessions
    from shared.identity.sign_in import SignIn
    from shared.limits.requests import RequestLimits
    from shared.money.ledger import Ledger
    from shared.privacy.consent import Consents
    from shared.privacy.erasure import Erasure
    from shared.privacy.export import Exporter
    from shared.privacy.retention import Retention, UnfinishedErasures
    from shared.statement.ledger_lines import Statement
    from shared.storage.table_store import TableStore
    from shared.telephony.calls_api import TwilioCallsApi


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def store(self) -> TableStore:
        from shared.privacy.guard import check_write
        from shared.storage.table_store import TableStore

        return TableStore(self.settings.storage_connection_string, write_check=check_write)

    @cached_property
    def ledger(self) -> Ledger:
        from shared.money.ledger import Ledger

        return Ledger(self.store.table(ACCOUNTS_TABLE))

    @cached_property
    def statement(self) -> Statement:
        from shared.statement.ledger_lines import Statement

        return Statement(self.ledger, self.store.table(ACCOUNTS_TABLE))

    @cached_property
    def accounts(self) -> Accounts:
        from shared.identity.accounts import Accounts

        return Accounts(self.store.table(ACCOUNTS_TABLE), self.store.table(IDENTITIES_TABLE))

    @cached_property
    def consents(self) -> Consents:
        from shared.privacy.consent import Consents

        return Consents(self.store.table(ACCOUNTS_TABLE))

    @cached_property
    def sessions(self) -> Sessions:
        from shared.identity.sessions import Sessions

        lifetimes = self.settings.sessions
        return Sessions(
            self.store.table(ACCOUNTS_TABLE),
            absolute=timedelta(seconds=lifetimes.absolute_seconds),
            idle=timedelta(seconds=lifetimes.idle_seconds),
            reauth_max_age=timedelta(seconds=lifetimes.reauth_max_age_seconds),
        )

    @cached_property
    def sign_in(self) -> SignIn:
        """Sign-in through Entra External ID: SignInNotConfigured without AUTH_* settings (the
        sandbox's default, which signs in with its dev login instead)."""
        from shared.identity.entra import EntraSignIn
        from shared.identity.errors import SignInNotConfigured
        from shared.identity.sign_in import CALLBACK_PATH, SignIn
        from shared.identity.sign_in_flows import SignInFlows

        if self.settings.auth is None:
            raise SignInNotConfigured()
        return SignIn(
            provider=EntraSignIn(self.settings.auth),
            flows=SignInFlows(self.store.table(SIGN_IN_FLOWS_TABLE)),
            accounts=self.accounts,
            redirect_uri=self.settings.public_base_url + CALLBACK_PATH,
        )

    @cached_property
    def pricing(self) -> Pricing:
        from shared.calling.pricing import Pricing

        return Pricing.from_settings(self.settings.calling)

    @cached_property
    def calls(self) -> Calls:
        from shared.calling.calls import Calls
        from shared.calling.open_calls import OpenCalls

        return Calls(
            self.store.table(ACCOUNTS_TABLE),
            OpenCalls(self.store.table(OPEN_CALLS_TABLE)),
            self.ledger,
            self.settings.currency,
            timedelta(seconds=self.settings.calling.reconcile_margin_seconds),
            velocity=self.settings.limits,
        )

    @cached_property
    def request_limits(self) -> RequestLimits:
        from shared.limits.requests import RequestLimits

        return RequestLimits(self.settings.limits)

    @cached_property
    def twilio_calls_api(self) -> TwilioCallsApi:
        from shared.telephony.calls_api import TwilioCallsApi

        return TwilioCallsApi(self.settings.twilio)

    @cached_property
    def caller_ids(self) -> CallerIds:
        from shared.callerid.caller_ids import CallerIds
        from shared.telephony.caller_ids_api import TwilioCallerIdsApi
        from shared.telephony.webhook_paths import caller_id_status_url

        base = self.settings.public_base_url
        return CallerIds(
            accounts=self.store.table(ACCOUNTS_TABLE),
            owners=self.store.table(CALLER_ID_OWNERS_TABLE),
            limits=self.store.table(LIMITS_TABLE),
            api=TwilioCallerIdsApi(self.settings.twilio),
            policy=self.pricing.policy,
            service_number=self.settings.twilio.caller_id,
            settings=self.settings.caller_id,
            status_callback_url=lambda user_id, attempt: caller_id_status_url(
                base, user_id, attempt
            ),
        )

    @cached_property
    def stripe_gateway(self) -> StripeGateway:
        from shared.credit.stripe_gateway import StripeGateway

        return StripeGateway(self.settings.stripe)

    @cached_property
    def payments(self) -> Payments:
        from shared.credit.payments import Payments

        return Payments(
            ledger=self.ledger,
            accounts=self.store.table(ACCOUNTS_TABLE),
            owners=self.store.table(PAYMENTS_TABLE),
            provider=self.stripe_gateway,
            packs=self.settings.credit_packs,
            currency=self.settings.currency,
            public_base_url=self.settings.public_base_url,
            limits=self.settings.limits,
        )

    @cached_property
    def erasure(self) -> Erasure:
        from shared.privacy.erasure import Erasure

        privacy = self.settings.privacy
        return Erasure(
            tables=self.store,
            caller_ids=self.caller_ids,
            sessions=self.sessions,
            call_logs=self.twilio_calls_api if privacy.delete_twilio_call_logs else None,
            retention_years=privacy.accounting_retention_years,
            reconcile_margin=timedelta(seconds=self.settings.calling.reconcile_margin_seconds),
        )

    @cached_property
    def unfinished_erasures(self) -> UnfinishedErasures | None:
        """Account deletions cut short, for the retention run to resume: the erasure's own
        `unfinished(older_than)` and `resume(user_id)`."""
        return self.erasure

    @cached_property
    def retention(self) -> Retention:
        from shared.privacy.retention import Retention

        return Retention(
            table=self.store.table,
            privacy=self.settings.privacy,
            sessions=self.settings.sessions,
            erasures=self.unfinished_erasures,
        )

    @cached_property
    def exporter(self) -> Exporter:
        from shared.privacy.export import Exporter

        return Exporter(
            tables=self.store.table,
            privacy=self.settings.privacy,
            sessions=self.settings.sessions,
            currency=self.settings.currency,
        )


@lru_cache(maxsize=1)
def get_services() -> Services:
    return Services(get_settings())

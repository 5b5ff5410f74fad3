"""The Functions app: one Blueprint per module of functions/, and a word in the log when the
settings are wrong."""

import logging

import azure.functions as func

from functions import (
    account,
    account_deletion,
    call_status,
    caller_id,
    calls,
    checkout,
    consent,
    countries,
    entra_sign_in,
    export,
    health,
    openapi,
    payments,
    privacy,
    privacy_cookies,
    public_config,
    rates,
    reconcile,
    retention,
    sessions,
    sign_in,
    stripe_webhook,
    token,
    voice,
)
from shared.config import log_settings_problems

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for module in (
    health,
    public_config,
    sign_in,
    entra_sign_in,
    account,
    account_deletion,
    export,
    sessions,
    consent,
    privacy_cookies,
    token,
    rates,
    countries,
    voice,
    call_status,
    caller_id,
    calls,
    reconcile,
    retention,
    checkout,
    payments,
    stripe_webhook,
    privacy,
    openapi,
):
    app.register_functions(module.bp)

log_settings_problems(logging.getLogger("ownnumber"))

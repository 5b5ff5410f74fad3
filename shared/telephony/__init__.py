"""Twilio, wrapped: each module adapts one part of Twilio's SDK or protocol to our domain.

Owns the browser's access token (access_token), webhook signatures (signature), TwiML
(twiml), the Calls API that reconciliation asks (calls_api), where Twilio calls us
(webhook_paths) and the connection overrides on those URLs (webhook_overrides).

May import: shared.calling (the domain these adapters serve: call views, the Calls API
port), shared.config, shared.errors, and the twilio SDK (imported where used, since it is
heavy: twilio.rest only in calls_api).
"""

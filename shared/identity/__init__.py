"""Who is calling: users, their sign-in sessions, and signing in.

Owns accounts (an opaque user id per person, found from a sign-in identity; the profile),
sessions (server-side, in the user's own partition, keyed by a random id, with only the
hash of the cookie's secret stored; their lifetimes, renewal and revocation; the Twilio
identity that ties a token to its session), `devices` (the words that name a session's
browser and device, "Chrome on Android", in place of its User-Agent), and sign-in through
the identity provider: `sign_in` (the service), `return_to` and `id_token` (pure
decisions), `sign_in_flows` (flows in progress, server-side), `identity_provider` (the
port) and `entra` (its MSAL adapter).

May import: shared.money (an account opens with a zero balance), shared.storage,
shared.config (the sign-in settings). No SDK, except msal and requests in `entra` only.
"""

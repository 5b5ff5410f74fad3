"""Who is calling: users and their sign-in sessions.

Owns accounts (an opaque user id per person, found from a sign-in identity; the profile)
and sessions (server-side, in the user's own partition, keyed by a random id, with only the
hash of the cookie's secret stored; their lifetimes, renewal and revocation; the Twilio
identity that ties a token to its session), and `devices`, the words that name a session's
browser and device ("Chrome on Android") in place of its User-Agent.

May import: shared.money (an account opens with a zero balance), shared.storage. No SDK.
"""

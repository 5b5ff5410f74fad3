"""Who is calling: users and their sign-in sessions.

Owns accounts (an opaque user id per person, found from a sign-in identity; the profile)
and sessions (server-side, in the user's own partition, keyed by a random id, with only the
hash of the cookie's secret stored; the Twilio identity that ties a token to its session).

May import: shared.money (an account opens with a zero balance), shared.storage. No SDK.
"""

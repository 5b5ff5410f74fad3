"""Verified caller IDs: a user's own number, proven through Twilio's caller-ID validation, shown
to the people they call. Twilio's verified caller IDs belong to the whole Twilio account, so
OwnNumber keeps its own ownership index (number -> user): one number, one user at a time."""

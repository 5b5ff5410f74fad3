"""Limits on how often someone may do a costly thing (verify a caller ID, export their data),
counted in Table Storage so that every instance of the app counts alike. It imports only
storage: the packages that limit something (callerid, privacy) sit above it and phrase the
refusal in their own words."""

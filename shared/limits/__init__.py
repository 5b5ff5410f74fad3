"""Limits on how often someone may do a costly thing, against abuse and fraud.

Those that guard money are global, counted in Table Storage so that every instance counts
alike: call velocity and the checkout limits on the balance row (velocity, purchases), caller
ID verifications and exports in the limits table (hourly). The others are per instance, in
memory, costing no round trip (window, requests). It sits below the packages that limit
something (calling, callerid, privacy, credit), which call it."""

"""Twilio's webhook connection overrides: the URL fragment (`#rc=…&rp=…&ct=…&rt=…&tt=…`)
that tells Twilio how long to wait for our answer and which failures to try again.

Without a fragment Twilio tries a webhook once more, and only when connecting or reading
times out (rc=1, rp=ct,rt): a 503 is final. Our webhooks answer 503 (with Retry-After) when
storage falters, and each of them applies a redelivery at most once (`/api/voice` replays the
call it placed, a report is keyed by its call and leg), so every URL we give Twilio carries
`OVERRIDES`, which retry a 5xx too.

What Twilio accepts (https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides):
ct 100 to 10000 ms (default 5000), rt 100 to 15000 ms (default 15000), tt 100 to 15000 ms
(default 15000: all attempts together), rc 0 to 5 retries (default 1), rp a comma-separated
list of 4xx, 5xx, ct, rt, or all (default ct,rt); also e (the egress edge) and sni (y or n).
Pairs are joined by '&'. A fragment never reaches the server: it is Twilio's note to itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FAILURES = ("4xx", "5xx", "ct", "rt")  # what a retry policy can name; "all" names every one

# Twilio's range for each number it takes (ms, or retries for rc), and its default.
CONNECT_TIMEOUT_RANGE, CONNECT_TIMEOUT_DEFAULT = (100, 10_000), 5_000
READ_TIMEOUT_RANGE, READ_TIMEOUT_DEFAULT = (100, 15_000), 15_000
TOTAL_TIME_RANGE, TOTAL_TIME_DEFAULT = (100, 15_000), 15_000
RETRY_COUNT_RANGE, RETRY_COUNT_DEFAULT = (0, 5), 1
RETRY_ON_DEFAULT = frozenset({"ct", "rt"})

# --- what OwnNumber asks for ------------------------------------------------------------------

# A connection to our front end takes milliseconds; one that has not opened in 3 s has gone
# wrong, and failing it early leaves most of the 15 s for a retry on a fresh connection.
CONNECT_TIMEOUT_MS = 3_000
# Longer than our request deadline (about 8-10 s, after which a handler answers 503 itself)
# so that a slow but good answer is never cut off and sent again while it is still being
# worked on; shorter than TOTAL_TIME_MS, so that a timed-out first try leaves a few seconds
# for one more.
READ_TIMEOUT_MS = 10_000
# All of Twilio's webhook budget, and the most it allows: the call waits meanwhile anyway.
TOTAL_TIME_MS = 15_000
# A storage fault is answered 503 within a second or so; two more tries fit the budget and
# ride out a blip. More would only hammer a store that is down: reconciliation settles what
# the retries could not.
RETRY_COUNT = 2
# Time-outs (Twilio's default) and 5xx: our 503 on storage trouble, and a 500 is harmless to
# retry because every webhook applies once. Never 4xx: a bad signature or input stays bad.
RETRY_ON = frozenset({"ct", "rt", "5xx"})

_EDGE = re.compile(r"[a-z][a-z0-9-]{1,30}")


class InvalidOverrides(ValueError):
    """A fragment Twilio would not take as connection overrides; the message says why."""


@dataclass(frozen=True)
class ConnectionOverrides:
    """How Twilio delivers one webhook URL: its time-outs, and which failures it retries."""

    connect_timeout_ms: int = CONNECT_TIMEOUT_DEFAULT
    read_timeout_ms: int = READ_TIMEOUT_DEFAULT
    total_time_ms: int = TOTAL_TIME_DEFAULT
    retry_count: int = RETRY_COUNT_DEFAULT
    retry_on: frozenset[str] = field(default=RETRY_ON_DEFAULT)
    edge: str | None = None
    sni: bool = True

    def __post_init__(self) -> None:
        for name, value, (low, high) in (
            ("ct", self.connect_timeout_ms, CONNECT_TIMEOUT_RANGE),
            ("rt", self.read_timeout_ms, READ_TIMEOUT_RANGE),
            ("tt", self.total_time_ms, TOTAL_TIME_RANGE),
            ("rc", self.retry_count, RETRY_COUNT_RANGE),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidOverrides(f"{name} must be a whole number from {low} to {high}")
        unknown = sorted(set(self.retry_on) - set(FAILURES))
        if not self.retry_on or unknown:
            raise InvalidOverrides(f"rp must name some of {', '.join(FAILURES)} or all")
        if self.edge is not None and not _EDGE.fullmatch(self.edge):
            raise InvalidOverrides("e must name a Twilio edge, such as ashburn or dublin")

    def retries(self, failure: str) -> bool:
        """Whether Twilio tries again after this kind of failure (4xx, 5xx, ct or rt)."""
        return failure in self.retry_on

    def fragment(self) -> str:
        """The fragment that asks Twilio for these overrides (without the '#')."""
        policy = ",".join(name for name in ("ct", "rt", "4xx", "5xx") if name in self.retry_on)
        pairs = [
            ("rc", str(self.retry_count)),
            ("rp", policy),
            ("ct", str(self.connect_timeout_ms)),
            ("rt", str(self.read_timeout_ms)),
            ("tt", str(self.total_time_ms)),
        ]
        if self.edge is not None:
            pairs.append(("e", self.edge))
        if not self.sni:
            pairs.append(("sni", "n"))
        return "&".join(f"{name}={value}" for name, value in pairs)


OVERRIDES = ConnectionOverrides(
    connect_timeout_ms=CONNECT_TIMEOUT_MS,
    read_timeout_ms=READ_TIMEOUT_MS,
    total_time_ms=TOTAL_TIME_MS,
    retry_count=RETRY_COUNT,
    retry_on=RETRY_ON,
)
TWILIO_DEFAULTS = ConnectionOverrides()


def parse_overrides(fragment: str) -> ConnectionOverrides:
    """The overrides a fragment (without the '#') asks for; Twilio's defaults for the rest.

    Raises InvalidOverrides for anything Twilio would not take: an unknown or repeated key,
    a value out of range, a policy naming something else.
    """
    if not fragment:
        return TWILIO_DEFAULTS
    values: dict[str, str] = {}
    for pair in fragment.split("&"):
        name, equals, value = pair.partition("=")
        if not equals or not value:
            raise InvalidOverrides(f"{pair!r} is not a key=value pair")
        if name in values:
            raise InvalidOverrides(f"{name} is given twice")
        values[name] = value
    unknown = sorted(set(values) - {"ct", "rt", "tt", "rc", "rp", "e", "sni"})
    if unknown:
        raise InvalidOverrides(f"{', '.join(unknown)} is not a connection override")
    if values.get("sni", "y") not in ("y", "n"):
        raise InvalidOverrides("sni must be y or n")
    policy = values.get("rp")
    retry_on = RETRY_ON_DEFAULT
    if policy is not None:
        names = policy.split(",")
        retry_on = frozenset(FAILURES) if "all" in names else frozenset(names)
        if "" in names or len(set(names)) != len(names) or not retry_on <= set(FAILURES):
            raise InvalidOverrides(f"rp must name some of {', '.join(FAILURES)} or all")
    return ConnectionOverrides(
        connect_timeout_ms=_whole(values, "ct", CONNECT_TIMEOUT_DEFAULT),
        read_timeout_ms=_whole(values, "rt", READ_TIMEOUT_DEFAULT),
        total_time_ms=_whole(values, "tt", TOTAL_TIME_DEFAULT),
        retry_count=_whole(values, "rc", RETRY_COUNT_DEFAULT),
        retry_on=retry_on,
        edge=values.get("e"),
        sni=values.get("sni", "y") == "y",
    )


def without_fragment(url: str) -> str:
    """The URL as it is requested: an HTTP client never sends the fragment."""
    return url.partition("#")[0]


def overrides_of(url: str) -> ConnectionOverrides:
    """How Twilio delivers to this URL: its fragment's overrides, or Twilio's defaults."""
    return parse_overrides(url.partition("#")[2])


def with_overrides(url: str, overrides: ConnectionOverrides = OVERRIDES) -> str:
    """The URL, carrying these overrides (ours unless told otherwise) instead of any fragment."""
    return f"{without_fragment(url)}#{overrides.fragment()}"


def _whole(values: dict[str, str], name: str, default: int) -> int:
    raw = values.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit():
        raise InvalidOverrides(f"{name} must be a whole number, not {raw!r}")
    return int(raw)

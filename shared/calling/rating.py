"""Rating: what a call to a destination costs, and how long a balance can pay for.

Pure domain. Amounts are integer micros of the deployment currency (see shared.money.micros);
a fraction of a micro is always rounded up, so the operator never bills less than the deck
says.
The deck format is described in docs/rate-deck.md.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from shared.money.micros import AmountError, parse_micros

# Twilio's <Dial timeLimit> cannot exceed four hours, so no balance buys a longer call.
MAX_CALL_SECONDS = 4 * 3600

SAMPLE_DECK_PATH = Path(__file__).with_name("rate_deck.csv")

# E.164 allows at most 15 digits, and no country code starts with 0.
_PREFIX = re.compile(r"[1-9][0-9]{0,14}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_INCREMENTS = re.compile(r"\s*([0-9]+)\s*/\s*([0-9]+)\s*")
_REQUIRED_COLUMNS = ("prefix", "country", "description", "per_minute", "increments")
_OPTIONAL_COLUMNS = ("connect_fee",)


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


@dataclass(frozen=True)
class Rate:
    """The price of calls whose E.164 number starts with `prefix`.

    Billing follows the telecom convention "first/next": the first `first_increment` seconds
    are billed as a block, then every started `next_increment` seconds.
    """

    prefix: str
    country: str
    description: str
    per_minute_micros: int
    first_increment: int
    next_increment: int
    connect_fee_micros: int = 0

    def __post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.prefix):
            raise ValueError(
                f"Prefix {self.prefix!r} must be 1 to 15 digits of an E.164 number, "
                "without the leading +."
            )
        # Empty is allowed for non-geographic ranges such as +882 that belong to no country.
        if self.country and not _COUNTRY.fullmatch(self.country):
            raise ValueError(f"Country {self.country!r} must be an ISO 3166 alpha-2 code.")
        if self.per_minute_micros < 0:
            raise ValueError("The price per minute cannot be negative.")
        if self.connect_fee_micros < 0:
            raise ValueError("The connect fee cannot be negative.")
        if self.first_increment < 1 or self.next_increment < 1:
            raise ValueError("Billing increments must be at least one second.")

    @property
    def increments(self) -> str:
        """The increments as rate decks write them, e.g. "60/1"."""
        return f"{self.first_increment}/{self.next_increment}"

    def billed_seconds(self, seconds: int) -> int:
        """The seconds the increments round a call of `seconds` up to."""
        if seconds < 0:
            raise ValueError(f"A call cannot last {seconds} seconds.")
        if seconds == 0:
            return 0
        if seconds <= self.first_increment:
            return self.first_increment
        extra = seconds - self.first_increment
        return self.first_increment + _ceil_div(extra, self.next_increment) * self.next_increment

    def charge(self, seconds: int) -> int:
        """Micros owed for a call that lasted `seconds` once answered.

        An unanswered call (0 seconds) costs nothing, connect fee included: the user got no
        call, and Twilio does not bill an unanswered <Dial> leg either.
        """
        billed = self.billed_seconds(seconds)
        if billed == 0:
            return 0
        return self.connect_fee_micros + _ceil_div(billed * self.per_minute_micros, 60)

    def max_seconds(self, balance_micros: int) -> int:
        """The longest call, in seconds, whose charge does not exceed `balance_micros`.

        It is the end of the last affordable increment (every second of a paid increment is
        paid for), capped at MAX_CALL_SECONDS, and 0 when not even the first increment is
        affordable. A balance of zero or less never pays for a call, even at a zero price:
        callers treat 0 as "refuse the call", since <Dial timeLimit> must be positive.
        """
        if balance_micros <= 0:
            return 0
        budget = balance_micros - self.connect_fee_micros
        if budget < 0:
            return 0
        if self.per_minute_micros == 0:
            return MAX_CALL_SECONDS
        # ceil(b * p / 60) <= budget  <=>  b * p <= budget * 60, because budget is an integer;
        # so this is exactly the most billed seconds the budget covers, with no search needed.
        affordable_billed = budget * 60 // self.per_minute_micros
        if affordable_billed < self.first_increment:
            return 0
        next_increments = (affordable_billed - self.first_increment) // self.next_increment
        seconds = self.first_increment + next_increments * self.next_increment
        return min(seconds, MAX_CALL_SECONDS)


class RateDeckError(ValueError):
    """A rate deck that cannot be used; the message names the line and the problem."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class RateDeck:
    """Rates by prefix; a number is rated by the longest prefix it starts with."""

    def __init__(self, rates: Iterable[Rate]) -> None:
        by_prefix: dict[str, Rate] = {}
        for rate in rates:
            if rate.prefix in by_prefix:
                raise RateDeckError(f"Prefix {rate.prefix} is priced twice.")
            by_prefix[rate.prefix] = rate
        self._by_prefix = by_prefix
        self._longest = max((len(prefix) for prefix in by_prefix), default=0)

    def __len__(self) -> int:
        return len(self._by_prefix)

    @property
    def rates(self) -> tuple[Rate, ...]:
        return tuple(self._by_prefix[prefix] for prefix in sorted(self._by_prefix))

    def lookup(self, e164: str) -> Rate | None:
        """The rate for an E.164 number (with or without '+'), or None if no prefix matches.

        None means the deck does not price the destination, and callers refuse the call.
        """
        digits = e164[1:] if e164.startswith("+") else e164
        if not digits.isdigit() or not digits.isascii():
            raise ValueError(f"{e164!r} is not an E.164 number.")
        for length in range(min(len(digits), self._longest), 0, -1):
            rate = self._by_prefix.get(digits[:length])
            if rate is not None:
                return rate
        return None

    @classmethod
    def from_csv(cls, text: str) -> RateDeck:
        """Parse a deck in the format of docs/rate-deck.md, refusing it at its first bad line."""
        rows = _data_lines(text)
        if not rows:
            raise RateDeckError(
                "The rate deck is empty: it needs a header row and at least one rate."
            )
        header_line, header_text = rows[0]
        columns = _parse_header(header_line, header_text)
        rates: list[Rate] = []
        priced_on: dict[str, int] = {}
        for line, row_text in rows[1:]:
            rate = _parse_rate(line, _split(line, row_text), columns)
            if rate.prefix in priced_on:
                raise RateDeckError(
                    f"Rate deck line {line}: prefix {rate.prefix} is already priced "
                    f"on line {priced_on[rate.prefix]}.",
                    line,
                )
            priced_on[rate.prefix] = line
            rates.append(rate)
        if not rates:
            raise RateDeckError("The rate deck has a header but no rates.")
        return cls(rates)


def load_rate_deck(path: Path) -> RateDeck:
    """Read and parse the deck at `path` (UTF-8; a byte-order mark is tolerated)."""
    return RateDeck.from_csv(path.read_text(encoding="utf-8-sig"))


def _data_lines(text: str) -> list[tuple[int, str]]:
    # Physical line numbers are kept so that errors point at the line an operator sees.
    return [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _split(line: int, text: str) -> list[str]:
    try:
        # strict: an unclosed quote is an error here, not a silently merged field.
        return [field.strip() for field in next(csv.reader([text], strict=True))]
    except csv.Error as error:
        raise RateDeckError(f"Rate deck line {line}: {error}.", line) from None


def _parse_header(line: int, text: str) -> dict[str, int]:
    names = [name.lower() for name in _split(line, text)]
    known = _REQUIRED_COLUMNS + _OPTIONAL_COLUMNS
    for name in names:
        if name not in known:
            raise RateDeckError(
                f"Rate deck line {line}: unknown column {name!r}; the header must be "
                f"{','.join(known)}.",
                line,
            )
    if len(set(names)) != len(names):
        raise RateDeckError(f"Rate deck line {line}: the header repeats a column.", line)
    missing = [name for name in _REQUIRED_COLUMNS if name not in names]
    if missing:
        raise RateDeckError(
            f"Rate deck line {line}: the header lacks the column(s) {', '.join(missing)}; "
            f"it must be {','.join(known)}.",
            line,
        )
    return {name: index for index, name in enumerate(names)}


def _parse_rate(line: int, fields: list[str], columns: dict[str, int]) -> Rate:
    def fail(problem: str) -> RateDeckError:
        return RateDeckError(f"Rate deck line {line}: {problem}", line)

    if len(fields) != len(columns):
        raise fail(f"expected {len(columns)} fields like the header, found {len(fields)}.")
    value = {name: fields[index] for name, index in columns.items()}

    prefix = value["prefix"].removeprefix("+")
    if not _PREFIX.fullmatch(prefix):
        raise fail(
            f"prefix {value['prefix']!r} must be 1 to 15 digits of an E.164 number "
            "and cannot start with 0."
        )
    country = value["country"].upper()
    if country and not _COUNTRY.fullmatch(country):
        raise fail(f"country {value['country']!r} must be an ISO 3166 alpha-2 code such as GB.")
    description = value["description"]
    if not description:
        raise fail("the description is empty; users see it when they call the destination.")
    per_minute = _parse_amount(value["per_minute"], "per_minute price", fail)
    increments = _INCREMENTS.fullmatch(value["increments"])
    if increments is None:
        raise fail(
            f"increments {value['increments']!r} must be two whole numbers of seconds, "
            "such as 60/60, 60/1 or 1/1."
        )
    first, following = int(increments[1]), int(increments[2])
    if first == 0 or following == 0:
        raise fail(f"increments {value['increments']!r} cannot be zero seconds.")
    connect_text = value.get("connect_fee", "")
    connect_fee = _parse_amount(connect_text, "connect_fee", fail) if connect_text else 0
    return Rate(
        prefix=prefix,
        country=country,
        description=description,
        per_minute_micros=per_minute,
        first_increment=first,
        next_increment=following,
        connect_fee_micros=connect_fee,
    )


def _parse_amount(text: str, name: str, fail: Callable[[str], RateDeckError]) -> int:
    if not text:
        raise fail(f"the {name} is empty.")
    try:
        micros = parse_micros(text)
    except AmountError as error:
        raise fail(f"the {name} {error}.") from None
    if micros < 0:
        raise fail(f"the {name} {text!r} is negative.")
    return micros

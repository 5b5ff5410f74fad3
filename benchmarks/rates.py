"""Rate lookups per second on a generated deck of 50,000 prefixes, against the least a
longest-prefix match can do: a plain dict of prefixes tried from the longest down, with no
checking of the number.

The deck's prefixes are shaped like a carrier's: a country code, then area and operator
codes up to eight digits in all. The numbers looked up are drawn from those prefixes (with
digits after them, to E.164's 15), plus a tenth that no prefix prices.
"""

from __future__ import annotations

import random
import time

from shared.calling.rating import Rate, RateDeck

DECK_PREFIXES = 50_000
LOOKUPS = 200_000


def generated_prefixes(count: int, seed: int = 14) -> list[str]:
    chooser = random.Random(seed)
    countries = [str(code) for code in range(20, 999)] + ["1", "7"]
    prefixes: set[str] = set()
    while len(prefixes) < count:
        country = chooser.choice(countries)
        rest = "".join(chooser.choice("0123456789") for _ in range(chooser.randint(0, 6)))
        prefixes.add(country + rest)
    return sorted(prefixes)


def numbers(prefixes: list[str], count: int, seed: int = 15) -> list[str]:
    chooser = random.Random(seed)
    drawn = []
    for n in range(count):
        head = chooser.choice(prefixes) if n % 10 else "999"  # +999 is no country
        tail = "".join(chooser.choice("0123456789") for _ in range(12 - len(head) + 3))
        drawn.append("+" + (head + tail)[:15])
    return drawn


def _per_second(lookup: object, drawn: list[str]) -> float:
    assert callable(lookup)
    start = time.perf_counter()
    for number in drawn:
        lookup(number)
    return len(drawn) / (time.perf_counter() - start)


def lookups_per_second() -> tuple[float, float]:
    """(the deck's lookups/s, the plain dict's lookups/s) over the same numbers."""
    prefixes = generated_prefixes(DECK_PREFIXES)
    deck = RateDeck(Rate(prefix, "", f"Range {prefix}", 10_000, 60, 1) for prefix in prefixes)
    plain = {prefix: prefix for prefix in prefixes}
    longest = max(len(prefix) for prefix in prefixes)

    def dict_lookup(e164: str) -> str | None:
        digits = e164[1:]
        for length in range(min(len(digits), longest), 0, -1):
            found = plain.get(digits[:length])
            if found is not None:
                return found
        return None

    drawn = numbers(prefixes, LOOKUPS)
    # Both find the same rates, or the comparison would mean nothing.
    for number in drawn[:1000]:
        rate = deck.lookup(number)
        assert (rate.prefix if rate else None) == dict_lookup(number)
    return _per_second(deck.lookup, drawn), _per_second(dict_lookup, drawn)

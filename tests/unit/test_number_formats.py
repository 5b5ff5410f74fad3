from __future__ import annotations

import pytest

from shared.calling.number_formats import NumberFormats, international, number_formats

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("e164", "formats"),
    [
        ("+442079460958", NumberFormats("+44 20 7946 0958", "020 7946 0958")),
        ("+447400123456", NumberFormats("+44 7400 123456", "07400 123456")),
        ("+14155550100", NumberFormats("+1 415-555-0100", "(415) 555-0100")),
        ("+33612345678", NumberFormats("+33 6 12 34 56 78", "06 12 34 56 78")),
        ("+870301234567", NumberFormats("+870 301 234 567", "301 234 567")),
    ],
)
def test_a_number_is_written_as_people_read_it_abroad_and_at_home(
    e164: str, formats: NumberFormats
) -> None:
    assert number_formats(e164) == formats
    assert international(e164) == formats.international


@pytest.mark.parametrize("stored", ["", "442079460958", "+", "+44", "+abc", "+" + "4" * 40, "x"])
def test_what_cannot_be_formatted_is_shown_as_it_is(stored: str) -> None:
    assert number_formats(stored) is None
    assert international(stored) == stored

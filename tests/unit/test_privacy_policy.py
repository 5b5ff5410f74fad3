"""The published policy (static_site/privacy.html) says what the registry declares: the same
processors, the same cookies, the same categories and legal bases, and the same version."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from shared.privacy.policy import POLICY_VERSION
from shared.privacy.registry import COOKIES, PROCESSORS, Basis, Category

POLICY = Path(__file__).resolve().parents[2] / "static_site" / "privacy.html"

# Companies a policy of a service like this one could name. Any of them in the policy text must
# be a processor the registry declares (or the sign-in technology the seed policy named and the
# code does not use, which must then not appear at all).
_VENDORS = (
    "Google",
    "Microsoft",
    "Twilio",
    "Stripe",
    "next-auth",
    "NextAuth",
    "Auth0",
    "Amazon",
    "AWS",
    "Cloudflare",
    "Sentry",
    "Segment",
    "Mixpanel",
    "Vercel",
    "Vonage",
    "PayPal",
    "Facebook",
    "Meta",
    "Apple",
)


class _Policy(HTMLParser):
    """Collects the text of the policy, and the names inside the processors' <strong> and the
    cookies' <code> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.lists: list[str] = []
        self.tags: list[str] = []
        self.processors: list[str] = []
        self.cookies: list[str] = []
        self.headings: dict[str, list[str]] = {"h2": [], "h3": []}
        self.version = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if tag == "ul":
            self.lists.append(found.get("class") or "")
        if tag == "time":
            self.version = found.get("datetime") or ""

    def handle_endtag(self, tag: str) -> None:
        if self.tags and self.tags[-1] == tag:
            self.tags.pop()
        if tag == "ul" and self.lists:
            self.lists.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        where = self.lists[-1] if self.lists else ""
        tag = self.tags[-1] if self.tags else ""
        if where == "processors" and tag == "strong":
            self.processors.append(data.strip())
        if where == "cookies" and tag == "code":
            self.cookies.append(data.strip())
        if tag in self.headings:
            self.headings[tag].append(data.strip())


def _policy() -> _Policy:
    parser = _Policy()
    parser.feed(POLICY.read_text())
    return parser


def test_the_policy_names_exactly_the_registrys_processors() -> None:
    assert sorted(_policy().processors) == sorted(p.name for p in PROCESSORS)


def test_the_policy_names_no_company_the_registry_lacks() -> None:
    text = " ".join(_policy().text)
    declared = {p.name for p in PROCESSORS}
    named = {v for v in _VENDORS if re.search(rf"\b{re.escape(v)}\b", text)}
    assert named - declared == set()
    assert declared <= named


def test_the_policy_lists_exactly_the_registrys_cookies() -> None:
    assert sorted(_policy().cookies) == sorted(c.name for c in COOKIES)


def test_the_policys_categories_and_bases_are_the_registrys() -> None:
    policy = _policy()
    categories = {h.split(" (")[0] for h in policy.headings["h3"]}
    assert {c.value for c in Category} <= categories
    text = " ".join(policy.text)
    for basis in Basis:
        assert f"{basis.value}:" in text, basis


def test_the_policys_date_is_its_version() -> None:
    assert _policy().version == POLICY_VERSION

"""Lighthouse's accessibility and best-practices audits of the signed-in page, as the local
sandbox serves it (the site's headers, its CSP among them): both at least 95."""

from __future__ import annotations

from tests.browser.lighthouse import run_lighthouse
from tests.conftest import Client

MINIMUM = 95


def test_the_signed_in_page_scores_at_least_95_for_accessibility_and_best_practices(
    signed_in: Client,
) -> None:
    cookie = "; ".join(f"{c.name}={c.value}" for c in signed_in.http.cookies)
    assert cookie.startswith("ownnumber_session=")

    report = run_lighthouse(signed_in.base_url + "/", cookie=cookie)

    # Audited signed in: the page's own API calls were answered, none refused for want of a
    # session (a 401 is logged to the console, which Lighthouse reports).
    assert not [e for e in report.console_errors if "401" in e], report.console_errors
    for category in ("accessibility", "best-practices"):
        assert report.scores[category] >= MINIMUM, report.explain(category)

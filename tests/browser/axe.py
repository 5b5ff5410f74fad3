"""axe-core (npm, installed by scripts/bootstrap) on a page the tests drive: a screen passes when
axe finds nothing serious or critical on it.

    from tests.browser.axe import assert_accessible
    assert_accessible(page, "signed-out")

axe is evaluated into the page through the DevTools protocol (Playwright's `evaluate`), which the
page's Content-Security-Policy does not govern: the site's `script-src 'self'` stays as it is
deployed, and no `<script>` is added to the page. Only the document's top frame is checked (the
site has no frames)."""

from __future__ import annotations

from functools import cache
from typing import Any

from playwright.sync_api import Page

from tests.servers import REPO

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")
TARGETS_SHOWN = 3

_RUN = """
async () => {
  const results = await window.axe.run(document, { resultTypes: ["violations"] });
  return results.violations.map((violation) => ({
    id: violation.id,
    impact: violation.impact,
    help: violation.help,
    targets: violation.nodes.map((node) => node.target.join(" ")),
  }));
}
"""


@cache
def axe_source() -> str:
    if not AXE.is_file():
        raise FileNotFoundError(f"{AXE} is missing: run scripts/bootstrap (it runs npm ci).")
    return AXE.read_text()


def violations(page: Page) -> list[dict[str, Any]]:
    """axe's violations of every impact on the page as it is now."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # The source is a script, not a function: evaluated as one expression statement.
        page.evaluate(f"{axe_source()}\n;undefined")
    found: list[dict[str, Any]] = page.evaluate(_RUN)
    return found


def assert_accessible(page: Page, screen: str) -> None:
    """Fails listing every serious or critical violation on the page (its rule id, impact, help
    and the first few elements), naming the screen that has them."""
    failing = [v for v in violations(page) if v["impact"] in FAILING_IMPACTS]
    if not failing:
        return
    lines = [f"The {screen} screen has {len(failing)} serious or critical axe violation(s):"]
    for violation in failing:
        targets = violation["targets"]
        shown = ", ".join(targets[:TARGETS_SHOWN])
        more = f" and {len(targets) - TARGETS_SHOWN} more" if len(targets) > TARGETS_SHOWN else ""
        lines.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']}; at {shown}{more}"
        )
    raise AssertionError("\n".join(lines))

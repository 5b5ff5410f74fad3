"""Reading a Lighthouse report (tests/browser/lighthouse.py): the scores as Lighthouse shows
them, and the audits that cost points, so that a failing check says which."""

from __future__ import annotations

from typing import Any

from tests.browser.lighthouse import FailingAudit, summarise


def audit(title: str, score: float | None, mode: str = "binary") -> dict[str, Any]:
    return {"title": title, "score": score, "scoreDisplayMode": mode}


REPORT: dict[str, Any] = {
    "categories": {
        "accessibility": {
            "score": 0.934,
            "auditRefs": [
                {"id": "color-contrast", "weight": 7},
                {"id": "image-alt", "weight": 10},
                {"id": "skip-link", "weight": 0},  # informative: weighs nothing
                {"id": "video-caption", "weight": 10},
            ],
        },
        "best-practices": {
            "score": 1,
            "auditRefs": [{"id": "errors-in-console", "weight": 1}],
        },
    },
    "audits": {
        "color-contrast": audit("Background and foreground colors have enough contrast", 0),
        "image-alt": audit("Image elements have `[alt]` attributes", 1),
        "skip-link": audit("Skip links are focusable", 0),
        "video-caption": audit("`<video>` elements contain captions", None, "notApplicable"),
        "errors-in-console": {
            **audit("No browser errors logged to the console", 1),
            "details": {
                "items": [
                    {
                        "description": "Failed to load resource: 404",
                        "sourceLocation": {"url": "http://127.0.0.1/favicon.ico"},
                    }
                ]
            },
        },
    },
}


def test_scores_are_percentages_and_only_weighted_failed_audits_are_listed() -> None:
    report = summarise(REPORT, seconds=12.5)
    assert report.scores == {"accessibility": 93, "best-practices": 100}
    assert report.failing == {
        "accessibility": [
            FailingAudit(
                "color-contrast", "Background and foreground colors have enough contrast", 0
            )
        ],
        "best-practices": [],
    }
    assert report.console_errors == ["Failed to load resource: 404 (http://127.0.0.1/favicon.ico)"]
    assert report.seconds == 12.5


def test_the_explanation_names_the_failing_audits() -> None:
    report = summarise(REPORT)
    assert report.explain("accessibility") == (
        "accessibility 93: failing audits: Background and foreground colors have enough "
        "contrast (color-contrast, score 0)"
    )
    assert report.explain("best-practices") == "best-practices 100: failing audits: none"

from __future__ import annotations

import pytest

from local_host.routing import RouteTemplate


@pytest.mark.parametrize(
    ("template", "path", "params"),
    [
        ("health", "health", {}),
        ("checkout/{session_id}", "checkout/cs_123", {"session_id": "cs_123"}),
        ("items/{id:int}", "items/42", {"id": "42"}),
        ("items/{id?}", "items", {}),
        ("items/{id?}", "items/7", {"id": "7"}),
        ("files/{*rest}", "files/a/b/c", {"rest": "a/b/c"}),
    ],
)
def test_templates_match_and_capture(template: str, path: str, params: dict[str, str]) -> None:
    assert RouteTemplate.parse(template).match(path) == params


@pytest.mark.parametrize(
    ("template", "path"),
    [("health", "healthz"), ("items/{id:int}", "items/x"), ("checkout/{id}", "checkout/a/b")],
)
def test_templates_do_not_match_other_paths(template: str, path: str) -> None:
    assert RouteTemplate.parse(template).match(path) is None

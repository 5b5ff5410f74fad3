"""The static site as Static Web Apps serves it: the navigation fallback and its exclusions,
with SWA's wildcard syntax, braces included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local_host.http_types import LocalRequest
from local_host.static_files import StaticSite, expand_braces, matches
from shared.config import DEFAULT_INGESTION_ENDPOINT, VOICE_SDK_EDGES

SITE = Path(__file__).resolve().parents[2] / "static_site"


def get(site: StaticSite, path: str, method: str = "GET") -> tuple[int, bytes, dict[str, str]]:
    request = LocalRequest(method, path, "", {}, b"", "http://127.0.0.1:7071")
    response = site.serve(request)
    return response.status, response.body, dict(response.headers)


@pytest.mark.parametrize(
    ("pattern", "expanded"),
    [
        ("/*.{css,js}", ("/*.css", "/*.js")),
        ("/api/*", ("/api/*",)),
        ("/{a,b}/*.{png,svg}", ("/a/*.png", "/a/*.svg", "/b/*.png", "/b/*.svg")),
        ("/x{1,2{a,b}}", ("/x1", "/x2a", "/x2b")),
        ("/{only}", ("/{only}",)),
        ("/{open", ("/{open",)),
        ("/{a,a}", ("/a",)),
    ],
)
def test_braces_expand_as_in_static_web_apps(pattern: str, expanded: tuple[str, ...]) -> None:
    assert expand_braces(pattern) == expanded


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("/missing.js", "/*.{css,js,png}", True),
        ("/deep/er/style.css", "/*.{css,js,png}", True),  # `*` crosses folders in SWA
        ("/account", "/*.{css,js,png}", False),
        ("/missing.jsx", "/*.{css,js,png}", False),
        ("/api/me", "/api/*", True),
    ],
)
def test_patterns_match_like_static_web_apps(path: str, pattern: str, expected: bool) -> None:
    assert matches(path, pattern) is expected


@pytest.fixture(scope="module")
def site() -> StaticSite:
    return StaticSite.load(SITE)


@pytest.mark.parametrize(
    "path", ["/missing.js", "/missing.css", "/img/missing.png", "/missing.json", "/sandbox/x"]
)
def test_excluded_paths_that_do_not_exist_are_404_not_the_app(site: StaticSite, path: str) -> None:
    status, body, headers = get(site, path)
    assert status == 404
    assert body != (SITE / "index.html").read_bytes()
    # The global headers (the CSP among them) go out with errors too, as on SWA.
    assert "default-src 'self'" in headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/account", "/calls/history", "/missing.html"])
def test_other_unknown_paths_fall_back_to_the_app(site: StaticSite, path: str) -> None:
    status, body, headers = get(site, path)
    assert status == 200
    assert body == (SITE / "index.html").read_bytes()
    assert headers["Content-Type"].startswith("text/html")


def test_files_that_exist_are_served_with_their_route_headers(site: StaticSite) -> None:
    status, body, headers = get(site, "/app.js")
    assert status == 200
    assert body == (SITE / "app.js").read_bytes()
    assert headers["Cache-Control"] == "no-cache"


def test_the_exclusions_come_from_the_config(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>app</p>")
    config = {"navigationFallback": {"rewrite": "/index.html", "exclude": ["/{img,media}/*"]}}
    (tmp_path / "staticwebapp.config.json").write_text(json.dumps(config))
    site = StaticSite.load(tmp_path)
    assert get(site, "/media/clip.mp4")[0] == 404
    assert get(site, "/img/a.png")[0] == 404
    assert get(site, "/missing.js")[:2] == (200, b"<p>app</p>")


@pytest.mark.parametrize("provider", ["aad", "github", "twitter"])
def test_the_built_in_static_web_apps_sign_in_is_closed(site: StaticSite, provider: str) -> None:
    # OwnNumber signs people in itself (Entra External ID through MSAL): Static Web Apps'
    # own providers would be a second, unmanaged way in.
    status, body, _ = get(site, f"/.auth/login/{provider}")
    assert status == 404
    assert body != (SITE / "index.html").read_bytes()


# The edges a deployment may choose among (TWILIO_VOICE_EDGES); from roaming, signalling may
# move to any of them, so the policy allows every one.
TWILIO_EDGES = VOICE_SDK_EDGES


def directives(policy: str) -> dict[str, list[str]]:
    return {name: sources for name, *sources in (part.split() for part in policy.split(";"))}


@pytest.mark.parametrize("path", ["/", "/vendor/twilio-voice/twilio.min.js", "/missing.js"])
def test_the_csp_lets_in_the_voice_sdk_and_nothing_unsafe(site: StaticSite, path: str) -> None:
    policy = get(site, path)[2]["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert "blob:" not in policy  # the SDK starts no worker and plays no blob: URL
    parsed = directives(policy)
    assert parsed["script-src"] == ["'self'"]  # the SDK is served from our origin
    assert "worker-src" not in parsed
    assert parsed["connect-src"] == [
        "'self'",  # our API
        *(f"wss://voice-js.{edge}.twilio.com" for edge in TWILIO_EDGES),  # signalling
        "https://eventgw.twilio.com",  # Insights events
        "https://eventgw.us1.twilio.com",  # ... once signalling names the home region, US1
        "https://sdk.twilio.com",  # sounds, fetched for WebAudio
        # Application Insights' global ingestion endpoint (browser analytics, after consent);
        # a regional IngestionEndpoint is added here by the operator (README).
        DEFAULT_INGESTION_ENDPOINT,
    ]
    assert parsed["media-src"] == ["'self'", "https://sdk.twilio.com"]  # sounds as <audio>
    assert parsed["default-src"] == ["'self'"]

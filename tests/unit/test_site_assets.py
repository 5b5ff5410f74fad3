"""What the page loads comes from its own origin: no file of static_site/ loads a script, a
style, a font or media from another host (a CDN), and the Voice SDK it loads instead is the
one npm installed, copied by scripts/vendor-sdk."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.servers import REPO

SITE = REPO / "static_site"
VENDORED = SITE / "vendor" / "twilio-voice"
SDK = REPO / "node_modules" / "@twilio" / "voice-sdk"

# An absolute (or scheme-relative) URL: another host.
_ELSEWHERE = r"""(?:https?:)?//[^\s"'`)>]+"""
_QUOTE = r"""["'`]"""
REMOTE_LOADS = {
    ".html": [
        # Elements that load what they name (a link to another site, <a href>, is fine).
        rf"<(?:script|link|img|audio|video|source|track|iframe|embed|object|image)\b[^>]*?"
        rf"\b(?:src|href|data|srcset|poster)\s*=\s*[\"']?\s*({_ELSEWHERE})",
        rf"\burl\(\s*[\"']?\s*({_ELSEWHERE})",
    ],
    ".js": [
        rf"\bimport\s*\(?\s*{_QUOTE}({_ELSEWHERE}){_QUOTE}",
        rf"\bfrom\s*{_QUOTE}({_ELSEWHERE}){_QUOTE}",
        rf"\b(?:importScripts|Worker|SharedWorker|addModule)\s*\(\s*{_QUOTE}({_ELSEWHERE})",
        rf"(?<!location)\.(?:src|href)\s*=\s*{_QUOTE}({_ELSEWHERE})",  # navigating is not loading
        rf"setAttribute\(\s*{_QUOTE}(?:src|href){_QUOTE}\s*,\s*{_QUOTE}({_ELSEWHERE})",
        rf"\bnew\s+Audio\(\s*{_QUOTE}({_ELSEWHERE})",
    ],
    ".css": [
        rf"@import\s+(?:url\()?\s*[\"']?\s*({_ELSEWHERE})",
        rf"\burl\(\s*[\"']?\s*({_ELSEWHERE})",
    ],
}


def remote_loads(text: str, suffix: str) -> list[str]:
    """The other hosts' URLs a file of this kind would load."""
    return [
        match.group(1)
        for pattern in REMOTE_LOADS[suffix]
        for match in re.finditer(pattern, text, re.IGNORECASE)
    ]


def own_files() -> list[Path]:
    return sorted(
        path
        for path in SITE.rglob("*")
        if path.suffix in REMOTE_LOADS and not path.is_relative_to(SITE / "vendor")
    )


def test_no_file_of_the_site_loads_anything_from_another_host() -> None:
    found = {
        path.relative_to(REPO).as_posix(): urls
        for path in own_files()
        if (urls := remote_loads(path.read_text(), path.suffix))
    }
    assert own_files(), f"no .html, .js or .css under {SITE}"
    assert found == {}, f"These files load from other hosts (vendor it instead): {found}"


@pytest.mark.parametrize(
    ("suffix", "text"),
    [
        (".html", '<script src="https://cdn.jsdelivr.net/npm/@twilio/voice-sdk"></script>'),
        (".html", "<link rel=stylesheet href=//fonts.googleapis.com/css?family=Inter>"),
        (".html", '<img alt="" src="http://example.org/logo.png">'),
        (".html", '<div style="background: url(https://cdn.example/b.png)"></div>'),
        (".js", 'import { Device } from "https://esm.sh/@twilio/voice-sdk";'),
        (".js", 'const m = await import("https://unpkg.com/x.js");'),
        (".js", 'script.src = "https://media.twiliocdn.com/sdk/js/client/twilio.min.js";'),
        (".js", "el.setAttribute('src', 'https://cdnjs.cloudflare.com/a.js');"),
        (".js", 'new Audio("https://sdk.twilio.com/js/client/sounds/ring.mp3")'),
        (".css", '@import url("https://fonts.googleapis.com/css2?family=Inter");'),
        (".css", "body { background: url(//cdn.example/bg.png); }"),
    ],
)
def test_a_load_from_another_host_is_found(suffix: str, text: str) -> None:
    assert remote_loads(text, suffix) != []


@pytest.mark.parametrize(
    ("suffix", "text"),
    [
        (".html", '<script type="module" src="/app.js"></script>'),
        (".html", '<link rel="stylesheet" href="/styles.css">'),
        (".html", '<a href="https://www.twilio.com/legal/privacy">Twilio\'s privacy notice</a>'),
        (".js", 'import { loadVoiceSdk } from "./voice-sdk.js";'),
        (".js", 'script.src = "/vendor/twilio-voice/twilio.min.js";'),
        (".js", 'location.href = "/api/auth/login?returnTo=%2F";'),
        (".js", 'window.location.href = "https://checkout.stripe.com/c/pay/cs_test";'),
        (".js", "// see https://www.twilio.com/docs/voice/sdks/javascript"),
        (".css", "body { background: url(/img/bg.png); }"),
    ],
)
def test_own_files_links_and_comments_are_not_loads(suffix: str, text: str) -> None:
    assert remote_loads(text, suffix) == []


def test_the_vendored_sdk_is_the_installed_one() -> None:
    installed = json.loads((SDK / "package.json").read_text())["version"]
    copied = VENDORED / "twilio.min.js"
    assert copied.is_file(), f"{copied} is missing: run scripts/bootstrap (or scripts/vendor-sdk)"
    assert copied.read_bytes() == (SDK / "dist" / "twilio.min.js").read_bytes(), (
        "the vendored SDK is not the installed one: run scripts/vendor-sdk"
    )
    assert (VENDORED / "LICENSE.md").read_bytes() == (SDK / "LICENSE.md").read_bytes()
    assert (VENDORED / "VERSION").read_text().split()[0] == installed


def test_the_sdk_pinned_is_a_2x_release_and_the_loader_points_at_its_copy() -> None:
    pinned = json.loads((REPO / "package.json").read_text())["devDependencies"]
    assert re.fullmatch(r"2\.\d+\.\d+", pinned["@twilio/voice-sdk"]), "pin an exact 2.x version"
    loader = (SITE / "voice-sdk.js").read_text()
    assert '"/vendor/twilio-voice/twilio.min.js"' in loader

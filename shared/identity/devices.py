"""What a session's User-Agent says about the device, in words a person recognises.

"Chrome on Android", "Safari on iPhone": enough for someone to tell their own sessions apart
in a list, and nothing more. Only these words are ever stored, never the User-Agent itself
(it is close to a fingerprint): every word comes from the fixed vocabulary below, so nothing
the browser sent is copied into storage.

Pure string matching, no dependency: ua-parser's thousand regexes would tell versions and
phone models, which we do not want to keep, at the cost of loading them at sign-in.
"""

from __future__ import annotations

# Longer than any real User-Agent's useful part; a huge header costs no more than this.
_MAX_SCANNED = 1024

# (token in the User-Agent, browser), first match wins. Order matters: Chromium-based browsers
# also say "Chrome/" and "Safari/", and Chrome on iOS says "Safari/" too.
_BROWSERS: tuple[tuple[str, str], ...] = (
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("OPR/", "Opera"),
    ("OPT/", "Opera"),
    ("Opera", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("YaBrowser/", "Yandex Browser"),
    ("Vivaldi/", "Vivaldi"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)

# (token, device or system), first match wins: iPhones and iPads say "like Mac OS X", and
# Android says "Linux".
_SYSTEMS: tuple[tuple[str, str], ...] = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("iPod", "iPod"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("CrOS", "ChromeOS"),
    ("Macintosh", "Mac"),
    ("Mac OS X", "Mac"),
    ("Linux", "Linux"),
)

UNKNOWN_DEVICE = "Unknown device"


def device_family(user_agent: str | None) -> str:
    """'<browser> on <device or system>', or as much of it as the User-Agent tells."""
    text = (user_agent or "")[:_MAX_SCANNED]
    browser = _first(_BROWSERS, text)
    system = _first(_SYSTEMS, text)
    if browser == "Safari" and system not in ("iPhone", "iPad", "iPod", "Mac"):
        # Only Apple ships Safari; anything else saying "Safari/" without a browser we know
        # is some embedded browser, not Safari.
        browser = None
    if browser and system:
        return f"{browser} on {system}"
    if browser:
        return browser
    if system:
        return f"A browser on {system}"
    return UNKNOWN_DEVICE


def _first(table: tuple[tuple[str, str], ...], text: str) -> str | None:
    return next((name for token, name in table if token in text), None)

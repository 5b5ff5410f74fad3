"""Where a person goes back to after signing in: a page of this site, never anywhere else.

`returnTo` comes from a link anyone can craft, and the callback redirects to it with a fresh
session; if it could name another site, our sign-in would be a trusted open redirect (a
phishing page that follows a real Google sign-in). So it must be a plain path of our own
origin. Browsers read `//evil` and `/\\evil` as another host, and some proxies decode `%2F`
and `%5C` before the browser sees them, so those are refused in both their forms; so is
anything a Location header cannot carry as it is (controls, spaces, non-ASCII), and the API
itself, which is no page to land on.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from shared.identity.errors import InvalidReturnTo

DEFAULT_RETURN_TO = "/"
MAX_RETURN_TO_CHARS = 1000

# Printable ASCII without space, backslash, quotes or angle brackets: what a page's own
# location.pathname + search holds, and what a Location header carries unchanged.
_PATH = re.compile(r"/[!#-&(-;=?-\[\]-~]*")


def safe_return_to(raw: str | None) -> str:
    """The same-origin path to redirect to after sign-in (`/` when none is given)."""
    if raw is None or raw == "":
        return DEFAULT_RETURN_TO
    if len(raw) > MAX_RETURN_TO_CHARS or not _PATH.fullmatch(raw):
        raise InvalidReturnTo()
    decoded = unquote(raw)
    for form in (raw, decoded):
        if form.startswith("//") or "\\" in form or any(ord(c) < 0x20 or c == "\x7f" for c in form):
            raise InvalidReturnTo()
        parts = urlsplit(form)
        if parts.scheme or parts.netloc:
            raise InvalidReturnTo()
    path = urlsplit(decoded).path.lower()
    # A browser resolves dot segments ("/%2e%2e/api/me" is /api/me): none is accepted.
    if any(segment in (".", "..") for segment in path.split("/")):
        raise InvalidReturnTo()
    if path == "/api" or path.startswith("/api/"):
        raise InvalidReturnTo()
    return raw

"""Sign-in with Google through Entra External ID: the link that starts it, the callback that
ends it.

`GET /api/auth/login?returnTo=/…&prompt=…` sends the browser to the provider, with the flow's
state in a short-lived cookie; `GET /api/auth/callback` comes back from it, starts a session
and sends the browser on to returnTo. People, not scripts, see these answers, so every failure
is a page in the site's look that says what happened and offers to try again, never a
problem+json. The log names events and failure codes only: no email, token, code or state.
"""

from __future__ import annotations

import contextlib
import html
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

import azure.functions as func

from functions._edge import limit_address, page, request_cookie, services, start_session
from shared.config import ConfigError
from shared.deadline import DeadlinePassed, deadline
from shared.identity.errors import (
    SignInFailed,
    SignInNotConfigured,
    SignInUnavailable,
)
from shared.limits.errors import LimitReached
from shared.storage.errors import StorageUnavailable

if TYPE_CHECKING:
    from shared.limits.requests import Action

bp = func.Blueprint()
logger = logging.getLogger("ownnumber.sign_in")

# The state of the sign-in this browser started, so that the callback finishes only that one:
# a callback link made in another browser (login CSRF) finds no matching cookie. Browsers keep
# a __Host- cookie only when it is Secure, with Path=/ and no Domain.
STATE_COOKIE = "ownnumber_signin"
SECURE_STATE_COOKIE = "__Host-ownnumber_signin"

# The failure page loads the site's stylesheet and nothing else; it runs no script.
_PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} · OwnNumber</title>
  <link rel="stylesheet" href="/styles.css">
</head>
<body>
  <header>
    <h1>OwnNumber</h1>
    <p class="tagline">Call any phone in the world from this tab. Pay as you go.</p>
  </header>
  <main>
    <section class="notice">
      <h2>{title}</h2>
      <p id="sign-in-problem">{sentence}</p>
      <p class="actions">{retry}<a href="/">Back to OwnNumber</a></p>
    </section>
  </main>
</body>
</html>
"""


@bp.route(route="auth/login", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@page
def auth_login(req: func.HttpRequest) -> func.HttpResponse:
    def begin() -> func.HttpResponse:
        from shared.identity.sign_in_flows import FLOW_TTL

        limit_address(req, _sign_in())
        start = services().sign_in.begin(req.params.get("returnTo"), req.params.get("prompt"))
        logger.info("sign_in.started")
        return _redirect(
            start.auth_uri, [_state_cookie(start.state, int(FLOW_TTL.total_seconds()))]
        )

    return _as_page(begin)


@bp.route(route="auth/callback", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@page
def auth_callback(req: func.HttpRequest) -> func.HttpResponse:
    def complete() -> func.HttpResponse:
        limit_address(req, _sign_in())
        deps = services()
        signed_in = deps.sign_in.complete(
            dict(req.params), request_cookie(req, _state_cookie_name())
        )
        logger.info("sign_in.completed")
        # A new session, whatever this browser held before: no pre-login state carries over.
        _, cookie = start_session(
            req, signed_in.profile.user_id, signed_in_at=signed_in.signed_in_at
        )
        return _redirect(
            deps.settings.public_base_url + signed_in.return_to, [cookie, _state_cookie("", 0)]
        )

    # Once the flow was read, this browser's sign-in is over, whatever happened next.
    return _as_page(complete, clear_state=True)


def _as_page(
    action: Callable[[], func.HttpResponse], *, clear_state: bool = False
) -> func.HttpResponse:
    """Runs the step within the request deadline; any failure becomes a page that says it."""
    try:
        with deadline():
            return action()
    except SignInFailed as failure:
        # A person cancelling or taking too long is ordinary; our side failing is not.
        level = logging.WARNING if failure.status >= 500 else logging.INFO
        logger.log(level, "sign_in.failed: %s", failure.code)
        # A failure that touched nothing (a state not this browser's, an error answer without a
        # state) leaves a sign-in this browser has under way, in another tab, its cookie.
        return _failure_page(failure, clear_state and failure.ended_flow)
    except LimitReached as limited:
        logger.info("sign_in.failed: limited")
        refusal = SignInFailed(str(limited))
        refusal.status, refusal.title, refusal.ended_flow = 429, "Too many sign-in attempts", False
        response = _failure_page(refusal, clear_state=False)
        response.headers["Retry-After"] = str(limited.retry_after_seconds)
        return response
    except (StorageUnavailable, DeadlinePassed, ConfigError) as error:
        logger.warning("sign_in.failed: unavailable (%s)", type(error).__name__)
        return _failure_page(SignInUnavailable(), clear_state)
    except Exception:
        # Logged with its traceback for us; the person gets a page, never the traceback.
        logger.exception("sign_in.failed: unexpected")
        unexpected = SignInFailed("Something went wrong on our side; please try again.")
        unexpected.status = 500
        return _failure_page(unexpected, clear_state)


def _failure_page(failure: SignInFailed, clear_state: bool) -> func.HttpResponse:
    retry = ""
    if not isinstance(failure, SignInNotConfigured):
        href = "/api/auth/login?returnTo=" + quote(failure.return_to, safe="")
        retry = f'<a class="button" href="{html.escape(href)}">Try again</a> '
    body = _PAGE.format(
        title=html.escape(failure.title),
        sentence=html.escape(failure.sentence),
        retry=retry,
    )
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": _PAGE_POLICY,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    if failure.status == 503:
        headers["Retry-After"] = "30"
    response = func.HttpResponse(
        body, status_code=failure.status, headers=headers, mimetype="text/html"
    )
    if clear_state:
        # Without settings there is no telling which cookie this browser holds; it expires.
        with contextlib.suppress(ConfigError):
            response.headers.add_header("Set-Cookie", _state_cookie("", 0))
    return response


def _redirect(location: str, cookies: list[str]) -> func.HttpResponse:
    # The callback's URL holds the code: no Referer carries it on, no cache keeps the answer.
    response = func.HttpResponse(
        status_code=302,
        headers={
            "Location": location,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
    for cookie in cookies:
        response.headers.add_header("Set-Cookie", cookie)
    return response


def _state_cookie_name() -> str:
    return SECURE_STATE_COOKIE if services().settings.secure_cookies else STATE_COOKIE


def _state_cookie(state: str, max_age: int) -> str:
    # SameSite=Lax: the provider's redirect back is a top-level GET, which Lax lets through.
    parts = [f"{_state_cookie_name()}={state}", "Path=/", "HttpOnly", "SameSite=Lax"]
    parts.append(f"Max-Age={max_age}")
    if services().settings.secure_cookies:
        parts.append("Secure")
    return "; ".join(parts)


def _sign_in() -> Action:
    # Imported when first asked for, not with the app: a cold start loads no limits code.
    from shared.limits.requests import Action

    return Action.SIGN_IN

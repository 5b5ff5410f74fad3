"""The local host serves the Voice SDK that scripts/bootstrap vendored, from the site's own
origin, as JavaScript and with the site's headers, as Static Web Apps serves it once deployed."""

from __future__ import annotations

from tests.conftest import Client
from tests.servers import REPO

SDK = REPO / "node_modules" / "@twilio" / "voice-sdk"
VENDORED = REPO / "static_site" / "vendor" / "twilio-voice"


def test_the_vendored_sdk_is_served_as_javascript_with_the_sites_headers(client: Client) -> None:
    assert (VENDORED / "twilio.min.js").is_file(), "run scripts/bootstrap: it vendors the SDK"
    response = client.get("/vendor/twilio-voice/twilio.min.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == "text/javascript"
    assert response.content == (SDK / "dist" / "twilio.min.js").read_bytes()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self';" in response.headers["Content-Security-Policy"]


def test_its_licence_is_served_beside_it(client: Client) -> None:
    response = client.get("/vendor/twilio-voice/LICENSE.md")
    assert response.status_code == 200
    assert b"Apache License, Version 2.0" in response.content


def test_a_missing_vendored_file_is_a_404_not_the_app(client: Client) -> None:
    # What the loader sees when scripts/vendor-sdk has not run: a 404, never index.html
    # (which nosniff would refuse to run as a script anyway).
    response = client.get("/vendor/twilio-voice/not-there.js")
    assert response.status_code == 404
    assert response.content != (REPO / "static_site" / "index.html").read_bytes()


INSIGHTS = REPO / "node_modules" / "@microsoft" / "applicationinsights-web"


def test_the_vendored_analytics_sdk_and_its_licence_are_served_from_our_origin(
    client: Client,
) -> None:
    response = client.get("/vendor/applicationinsights/applicationinsights-web.min.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == "text/javascript"
    assert response.content == (INSIGHTS / "dist/es5/applicationinsights-web.min.js").read_bytes()
    licence = client.get("/vendor/applicationinsights/LICENSE")
    assert licence.status_code == 200
    assert b"MIT License" in licence.content

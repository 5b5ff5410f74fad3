"""The vendored Twilio Voice SDK in Chromium, under the site's own Content-Security-Policy.

The SDK runs on a page of the local host with the policy of staticwebapp.config.json: it
fetches its sounds (with XMLHttpRequest for WebAudio, and as <audio> without it), opens the
signalling WebSocket of every edge we allow, and posts Insights events (to the default
gateway, and to the home region's once signalling names one). Run under our policy, nothing
is refused; run under the same policy without its Twilio sources, each of those sources is
refused, and nothing else: every Twilio source the policy names is one the SDK uses.

Nothing reaches Twilio: this browser resolves no host name (it reaches 127.0.0.1 only), the
tests answer the SDK's HTTP themselves once the policy has let a request through (page.route
sees only what the page was allowed to send), and the signalling that says "connected" is a
stand-in (Playwright's WebSocket routing, which replaces the page's WebSocket, so the sockets
whose policy is checked are the other page's, which fail to resolve).
"""

from __future__ import annotations

import io
import json
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, WebSocketRoute

from shared.config import VOICE_SDK_EDGES
from tests.browser.chromium import CHROMIUM_ARGS, chromium_path
from tests.servers import REPO, LocalHost

CONFIG = json.loads((REPO / "static_site" / "staticwebapp.config.json").read_text())
POLICY: str = CONFIG["globalHeaders"]["Content-Security-Policy"]
# The edges a deployment may choose (TWILIO_VOICE_EDGES); roaming may land on any of them.
EDGES = VOICE_SDK_EDGES
PROBE = "/__voice-sdk-probe"  # any unknown path is the app's fallback, with the global headers
MARKERS = ".marker.invalid"  # hosts that every policy here refuses
# Syntactically a JWT; nothing ever checks it.
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJTSzAwMCIsImdyYW50cyI6e319.c2lnbmF0dXJl"
WAIT_SECONDS = 20

VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push([event.effectiveDirective, event.blockedURI]);
});
"""

# Sounds both ways, and each edge's signalling socket (which fails: the host resolves nowhere).
SOUNDS_AND_SOCKETS = """
async ({ edges, token }) => {
  const { loadVoiceSdk } = await import("/voice-sdk.js");
  const { Device } = await loadVoiceSdk();
  const quiet = (device) => { device.on("error", () => {}); return device; };
  window.__devices = [
    quiet(new Device(token, { logLevel: 5 })),
    quiet(new Device(token, { logLevel: 5, disableAudioContextSounds: true })),
  ];
  for (const edge of edges) {
    const device = quiet(new Device(token, { edge, logLevel: 5 }));
    device.register().catch(() => {});
    window.__devices.push(device);
  }
}
"""

# A call on each of two edges whose (stand-in) signalling is connected: one names a home
# region, one does not; each call's first Insights event goes to that gateway.
CALLS = """
async ({ token }) => {
  const { loadVoiceSdk } = await import("/voice-sdk.js");
  const { Device } = await loadVoiceSdk();
  window.__devices = [];
  for (const edge of ["ashburn", "dublin"]) {
    const device = new Device(token, { edge, logLevel: 5 });
    device.on("error", () => {});
    device.connect({ params: { To: "+15005550006" } })
      .then((call) => call.on("error", () => {}), () => {});
    window.__devices.push(device);
  }
}
"""

HOME_BY_EDGE = {"ashburn": "us1", "dublin": None}


def twilio_sources(policy: str) -> set[tuple[str, str]]:
    return {
        (directive, source)
        for directive, sources in directives(policy).items()
        for source in sources
        if source.endswith(".twilio.com")
    }


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def without_twilio(policy: str) -> str:
    return "; ".join(
        " ".join([name, *(s for s in sources if not s.endswith(".twilio.com"))])
        for name, sources in directives(policy).items()
    )


def silent_wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\0\0" * 400)
    return buffer.getvalue()


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}"


@dataclass
class Probe:
    """A page of the site under a given policy, recording what the SDK got to send."""

    page: Page
    policy: str
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # type, method, url
    sockets: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    markers: int = 0

    @classmethod
    def open(cls, context: BrowserContext, host: LocalHost, policy: str) -> Probe:
        probe = cls(context.new_page(), policy)
        probe.page.add_init_script(VIOLATIONS)
        probe.page.route(host.base_url + PROBE, probe._document)
        probe.page.route("https://*.twilio.com/**", probe._twilio)
        probe.page.on("websocket", lambda socket: probe.sockets.append(socket.url))
        probe.page.on("pageerror", lambda error: probe.errors.append(str(error)))
        probe.page.goto(host.base_url + PROBE)
        return probe

    def _document(self, route: Route) -> None:
        # The site's own answer (the fallback page, its headers), with our policy and an empty
        # body, so that nothing but the SDK runs on it.
        served = route.fetch()
        headers = {**served.headers, "content-security-policy": self.policy}
        route.fulfill(
            status=200, headers=headers, body="<!doctype html><html lang='en'><title>p</title>"
        )

    def _twilio(self, route: Route) -> None:
        request = route.request
        self.requests.append((request.resource_type, request.method, request.url))
        cors = {
            "access-control-allow-origin": "*",
            "access-control-allow-headers": "content-type, x-twilio-token",
            "access-control-allow-methods": "GET, POST",
        }
        if urlsplit(request.url).hostname == "sdk.twilio.com":  # a sound
            route.fulfill(headers={**cors, "content-type": "audio/wav"}, body=silent_wav())
        else:  # an Insights event
            route.fulfill(headers={**cors, "content-type": "application/json"}, body="{}")

    def run(self, script: str, **arguments: Any) -> None:
        self.page.evaluate(script, arguments)

    def wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        """Polls until condition holds, letting the page's own events run meanwhile."""
        deadline = time.monotonic() + WAIT_SECONDS
        while not condition():
            if time.monotonic() > deadline:
                sent = sorted({(kind, method, origin(url)) for kind, method, url in self.requests})
                raise AssertionError(
                    f"{what} did not happen within {WAIT_SECONDS} s. The SDK sent {sent}, "
                    f"opened {sorted(set(self.sockets))}, was refused {self._refused()}, "
                    f"threw {self.errors}"
                )
            self.page.wait_for_timeout(50)

    def violations(self) -> set[tuple[str, str]]:
        """Every refusal so far: a new marker host's refusal is awaited, and refusals are
        reported in order, so every refusal before it is in."""
        self.markers += 1
        marker = f"https://m{self.markers}{MARKERS}"
        self.page.evaluate(f"fetch({json.dumps(marker)}).catch(() => {{}})")
        self.wait_for(f"the refusal of {marker}", lambda: marker in self._refused())
        return {
            (directive, origin(blocked))
            for directive, blocked in self.page.evaluate("window.__violations")
            if not origin(blocked).endswith(MARKERS)
        }

    def _refused(self) -> set[str]:
        return {origin(blocked) for _, blocked in self.page.evaluate("window.__violations")}

    def fetched(self, kind: str, url_origin: str, method: str = "GET") -> bool:
        return any(
            (kind, method) == (t, m) and origin(url) == url_origin for t, m, url in self.requests
        )

    def close(self) -> None:
        self.page.evaluate("(window.__devices || []).forEach((device) => device.destroy())")
        self.page.close()


def stand_in_signalling(socket: WebSocketRoute) -> None:
    """Answers `listen` as Twilio's signalling does once it accepts a token, and `register`."""
    edge = urlsplit(socket.url).hostname.split(".")[1]  # type: ignore[union-attr]

    def answer(message: str | bytes) -> None:
        kind = json.loads(message)["type"]
        if kind == "listen":
            payload: dict[str, Any] = {
                "edge": edge,
                "region": "US_EAST_VIRGINIA",
                "token": {"identity": "probe", "ttl": 600},
            }
            if HOME_BY_EDGE[edge]:
                payload["home"] = HOME_BY_EDGE[edge]
            socket.send(json.dumps({"type": "connected", "version": "1.6", "payload": payload}))
        elif kind == "register":
            socket.send(json.dumps({"type": "ready", "version": "1.6", "payload": {}}))

    socket.on_message(answer)


@pytest.fixture(scope="module")
def offline_browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=chromium_path(),
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
        ],
    )
    yield browser
    browser.close()


@pytest.fixture
def context(offline_browser: Browser) -> Iterator[BrowserContext]:
    context = offline_browser.new_context(permissions=["microphone"])
    yield context
    context.close()


def exercise(context: BrowserContext, host: LocalHost, policy: str) -> list[Probe]:
    sockets = Probe.open(context, host, policy)
    sockets.run(SOUNDS_AND_SOCKETS, edges=list(EDGES), token=TOKEN)
    calls = Probe.open(context, host, policy)
    calls.page.route_web_socket("wss://voice-js.*.twilio.com/signal", stand_in_signalling)
    calls.page.reload()  # the stand-in replaces the page's WebSocket as the page loads
    calls.run(CALLS, token=TOKEN)
    return [sockets, calls]


def test_under_the_sites_policy_the_sdk_is_refused_nothing(
    context: BrowserContext, host: LocalHost
) -> None:
    sockets, calls = exercise(context, host, POLICY)

    signalling = {f"wss://voice-js.{edge}.twilio.com/signal" for edge in EDGES}
    sockets.wait_for("a socket to every edge", lambda: signalling <= set(sockets.sockets))
    sockets.wait_for(
        "sounds through WebAudio", lambda: sockets.fetched("xhr", "https://sdk.twilio.com")
    )
    sockets.wait_for(
        "sounds as <audio>", lambda: sockets.fetched("media", "https://sdk.twilio.com")
    )
    gateways = ("https://eventgw.us1.twilio.com", "https://eventgw.twilio.com")
    calls.wait_for(
        "an Insights event to each gateway",
        lambda: all(calls.fetched("fetch", gateway, "POST") for gateway in gateways),
    )

    assert sockets.violations() == set()
    assert calls.violations() == set()
    assert sockets.errors == calls.errors == []
    sockets.close()
    calls.close()


def test_every_twilio_source_of_the_policy_is_one_the_sdk_needs(
    context: BrowserContext, host: LocalHost
) -> None:
    needed = twilio_sources(POLICY)
    assert len(needed) == len(EDGES) + 4  # the edges' sockets, two gateways, sounds twice
    probes = exercise(context, host, without_twilio(POLICY))

    def refused() -> set[tuple[str, str]]:
        return set().union(*(probe.violations() for probe in probes))

    probes[0].wait_for("a refusal of every Twilio source", lambda: needed <= refused())
    assert refused() == needed
    for probe in probes:
        probe.close()

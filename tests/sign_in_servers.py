"""The servers of the sign-in tests, all real and all on loopback.

- `LoopbackCA`: a test certificate authority (trustme) and a server certificate for 127.0.0.1.
- `OidcProvider`: a real OpenID Connect provider, oidc-provider-mock, in a child process, over
  TLS, mounted under `/<tenant id>/v2.0` as Entra serves a tenant, so that the authority MSAL
  is given is `https://127.0.0.1:<port>/<tenant id>` (MSAL takes only an https authority
  with a path) and MSAL reads its discovery document where it reads Entra's.
- `TlsFront`: TLS in front of the local host (which speaks plain http), as Azure's front end
  is in front of a Function App, so that the host can run in production mode with an https
  PUBLIC_BASE_URL: `__Host-` cookies, Secure, the redirect URI, all as deployed.

The local host trusts the test CA through REQUESTS_CA_BUNDLE, which requests (and so MSAL's
session) honours; the tests' own clients are given the bundle directly.

`python -m tests.sign_in_servers provider --port N --pem FILE` runs the provider itself.
"""

from __future__ import annotations

import argparse
import contextlib
import select
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import requests

from local_host.azurite import free_port
from tests.loopback import LoopbackListener
from tests.servers import PRODUCTION, REPO, LocalHost

# Shaped like a tenant id, as the path of an External ID authority holds one.
TENANT_ID = "4f1c2d3e-0000-4000-8000-00000000c1a0"
CLIENT_ID = "7e57c11e-0000-4000-8000-0000000c11e7"
CLIENT_SECRET = "test-client-secret"
_CHUNK = 65536


class LoopbackCA:
    """A certificate authority for this test run, and a certificate it issued for loopback."""

    def __init__(self, directory: Path) -> None:
        import trustme

        self._ca = trustme.CA(organization_name="OwnNumber tests")
        server = self._ca.issue_cert("127.0.0.1", "localhost")
        self.bundle = directory / "test-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.bundle))
        self.server_pem = directory / "loopback-server.pem"
        server.private_key_and_cert_chain_pem.write_to_path(str(self.server_pem))

    def server_context(self) -> ssl.SSLContext:
        return server_context(self.server_pem)

    def client(self) -> requests.Session:
        """A requests session that trusts this CA (and, without trust_env, no variable of the
        environment overrides that, as REQUESTS_CA_BUNDLE otherwise would)."""
        http = requests.Session()
        http.trust_env = False
        http.verify = str(self.bundle)
        return http


def server_context(pem: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pem))
    return context


class OidcProvider:
    """oidc-provider-mock over TLS in a child process; users are set through its API."""

    def __init__(self, ca: LoopbackCA) -> None:
        self.port = free_port()
        self.origin = f"https://127.0.0.1:{self.port}"
        self.authority = f"{self.origin}/{TENANT_ID}"
        # Where Entra keeps a tenant's endpoints, and where MSAL looks for them.
        self.base_url = f"{self.authority}/v2.0"
        self.discovery_url = f"{self.base_url}/.well-known/openid-configuration"
        self._ca = ca
        self.http = ca.client()
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()

    def start(self) -> OidcProvider:
        command = [sys.executable, "-m", "tests.sign_in_servers", "provider"]
        command += ["--port", str(self.port), "--pem", str(self._ca.server_pem)]
        self.process = subprocess.Popen(
            command, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT
        )
        self._wait_for_discovery()
        return self

    def _wait_for_discovery(self, timeout: float = 30.0) -> None:
        """Polls the discovery document: the provider is ready when it serves that over TLS."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the OpenID provider exited:\n{self.output()[-2000:]}")
            try:
                if self.http.get(self.discovery_url, timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.05)  # not listening yet: poll again
        raise RuntimeError(f"{self.discovery_url} did not answer within {timeout} s")

    def set_user(self, sub: str, claims: dict[str, Any]) -> None:
        """What the provider's ID tokens say about this subject from now on."""
        response = self.http.put(f"{self.base_url}/users/{sub}", json=claims, timeout=10)
        assert response.status_code == 204, response.text

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        self._log.close()


class TlsFront(LoopbackListener):
    """Terminates TLS on a loopback port and passes the bytes on to upstream_port in plain
    http, one thread per connection (an SSL socket is never read and written at once from
    two threads). upstream_port may be set after construction, before the first client."""

    def __init__(self, context: ssl.SSLContext, upstream_port: int = 0) -> None:
        super().__init__()
        self.upstream_port = upstream_port
        self._context = context
        self.base_url = f"https://127.0.0.1:{self.port}"
        self.start()

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(10)
        try:
            tls = self._context.wrap_socket(client, server_side=True)
        except (OSError, ssl.SSLError):
            client.close()  # a client that does not trust us, or is not speaking TLS
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            tls.close()
            return
        with contextlib.suppress(OSError, ssl.SSLError), tls, upstream:
            while not self._stopped.is_set():
                # Bytes TLS has decrypted already are not on the socket for select to see.
                ready = [tls] if tls.pending() else select.select([tls, upstream], [], [], 0.5)[0]
                if tls in ready:
                    data = tls.recv(_CHUNK)
                    if not data:
                        return
                    upstream.sendall(data)
                if upstream in ready:
                    data = upstream.recv(_CHUNK)
                    if not data:
                        return
                    tls.sendall(data)


class EntraSite:
    """The local host in production mode behind a TlsFront, signing in through an OidcProvider
    as it would through Entra External ID: base_url is its https PUBLIC_BASE_URL."""

    def __init__(self, storage: str, ca: LoopbackCA, provider: OidcProvider) -> None:
        self.ca = ca
        self.provider = provider
        self.front = TlsFront(ca.server_context())
        self.base_url = self.front.base_url
        self.host = LocalHost(
            storage,
            {
                **PRODUCTION,
                "PUBLIC_BASE_URL": self.base_url,
                "AUTH_AUTHORITY": provider.authority,
                "AUTH_CLIENT_ID": CLIENT_ID,
                "AUTH_CLIENT_SECRET": CLIENT_SECRET,
                # The host reaches the provider with requests, which trusts this bundle.
                "REQUESTS_CA_BUNDLE": str(ca.bundle),
            },
        )
        self.front.upstream_port = self.host.port

    def start(self) -> EntraSite:
        self.host.start()
        return self

    def stop(self) -> str:
        output = self.host.stop()
        self.front.close()
        return output


def _serve_provider(port: int, pem: Path) -> None:
    import oidc_provider_mock
    import werkzeug.serving
    from werkzeug.exceptions import NotFound
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    # Nonces required: MSAL always sends one, and must keep doing so.
    provider = oidc_provider_mock.app(require_nonce=True)
    app = DispatcherMiddleware(NotFound(), {f"/{TENANT_ID}/v2.0": provider})
    server = werkzeug.serving.make_server(
        "127.0.0.1", port, app, threaded=True, ssl_context=server_context(pem)
    )
    server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.sign_in_servers")
    parser.add_argument("server", choices=["provider"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pem", type=Path, required=True)
    args = parser.parse_args(argv)
    _serve_provider(args.port, args.pem)


if __name__ == "__main__":
    main()

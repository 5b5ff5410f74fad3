"""`python -m local_host`: Azurite, the functions, the timers, the site, and (with no Twilio or
Stripe credentials) the sandbox; prints the URL to open."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from local_host.azurite import (
    DEFAULT_TABLE_PORT,
    REPO,
    Azurite,
    AzuriteError,
    connection_string,
    is_listening,
)
from local_host.settings_file import SettingsFileError, load_into_environment
from shared.config import is_development_storage, is_loopback_host, is_loopback_url
from shared.telemetry.log_masking import install_log_masking

if TYPE_CHECKING:
    from local_host.http_types import Mount
    from local_host.server import LocalServer
    from local_host.timers import TimerRunner

DEFAULT_DATA_DIR = REPO / ".local" / "azurite"


class StartupError(Exception):
    """The host cannot start; the message says why, in one sentence."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("azure", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # From the first line on, as the app's first invocation would: the sandbox logs too.
    install_log_masking()
    # SIGTERM (kill, process managers, the tests) and SIGHUP (the terminal closed) unwind
    # like Ctrl-C does, through the `finally` below, so that an Azurite this host started is
    # stopped, and saves its data: being in a process group of its own, it gets none of them.
    previous = {
        sig: signal.signal(sig, _interrupt)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }

    host = _Host(args)
    try:
        host.start()
        host.serve()
    except StartupError as error:
        print(f"OwnNumber cannot start: {error}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the clean-up (and so Azurite's save) short.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        host.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


class _Host:
    """What `python -m local_host` runs. Each part is kept as soon as it is started, so that
    stop() undoes a start-up that failed halfway as well as a whole one."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.server: LocalServer | None = None
        self.timers: TimerRunner | None = None
        self.azurite: Azurite | None = None

    def start(self) -> None:
        args = self.args
        settings_path = args.settings or _default_settings_file()
        try:
            from_file = load_into_environment(settings_path)
        except SettingsFileError as error:
            raise StartupError(str(error)) from None
        _follow_listen_address(args.host, args.port, from_file)
        uses_azurite = is_development_storage(os.environ.get("AzureWebJobsStorage", ""))
        if uses_azurite:
            if args.azurite_port == args.port:
                raise StartupError(
                    f"--port and --azurite-port are both {args.port}; they must differ."
                )
            # The app reads AzureWebJobsStorage (environment names are case-sensitive here):
            # point that at the Azurite on --azurite-port.
            os.environ["AzureWebJobsStorage"] = connection_string(args.azurite_port)

        from shared.config import ConfigError, get_settings

        try:
            settings = get_settings()
        except ConfigError as error:
            raise StartupError(str(error)) from None
        if settings.is_sandbox and not is_loopback_host(args.host):
            raise StartupError(
                "The sandbox (OWNNUMBER_MODE=sandbox) signs anyone in without a password, so"
                f" it listens only on a loopback address such as 127.0.0.1, not on {args.host}."
            )

        import function_app
        from local_host.custom_headers import CustomHeadersError
        from local_host.functions_host import FunctionsHost
        from local_host.server import LocalServer
        from local_host.static_files import StaticSite
        from local_host.timers import TimerRunner

        try:
            functions = FunctionsHost.from_host_json(function_app.app, REPO / "host.json")
        except CustomHeadersError as error:
            raise StartupError(str(error)) from None
        mounts: list[Mount] = []
        if settings.is_sandbox:
            from local_host.sandbox import sandbox_mounts

            mounts = sandbox_mounts(settings)
        # Bound before Azurite starts, so that a port in use is reported with nothing to undo.
        try:
            self.server = LocalServer(
                functions, StaticSite.load(REPO / "static_site"), mounts, args.host, args.port
            )
        except OSError as error:
            raise StartupError(_cannot_listen(args.host, args.port, error)) from None

        storage = "the storage account in AzureWebJobsStorage"
        if uses_azurite:
            storage = self._start_azurite()
        if args.no_timers:
            names = ", ".join(timer.name for timer in functions.timers) or "none"
            print(
                f"Timers are off (--no-timers): run one with POST /admin/functions/NAME ({names})",
                flush=True,
            )
        else:
            self.timers = TimerRunner(functions)
            self.timers.start()

        mode = "sandbox: Twilio and Stripe are simulated" if settings.is_sandbox else "production"
        print(f"OwnNumber is running ({mode}); storage: {storage}", flush=True)
        print(f"Open {settings.public_base_url}/", flush=True)
        if not settings.public_base_url.startswith(self.server.base_url):
            print(f"(listening on {self.server.base_url})", flush=True)

    def _start_azurite(self) -> str:
        port = self.args.azurite_port
        if is_listening(port):
            print(f"Using the Azurite already listening on 127.0.0.1:{port}", flush=True)
            return f"Azurite on 127.0.0.1:{port}, not started or stopped by this host"
        data_dir = None if self.args.in_memory else self.args.data_dir.resolve()
        try:
            self.azurite = Azurite(port, data_dir).start()
        except AzuriteError as error:
            raise StartupError(str(error)) from None
        kept = "in memory only" if data_dir is None else f"data in {data_dir}"
        return f"Azurite on 127.0.0.1:{port}, {kept}"

    def serve(self) -> None:
        assert self.server is not None
        self.server.serve_forever()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
        if self.timers:
            self.timers.stop()
        if self.azurite:
            self.azurite.stop()


def _follow_listen_address(host: str, port: int, from_file: dict[str, str]) -> None:
    """The sample's PUBLIC_BASE_URL names 127.0.0.1:7071: on loopback, it follows --host and
    --port, unless the shell set PUBLIC_BASE_URL itself or it names a real public address."""
    current = os.environ.get("PUBLIC_BASE_URL", "")
    if current and current != from_file.get("PUBLIC_BASE_URL"):
        return
    if current and not is_loopback_url(current):
        return
    # Not 0.0.0.0: that is where one listens, not an address a browser or Twilio is given.
    name = host if is_loopback_host(host) else "127.0.0.1"
    if ":" in name:
        name = f"[{name}]"
    os.environ["PUBLIC_BASE_URL"] = f"http://{name}:{port}"


def _cannot_listen(host: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return f"Port {port} on {host} is already in use; choose another with --port."
    if error.errno == errno.EACCES:
        return f"Listening on port {port} needs privileges; choose one above 1023 with --port."
    return f"Cannot listen on {host}:{port}: {error.strerror or error}."


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_host", description=__doc__)
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1); the sandbox allows only loopback ones",
    )
    parser.add_argument("--port", type=_port, default=7071, help="port to listen on (7071)")
    parser.add_argument(
        "--settings",
        type=Path,
        metavar="FILE",
        help="a local.settings.json (default: local.settings.json, else the sample)",
    )
    parser.add_argument(
        "--azurite-port",
        type=_port,
        default=DEFAULT_TABLE_PORT,
        metavar="PORT",
        help=f"port of Azurite's table service ({DEFAULT_TABLE_PORT})",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        metavar="DIR",
        help="where the Azurite this host starts keeps its data (.local/azurite)",
    )
    parser.add_argument(
        "--in-memory",
        action="store_true",
        help="keep Azurite's data in memory only: gone when the host stops",
    )
    parser.add_argument(
        "--no-timers",
        action="store_true",
        help="do not run timers on their schedules (POST /admin/functions/NAME still runs one)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not between 1 and 65535")
    return port


def _interrupt(_signal: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _default_settings_file() -> Path:
    own = REPO / "local.settings.json"
    return own if own.exists() else REPO / "local.settings.sample.json"


if __name__ == "__main__":
    sys.exit(main())

"""`python -m local_host`: Azurite, the functions, the timers, the site, and (with no Twilio or
Stripe credentials) the sandbox; prints the URL to open."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from urllib.parse import urlsplit

from local_host.azurite import DEFAULT_TABLE_PORT, REPO, Azurite, is_listening
from local_host.settings_file import load_into_environment

DEV_STORAGE = "UseDevelopmentStorage=true"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_host", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument(
        "--settings", type=Path, help="default: local.settings.json, else the sample"
    )
    parser.add_argument("--azurite-port", type=int, default=DEFAULT_TABLE_PORT)
    parser.add_argument("--in-memory", action="store_true", help="keep Azurite's data in memory")
    parser.add_argument("--no-timers", action="store_true", help="run timers only via /admin")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("azure", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    settings_path = args.settings or _default_settings_file()
    from_file = load_into_environment(settings_path)
    # The sample's PUBLIC_BASE_URL names port 7071; follow --port unless the shell set it.
    if "PUBLIC_BASE_URL" not in os.environ or os.environ["PUBLIC_BASE_URL"] == from_file.get(
        "PUBLIC_BASE_URL"
    ):
        hostname = urlsplit(os.environ.get("PUBLIC_BASE_URL", "")).hostname
        if hostname in (None, "127.0.0.1", "localhost"):
            os.environ["PUBLIC_BASE_URL"] = f"http://{args.host}:{args.port}"

    azurite: Azurite | None = None
    storage_label = "the storage account in AzureWebJobsStorage"
    if os.environ.get("AzureWebJobsStorage", "").strip() == DEV_STORAGE:
        storage_label = f"Azurite on 127.0.0.1:{args.azurite_port}"
        if is_listening(args.azurite_port):
            print(f"Using the Azurite already listening on 127.0.0.1:{args.azurite_port}")
        else:
            data_dir = None if args.in_memory else REPO / ".local" / "azurite"
            azurite = Azurite(args.azurite_port, data_dir).start()
        os.environ["AZUREWEBJOBSSTORAGE"] = Azurite(args.azurite_port).connection_string

    from shared.config import ConfigError, get_settings

    try:
        settings = get_settings()
    except ConfigError as error:
        print(f"OwnNumber cannot start: {error}", file=sys.stderr)
        if azurite:
            azurite.stop()
        return 2

    import function_app
    from local_host.functions_host import FunctionsHost
    from local_host.sandbox import sandbox_mounts
    from local_host.server import LocalServer
    from local_host.static_files import StaticSite
    from local_host.timers import TimerRunner

    functions = FunctionsHost.from_host_json(function_app.app, REPO / "host.json")
    mounts = sandbox_mounts(settings) if settings.is_sandbox else []
    server = LocalServer(
        functions, StaticSite.load(REPO / "static_site"), mounts, args.host, args.port
    )
    timers = TimerRunner(functions)
    if not args.no_timers:
        timers.start()

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    mode = "sandbox: Twilio and Stripe are simulated" if settings.is_sandbox else "production"
    print(f"OwnNumber is running ({mode}); storage: {storage_label}", flush=True)
    print(f"Open {settings.public_base_url}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        timers.stop()
        server.shutdown()
        if azurite:
            azurite.stop()
    return 0


def _default_settings_file() -> Path:
    own = REPO / "local.settings.json"
    return own if own.exists() else REPO / "local.settings.sample.json"


if __name__ == "__main__":
    sys.exit(main())

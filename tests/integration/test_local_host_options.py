"""`python -m local_host` (what scripts/dev runs), started as a child process with each of its
options and checked from the outside: where it listens, which Azurite it writes to, what it
keeps, what it reads, and the one sentence it prints when it cannot start."""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local_host.azurite import (
    DEFAULT_TABLE_PORT,
    Azurite,
    connection_string,
    free_port,
    is_listening,
)
from shared.storage.keys import ACCOUNTS_TABLE, PROFILE_KEY
from shared.storage.rows import Insert, Row
from shared.storage.table_store import TableStore
from tests.conftest import Client
from tests.servers import PRODUCTION, SAMPLE_SETTINGS, LocalHost


def own_azurite(data_dir: Path, azurite_port: int, *options: str) -> LocalHost:
    """A host that starts its own Azurite (the settings' UseDevelopmentStorage=true), with the
    URL the app gives out left for the host to derive."""
    return LocalHost(
        None,
        {"PUBLIC_BASE_URL": None},
        args=[
            *("--azurite-port", str(azurite_port), "--data-dir", str(data_dir), "--no-timers"),
            *options,
        ],
    )


@pytest.fixture
def stopped_hosts() -> Iterator[list[LocalHost]]:
    """Hosts a test started; stopped at its end even when an assertion failed first (stopping
    one twice is harmless)."""
    hosts: list[LocalHost] = []
    yield hosts
    for host in hosts:
        host.stop()


def children_of(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name, in brackets, may hold spaces; the parent's pid comes after it.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a process that ended while being looked at
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def profile_in(azurite_port: int, user_id: str) -> Row | None:
    return (
        TableStore(connection_string(azurite_port)).table(ACCOUNTS_TABLE).get(user_id, PROFILE_KEY)
    )


def test_azurite_port_and_port_take_effect(tmp_path: Path, stopped_hosts: list[LocalHost]) -> None:
    azurite_port = free_port()
    default_was_busy = is_listening(DEFAULT_TABLE_PORT)
    host = own_azurite(tmp_path / "azurite", azurite_port)
    stopped_hosts.append(host.start())

    client = Client(host.base_url)
    user = client.sign_in()
    # The write went to the Azurite on --azurite-port, not to the default 10002.
    assert profile_in(azurite_port, user["user_id"]) is not None
    if not default_was_busy:
        assert not is_listening(DEFAULT_TABLE_PORT)
    # PUBLIC_BASE_URL followed --port: the app's own calls to the Stripe sandbox reach it
    # there, and the checkout page it hands out is there too.
    checkout = client.post("/api/checkout", json={"pack": "5", "nonce": uuid.uuid4().hex})
    assert checkout.status_code == 200, checkout.text
    assert checkout.json()["url"].startswith(f"{host.base_url}/sandbox/stripe/")

    output = host.stop()
    assert f"storage: Azurite on 127.0.0.1:{azurite_port}" in output
    assert f"Open {host.base_url}/" in output
    assert not is_listening(azurite_port), "the host must stop the Azurite it started"


@pytest.mark.parametrize(
    ("in_memory", "ctrl_c"),
    [(False, False), (False, True), (True, False)],
    ids=["data-dir-sigterm", "data-dir-ctrl-c", "in-memory"],
)
def test_data_is_kept_across_a_restart_unless_in_memory(
    tmp_path: Path, stopped_hosts: list[LocalHost], in_memory: bool, ctrl_c: bool
) -> None:
    data_dir = tmp_path / "azurite"
    azurite_port = free_port()
    options = ["--in-memory"] if in_memory else []
    first = own_azurite(data_dir, azurite_port, *options)
    stopped_hosts.append(first.start())
    client = Client(first.base_url)
    user = client.sign_in()
    # Ballast, so that Azurite's save on stopping takes long enough for a second signal (a
    # Ctrl-C reaching it as well as the host) to land in the middle of it.
    ballast = TableStore(connection_string(azurite_port)).table("ballast")
    for batch in range(10):
        ballast.commit("p", [Insert(f"{batch}-{n}", {"pad": "x" * 2000}) for n in range(100)])
    if ctrl_c:
        # The terminal's Ctrl-C goes to the host's process group; Azurite, in its own, is
        # stopped by the host with exactly one SIGINT (a second one kills it mid-save, which
        # the check of the data below catches only when the two signals do not coincide).
        assert first.process is not None
        [azurite_pid] = children_of(first.process.pid)
        assert os.getpgid(azurite_pid) != os.getpgid(first.process.pid)
    # Stopped at once: Azurite saves what it acknowledged only every few seconds, and on its
    # first SIGINT; stopped any other way (or interrupted twice) it would lose this sign-in.
    first.stop(ctrl_c=ctrl_c)
    assert not is_listening(azurite_port), "the host must stop the Azurite it started"

    assert data_dir.exists() is not in_memory
    second = own_azurite(data_dir, azurite_port, *options)
    stopped_hosts.append(second.start())
    again = Client(second.base_url)
    again.http.cookies.update(client.http.cookies)
    me = again.get("/api/me")
    if in_memory:
        assert me.status_code == 401, me.text
        assert profile_in(azurite_port, user["user_id"]) is None
    else:
        assert me.status_code == 200, me.text
        assert profile_in(azurite_port, user["user_id"]) is not None


def test_the_settings_file_is_read(
    tmp_path: Path, azurite_connection: str, stopped_hosts: list[LocalHost]
) -> None:
    settings = json.loads(SAMPLE_SETTINGS.read_text())
    settings["Values"]["CREDIT_PACKS"] = "7,12:13"
    path = tmp_path / "other.settings.json"
    path.write_text(json.dumps(settings))
    host = LocalHost(azurite_connection, settings=path)
    stopped_hosts.append(host.start())

    packs = requests.get(f"{host.base_url}/api/config", timeout=10).json()["credit_packs"]
    assert [(pack["id"], pack["credit_micros"]) for pack in packs] == [
        ("7", 7_000_000),
        ("12", 13_000_000),
    ]


@pytest.mark.parametrize("no_timers", [False, True], ids=["timers", "no-timers"])
def test_no_timers_leaves_the_timers_unarmed(
    azurite_connection: str, stopped_hosts: list[LocalHost], no_timers: bool
) -> None:
    host = LocalHost(azurite_connection, args=["--no-timers"] if no_timers else [])
    stopped_hosts.append(host.start())
    # The timer's schedule is every quarter of an hour, too long to wait for: the host's log
    # says which timers it armed. On demand, the admin endpoint runs one either way.
    ran = requests.post(f"{host.base_url}/admin/functions/reconcile", timeout=30)
    assert ran.status_code == 202
    output = host.stop()
    armed = "Timer reconcile runs on the schedule '0 */15 * * * *'" in output
    assert armed is not no_timers, output
    assert ("Timers are off (--no-timers)" in output) is no_timers, output


def test_host_is_the_address_listened_on_and_in_the_public_url(
    stopped_hosts: list[LocalHost], azurite_connection: str
) -> None:
    host = LocalHost(azurite_connection, {"PUBLIC_BASE_URL": None}, host="127.0.0.2")
    stopped_hosts.append(host.start())
    assert requests.get(f"{host.base_url}/api/health", timeout=10).status_code == 200
    assert not is_listening(host.port, "127.0.0.1")
    output = host.stop()
    assert f"Open http://127.0.0.2:{host.port}/" in output


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "192.0.2.10"])
def test_the_sandbox_refuses_to_listen_beyond_loopback(
    azurite_connection: str, address: str
) -> None:
    host = LocalHost(azurite_connection, host=address)
    result = host.run_until_exit()
    assert result.returncode == 2
    # One sentence, whichever guard speaks first: the listen address, or the PUBLIC_BASE_URL
    # made from it (shared.config refuses a sandbox whose public URL is not loopback).
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("OwnNumber cannot start: ")
    assert "loopback address" in line
    assert not is_listening(host.port)


def test_the_sandbox_is_mounted_only_in_sandbox_mode(
    client: Client, azurite_connection: str, stopped_hosts: list[LocalHost]
) -> None:
    assert client.get("/sandbox/telephony").status_code == 200
    assert client.get("/sandbox/telephony/device.js").status_code == 200
    production = LocalHost(
        azurite_connection,
        PRODUCTION,
    )
    stopped_hosts.append(production.start())
    for path in (
        "/sandbox/telephony",
        "/sandbox/telephony/device.js",
        "/sandbox/stripe/_requests",
        "/sandbox/twilio/",
    ):
        assert requests.get(production.base_url + path, timeout=10).status_code == 404, path


@pytest.mark.parametrize(
    ("contents", "sentence"),
    [
        (None, "The settings file {path} does not exist."),
        (
            '{"Values": {"A": "1",}}',
            "The settings file {path} is not valid JSON: Expecting property name enclosed in"
            " double quotes at line 1, column 22.",
        ),
        ("[1, 2]", 'The settings file {path} must be a JSON object with a "Values" object,'),
        ('{"Values": "A=1"}', 'The settings file {path} must be a JSON object with a "Values"'),
        ('{"Values": {"A": {"B": 1}}}', "The setting A in {path} must be a string, a number"),
    ],
    ids=["missing", "bad-json", "not-an-object", "values-not-an-object", "nested-value"],
)
def test_a_bad_settings_file_is_one_sentence(
    tmp_path: Path, contents: str | None, sentence: str
) -> None:
    path = tmp_path / "local.settings.json"
    if contents is not None:
        path.write_text(contents)
    result = LocalHost(None, settings=path).run_until_exit()
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("OwnNumber cannot start: " + sentence.format(path=path)), line


def test_a_port_in_use_is_one_sentence_and_leaves_no_azurite(tmp_path: Path) -> None:
    azurite_port = free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        host = own_azurite(tmp_path / "azurite", azurite_port)
        busy = squatter.getsockname()[1]
        host.args[host.args.index("--port") + 1] = str(busy)
        result = host.run_until_exit()
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.strip() == (
        f"OwnNumber cannot start: Port {busy} on 127.0.0.1 is already in use; choose another"
        " with --port."
    )
    assert not is_listening(azurite_port)


@pytest.mark.parametrize(
    ("data_dir", "reason"),
    [
        ("a-file", "that is a file, not a folder"),
        ("a-file/azurite", "a folder above it is a file"),
        ("/proc/ownnumber-azurite", "no such file or directory"),
    ],
    ids=["a-file", "below-a-file", "proc"],
)
def test_a_data_dir_that_cannot_be_made_is_one_sentence(
    tmp_path: Path, data_dir: str, reason: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    path = tmp_path / data_dir
    azurite_port = free_port()
    result = own_azurite(path, azurite_port).run_until_exit()
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.strip() == (
        f"OwnNumber cannot start: Azurite cannot keep its data in {path}: {reason}."
    )
    assert not is_listening(azurite_port)


def test_azurite_keeps_what_it_acknowledged_when_stopped(tmp_path: Path) -> None:
    port = free_port()
    azurite = Azurite(port, tmp_path / "azurite").start()
    try:
        TableStore(azurite.connection_string).table("kept").commit("p", [Insert("r", {"n": 1})])
    finally:
        azurite.stop()
    azurite = Azurite(port, tmp_path / "azurite").start()
    try:
        row = TableStore(azurite.connection_string).table("kept").get("p", "r")
    finally:
        azurite.stop()
    assert row is not None
    assert row.integer("n") == 1


def test_the_retention_timer_runs_on_the_schedule_its_setting_holds(
    azurite_connection: str, stopped_hosts: list[LocalHost]
) -> None:
    # The function's schedule is "%RETENTION_SCHEDULE%": the host reads it from the settings,
    # as the Functions host does, so the run moves with the setting, without a deployment.
    host = LocalHost(azurite_connection, {"RETENTION_SCHEDULE": "0 15 4 * * *"}, args=[])
    stopped_hosts.append(host.start())
    ran = requests.post(f"{host.base_url}/admin/functions/retention", timeout=120)
    assert ran.status_code == 202
    output = host.stop()
    assert "Timer retention runs on the schedule '0 15 4 * * *'" in output, output
    # One summary line, counts only.
    [summary] = [line for line in output.splitlines() if "ownnumber.retention: Retention:" in line]
    assert "round finished" in summary
    assert "@" not in summary


@pytest.mark.parametrize("schedule", ["at 3:30 every night", "0 30 3 * *"])
def test_a_malformed_retention_schedule_is_one_sentence_naming_the_setting(
    azurite_connection: str, schedule: str
) -> None:
    host = LocalHost(azurite_connection, {"RETENTION_SCHEDULE": schedule})
    result = host.run_until_exit()
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("OwnNumber cannot start: The setting RETENTION_SCHEDULE must be ")
    assert not is_listening(host.port)

"""What a cold start costs, in CPU seconds of a fresh interpreter, against the floor it cannot
go below: the targets of the house issue, measured side by side.

- Loading the app (`import function_app` and `app.get_functions()`, what the worker does)
  against a bare `import azure.functions`: target at most 1.3 times.
- A cold process's first `/api/token` (the app loaded, the session read from Table Storage,
  the token minted) against a script that imports only azure.functions, azure.data.tables and
  twilio.jwt and does the same one read and one mint: target at most 1.2 times.

Each figure is the median of `runs` fresh interpreters, timed inside the child with
process_time(), so the interpreter's own start-up is left out of both sides alike.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE_SETTINGS = REPO / "local.settings.sample.json"

_TIMED = """
import time
_started = time.process_time()
{body}
print(time.process_time() - _started)
"""

BARE = "import azure.functions"
APP = "import function_app\nfunction_app.app.get_functions()"

# The floor: only what a token mint cannot do without, written as directly as it can be.
TOKEN_FLOOR = """
import os
import azure.functions
from azure.data.tables import TableServiceClient
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant
user, session = os.environ["BENCH_USER"], os.environ["BENCH_SESSION"]
service = TableServiceClient.from_connection_string(os.environ["AzureWebJobsStorage"])
service.get_table_client("accounts").get_entity(user, "session:" + session)
token = AccessToken(os.environ["TWILIO_ACCOUNT_SID"], os.environ["TWILIO_API_KEY_SID"],
                    os.environ["TWILIO_API_KEY_SECRET"], identity=user + "_" + session, ttl=3600)
token.add_grant(VoiceGrant(outgoing_application_sid=os.environ["TWILIO_TWIML_APP_SID"]))
token.to_jwt()
"""

# The app's own path: loaded as the worker loads it, then the token function called with the
# session cookie, as the worker calls it.
TOKEN_APP = """
import os
import azure.functions as func
import function_app
token = next(f for f in function_app.app.get_functions() if f.get_function_name() == "token")
request = func.HttpRequest(
    "POST", os.environ["PUBLIC_BASE_URL"] + "/api/token", body=b"",
    headers={"cookie": "ownnumber_session=" + os.environ["BENCH_COOKIE"]},
)
response = token.get_user_function()(request)
assert response.status_code == 200, response.get_body()
"""


@dataclass(frozen=True)
class Ratio:
    label: str
    measured: float
    floor: float
    target: float

    @property
    def ratio(self) -> float:
        return self.measured / self.floor

    @property
    def meets_target(self) -> bool:
        return self.ratio <= self.target


def cpu_seconds(body: str, env: Mapping[str, str]) -> float:
    """CPU seconds the body takes in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", _TIMED.format(body=body)],
        cwd=REPO,
        env=dict(env),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def compared(
    label: str, body: str, floor: str, target: float, env: Mapping[str, str], runs: int
) -> Ratio:
    """Medians of the body and its floor, run in turns so that both see the same machine
    (on a shared 2-core machine, load comes and goes between runs)."""
    measured, floors = [], []
    for _ in range(runs):
        measured.append(cpu_seconds(body, env))
        floors.append(cpu_seconds(floor, env))
    return Ratio(label, statistics.median(measured), statistics.median(floors), target)


def app_environment(storage: str) -> dict[str, str]:
    """The sample settings, as the Functions host would put them in the environment."""
    values = json.loads(SAMPLE_SETTINGS.read_text())["Values"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "STRIPE_"))}
    env.update({name: str(value) for name, value in values.items()})
    env.update({"AzureWebJobsStorage": storage, "PYTHONPATH": str(REPO)})
    return env


def measure(storage: str, runs: int = 11) -> list[Ratio]:
    from shared.identity.sessions import Sessions
    from shared.storage.keys import ACCOUNTS_TABLE
    from shared.storage.table_store import TableStore

    env = app_environment(storage)
    sessions = Sessions(
        TableStore(storage).table(ACCOUNTS_TABLE),
        absolute=timedelta(days=1),
        idle=timedelta(hours=2),
        reauth_max_age=timedelta(minutes=10),
    )
    cookie, session = sessions.start("u" + "be" * 16)
    env.update(BENCH_USER=session.user_id, BENCH_SESSION=session.session_id, BENCH_COOKIE=cookie)
    return [
        compared("load the app / import azure.functions", APP, BARE, 1.3, env, runs),
        compared(
            "first /api/token, cold / the floor script", TOKEN_APP, TOKEN_FLOOR, 1.2, env, runs
        ),
    ]

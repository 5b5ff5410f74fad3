"""What Azure sees of bad settings: the app loads, one error in the log names every setting
that is wrong, and every request answers 503 with the same sentences, never a value."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.servers import REPO

SECRET = "pa55w0rd"

# Loads the app as the Functions worker does, then calls /api/health and /api/config as the
# host would; prints what they answered.
PROBE = """
import json, function_app
import azure.functions as func
answers = {}
for f in function_app.app.get_functions():
    if f.get_function_name() in ("health", "public_config"):
        req = func.HttpRequest("GET", "http://x/api/" + f.get_function_name(), body=b"")
        res = f.get_user_function()(req)
        answers[f.get_function_name()] = [res.status_code, res.get_body().decode(),
                                          dict(res.headers)]
print(json.dumps(answers))
"""


def load_app(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env={**base, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )


def test_an_empty_environment_loads_logs_one_error_and_answers_503() -> None:
    result = load_app({})
    errors = [line for line in result.stderr.splitlines() if "OwnNumber is misconfigured" in line]
    assert len(errors) == 1, result.stderr
    for name in ("PUBLIC_BASE_URL", "AzureWebJobsStorage", "TWILIO_AUTH_TOKEN", "AUTH_CLIENT_ID"):
        assert name in errors[0]
    answers = json.loads(result.stdout)
    assert set(answers) == {"health", "public_config"}
    for status, body, headers in answers.values():
        assert status == 503
        assert "The setting PUBLIC_BASE_URL is missing" in json.loads(body)["detail"]
        assert int(headers["Retry-After"]) > 0


def test_a_malformed_secret_bearing_setting_is_named_never_shown() -> None:
    result = load_app(
        {
            "PUBLIC_BASE_URL": f"ftp://user:{SECRET}@files.example.org",
            "AzureWebJobsStorage": f"DefaultEndpointsProtocol=https;AccountKey={SECRET}",
        }
    )
    assert "PUBLIC_BASE_URL must be an http(s) URL" in result.stderr
    assert SECRET not in result.stderr
    assert SECRET not in result.stdout
    assert "PUBLIC_BASE_URL" in result.stdout

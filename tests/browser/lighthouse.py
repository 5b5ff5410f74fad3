"""Lighthouse (npm `lighthouse`, installed by scripts/bootstrap) on a page of the local host, in
Debian's chromium, with nothing but loopback reachable.

    report = run_lighthouse(url, cookie="ownnumber_session=…")
    report.scores["accessibility"]    # 0-100
    report.failing["best-practices"]  # the audits that cost it points

Each run is a fresh `lighthouse` process in a temporary folder (its Chrome profile, its
settings and its report go there and are deleted with it), bounded by a time-out after which
the process and its Chrome are killed. Error reporting is off, and the Chrome it starts
resolves no host name at all (only 127.0.0.1 is reachable), so nothing leaves the machine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.browser.chromium import CHROMIUM_ARGS, chromium_path
from tests.servers import REPO

LIGHTHOUSE = REPO / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ("accessibility", "best-practices")
# Quoted as Lighthouse's --chrome-flags parser wants a value with spaces.
OFFLINE = '--host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"'


@dataclass(frozen=True)
class FailingAudit:
    id: str
    title: str
    score: float


@dataclass(frozen=True)
class LighthouseReport:
    scores: dict[str, int]  # category id -> 0..100, as Lighthouse rounds it
    failing: dict[str, list[FailingAudit]]  # category id -> its audits that lost points
    console_errors: list[str]  # what the "errors-in-console" audit saw
    seconds: float

    def explain(self, category: str) -> str:
        audits = self.failing.get(category, [])
        listed = "; ".join(f"{a.title} ({a.id}, score {a.score:g})" for a in audits) or "none"
        return f"{category} {self.scores.get(category)}: failing audits: {listed}"


def run_lighthouse(
    url: str,
    *,
    cookie: str | None = None,
    categories: Sequence[str] = CATEGORIES,
    timeout: float = 180.0,
) -> LighthouseReport:
    if not LIGHTHOUSE.exists():
        raise FileNotFoundError(f"{LIGHTHOUSE} is missing: run scripts/bootstrap (npm ci).")
    with tempfile.TemporaryDirectory(prefix="lighthouse-") as folder:
        output = Path(folder) / "report.json"
        chrome_flags = " ".join([*CHROMIUM_ARGS, "--headless=new", OFFLINE])
        command = [
            str(LIGHTHOUSE),
            url,
            "--output=json",
            f"--output-path={output}",
            "--quiet",
            f"--only-categories={','.join(categories)}",
            f"--chrome-flags={chrome_flags}",
            "--no-enable-error-reporting",
            "--disable-full-page-screenshot",
        ]
        if cookie is not None:
            command.append(f"--extra-headers={json.dumps({'Cookie': cookie})}")
        env = {
            **os.environ,
            "CHROME_PATH": chromium_path(),
            "TMPDIR": folder,  # Chrome's profile (chrome-launcher makes it in the temp folder)
            "XDG_CONFIG_HOME": folder,  # Lighthouse's own settings file
        }
        started = time.monotonic()
        finished = _run(command, env, Path(folder), timeout)
        seconds = time.monotonic() - started
        if finished.returncode != 0 or not output.exists():
            raise RuntimeError(
                f"Lighthouse failed (exit status {finished.returncode}) on {url}:\n"
                f"{finished.stderr[-3000:]}"
            )
        return summarise(json.loads(output.read_text()), seconds)


def _run(
    command: list[str], env: dict[str, str], cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    # A session of its own, so that a run that hangs is killed with the Chrome it started.
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        _, stderr = process.communicate()
        raise RuntimeError(
            f"Lighthouse did not finish within {timeout:g} s (killed):\n{stderr[-3000:]}"
        ) from None
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def summarise(report: dict[str, Any], seconds: float = 0.0) -> LighthouseReport:
    """The scores of a Lighthouse JSON report, and per category the audits that weigh in its
    score and did not pass (informative and not-applicable audits have no score)."""
    scores: dict[str, int] = {}
    failing: dict[str, list[FailingAudit]] = {}
    for category_id, category in report["categories"].items():
        score = category["score"]
        scores[category_id] = round(score * 100) if score is not None else 0
        failing[category_id] = [
            FailingAudit(ref["id"], audit["title"], audit["score"])
            for ref in category["auditRefs"]
            if ref.get("weight", 0) > 0
            and (audit := report["audits"][ref["id"]])["score"] is not None
            and audit["score"] < 1
        ]
    console = report["audits"].get("errors-in-console", {}).get("details", {}).get("items", [])
    errors = [
        f"{item.get('description', '')} ({item.get('sourceLocation', {}).get('url', '')})"
        for item in console
    ]
    return LighthouseReport(scores, failing, errors, seconds)

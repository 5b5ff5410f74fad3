"""scripts/vendor-sdk, run in a copy of the repo's layout: it copies the installed SDKs' browser
builds and licences into static_site/vendor/twilio-voice/ and vendor/applicationinsights/,
skips a copy that is current, copies again when the installed SDK changes, and says what to do
when npm has not run."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.servers import REPO


def install(root: Path, version: str, script: bytes) -> None:
    sdk = root / "node_modules" / "@twilio" / "voice-sdk"
    (sdk / "dist").mkdir(parents=True, exist_ok=True)
    (sdk / "package.json").write_text(json.dumps({"name": "@twilio/voice-sdk", "version": version}))
    (sdk / "dist" / "twilio.min.js").write_bytes(script)
    (sdk / "LICENSE.md").write_text("Apache License, Version 2.0\n")


def install_insights(root: Path, version: str = "3.4.4") -> None:
    sdk = root / "node_modules" / "@microsoft" / "applicationinsights-web"
    (sdk / "dist" / "es5").mkdir(parents=True, exist_ok=True)
    (sdk / "package.json").write_text(
        json.dumps({"name": "@microsoft/applicationinsights-web", "version": version})
    )
    (sdk / "dist" / "es5" / "applicationinsights-web.min.js").write_text("var Microsoft = {};")
    (sdk / "LICENSE").write_text("The MIT License (MIT)\n")
    (sdk / "NOTICE").write_text("NOTICES AND INFORMATION\n")


def vendor(root: Path) -> subprocess.CompletedProcess[str]:
    (root / "scripts").mkdir(exist_ok=True)
    shutil.copy2(REPO / "scripts" / "vendor-sdk", root / "scripts" / "vendor-sdk")
    return subprocess.run(
        [str(root / "scripts" / "vendor-sdk")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_it_copies_the_build_and_licence_then_skips_until_the_sdk_changes(tmp_path: Path) -> None:
    target = tmp_path / "static_site" / "vendor" / "twilio-voice"
    install(tmp_path, "2.18.5", b"window.Twilio = {};")
    install_insights(tmp_path)

    first = vendor(tmp_path)
    assert first.returncode == 0, first.stderr
    assert "copying @twilio/voice-sdk 2.18.5" in first.stdout
    assert (target / "twilio.min.js").read_bytes() == b"window.Twilio = {};"
    assert (target / "LICENSE.md").read_text() == "Apache License, Version 2.0\n"
    assert (target / "VERSION").read_text().startswith("2.18.5 ")

    again = vendor(tmp_path)
    assert (again.returncode, again.stdout) == (0, "")  # current: nothing to do

    install(tmp_path, "2.19.0", b"window.Twilio = {v: 2};")
    upgraded = vendor(tmp_path)
    assert "copying @twilio/voice-sdk 2.19.0" in upgraded.stdout
    assert (target / "twilio.min.js").read_bytes() == b"window.Twilio = {v: 2};"

    (target / "twilio.min.js").unlink()  # a deleted copy is made again
    assert "copying" in vendor(tmp_path).stdout
    assert (target / "twilio.min.js").is_file()


def test_without_the_npm_packages_it_says_to_install_them(tmp_path: Path) -> None:
    result = vendor(tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "vendor-sdk: node_modules/@twilio/voice-sdk/dist/twilio.min.js is missing: install the "
        "npm packages first (npm ci, or scripts/bootstrap).\n"
    )
    assert not (tmp_path / "static_site").exists()


def test_it_copies_the_application_insights_build_and_its_licence_beside_it(
    tmp_path: Path,
) -> None:
    install(tmp_path, "2.18.5", b"window.Twilio = {};")
    install_insights(tmp_path)
    result = vendor(tmp_path)
    assert "copying @microsoft/applicationinsights-web 3.4.4" in result.stdout
    target = tmp_path / "static_site" / "vendor" / "applicationinsights"
    assert sorted(p.name for p in target.iterdir()) == [
        "LICENSE",
        "NOTICE",
        "VERSION",
        "applicationinsights-web.min.js",
    ]
    assert (target / "LICENSE").read_text() == "The MIT License (MIT)\n"


def test_without_application_insights_it_says_to_install_it(tmp_path: Path) -> None:
    install(tmp_path, "2.18.5", b"window.Twilio = {};")
    result = vendor(tmp_path)
    assert result.returncode == 1
    assert "node_modules/@microsoft/applicationinsights-web/dist/es5/" in result.stderr

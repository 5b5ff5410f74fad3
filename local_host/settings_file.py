"""local.settings.json into the environment, the way Core Tools does it."""

from __future__ import annotations

import json
import os
from pathlib import Path


def load_into_environment(path: Path) -> dict[str, str]:
    """Sets every Value not already in the environment (the environment wins, so tests and
    shells can override one setting); returns the values read from the file."""
    values = json.loads(path.read_text()).get("Values", {})
    for name, value in values.items():
        os.environ.setdefault(name, str(value))
    return {name: str(value) for name, value in values.items()}

"""local.settings.json into the environment, the way Core Tools does it."""

from __future__ import annotations

import json
import os
from pathlib import Path


class SettingsFileError(Exception):
    """The settings file is missing or is not a local.settings.json; the message says which."""


def read_values(path: Path) -> dict[str, str]:
    """The "Values" of a local.settings.json, checked, as strings (as app settings are)."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM, as some Windows editors write
    except FileNotFoundError:
        raise SettingsFileError(f"The settings file {path} does not exist.") from None
    except IsADirectoryError:
        raise SettingsFileError(f"The settings file {path} is a folder, not a file.") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise SettingsFileError(f"The settings file {path} cannot be read: {reason}.") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingsFileError(
            f"The settings file {path} is not valid JSON: {error.msg} at line {error.lineno},"
            f" column {error.colno}."
        ) from None
    values = document.get("Values") if isinstance(document, dict) else None
    if not isinstance(values, dict):
        raise SettingsFileError(
            f'The settings file {path} must be a JSON object with a "Values" object,'
            " like local.settings.sample.json."
        )
    for name, value in values.items():
        # An app setting is one string: an object or a list has no meaning as one.
        if isinstance(value, dict | list) or value is None:
            raise SettingsFileError(
                f"The setting {name} in {path} must be a string, a number or a boolean."
            )
    return {name: _as_setting(value) for name, value in values.items()}


def load_into_environment(path: Path) -> dict[str, str]:
    """Sets every Value not already in the environment (the environment wins, so tests and
    shells can override one setting); returns the values read from the file."""
    values = read_values(path)
    for name, value in values.items():
        os.environ.setdefault(name, value)
    return values


def _as_setting(value: str | int | float | bool) -> str:
    # JSON's true/false, not Python's True/False, which no setting parser would accept.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

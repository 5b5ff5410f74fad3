"""The record of processing activities (GDPR Art. 30), generated from the registry.

Served as GET /api/privacy/records and rendered by /privacy/records: per policy category, the
kinds of record with their purpose, legal basis, retention (with this deployment's settings
filled in), fields, what the export shows and what deletion does; then the processors, the
transfers outside the EEA they make, and the cookies. Nothing here is written by hand twice:
change the registry and this changes with it.
"""

from __future__ import annotations

from typing import Any

from shared.config import Settings
from shared.privacy.policy import POLICY_VERSION
from shared.privacy.registry import (
    COOKIES,
    KINDS,
    PROCESSORS,
    Category,
    Cookie,
    RecordKind,
    setting_values,
)

SCHEMA = "ownnumber.records/1"


def record_of_processing(settings: Settings) -> dict[str, Any]:
    values = setting_values(settings.privacy, settings.sessions)
    return {
        "schema": SCHEMA,
        "policy_version": POLICY_VERSION,
        "controller": {
            "name": "The operator of this OwnNumber service",
            "contact": settings.dialer.support_email,
        },
        "categories": [
            {
                "category": category.value,
                "records": [_kind(kind, values) for kind in KINDS if kind.category is category],
            }
            for category in Category
        ],
        "processors": [
            {
                "name": p.name,
                "service": p.service,
                "role": p.role,
                "data": p.data,
                "location": p.location,
                "safeguard": p.safeguard,
                "how_to_ask": p.how_to_ask,
            }
            for p in PROCESSORS
        ],
        "transfers": [
            {"to": p.name, "where": p.location, "safeguard": p.safeguard} for p in PROCESSORS
        ],
        "cookies": [cookie_json(c) for c in COOKIES],
    }


def cookie_json(cookie: Cookie) -> dict[str, Any]:
    return {
        "name": cookie.name,
        "set_by": cookie.set_by,
        "storage": cookie.storage,
        "necessary": cookie.necessary,
        "purpose": cookie.purpose,
        "lifetime": cookie.lifetime,
    }


def _kind(kind: RecordKind, values: dict[str, int | str]) -> dict[str, Any]:
    return {
        "name": kind.name,
        "title": kind.title,
        "purpose": kind.purpose,
        "basis": kind.basis.value,
        "retention": kind.retention.describe(values),
        "fields": [{"name": name, "holds": holds} for name, holds in kind.fields.items()],
        "export": kind.export_note,
        "deletion": kind.deletion.value,
        "deletion_note": kind.deletion_note,
        "where": _where(kind),
    }


def _where(kind: RecordKind) -> str:
    if not kind.row_key:
        return f"table {kind.table}"
    rows = f"rows {kind.row_key}…" if kind.prefix else f"row {kind.row_key}"
    return f"table {kind.table}, {rows}"

"""The published privacy policy's version: what a consent choice records having been shown.

The policy itself is static_site/privacy.html; a test holds it to the registry (every
processor and cookie it names is declared there, and every declared one is named).
"""

from __future__ import annotations

# The policy's "Last updated" date; change both together.
POLICY_VERSION = "2026-12-02"

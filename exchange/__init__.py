"""The datalease service: HTTP API, persistence, accounts, leases, extracts and audit."""

from __future__ import annotations

__all__: list[str] = []

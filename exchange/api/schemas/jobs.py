"""Jobs: long work a request started, such as making a lease's extract."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from exchange.api.schemas.examples import JOB_ID, LEASE_ID


class JobPublic(BaseModel):
    """A job's state; once `done`, `result` says where its product is."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": JOB_ID,
                    "kind": "extract",
                    "subject": LEASE_ID,
                    "state": "done",
                    "progress": 100,
                    "rows_done": 116,
                    "error": None,
                    "attempts": 1,
                    "result": {
                        "href": f"/v1/leases/{LEASE_ID}/extract",
                        "rows": 116,
                        "sha256": "ff5a8316d006c6411b0c362b0b9730d4cf66e59c5c4bb5e01c838b40705e79ff",
                        "receipt_index": 28,
                    },
                    "created_at": "2026-11-26T18:19:39.912131+00:00",
                    "updated_at": "2026-11-26T18:19:40.127360+00:00",
                }
            ]
        }
    )

    id: str
    kind: str = Field(description="what the job does, e.g. extract")
    subject: str = Field(description="the object it works on, e.g. a lease id")
    state: str = Field(description="queued, running, done or failed")
    progress: int = Field(description="0-100")
    rows_done: int
    error: str | None = Field(description="why the job failed; null otherwise")
    attempts: int
    result: dict[str, Any] | None = Field(description="once done: a link and what it made")
    created_at: str
    updated_at: str

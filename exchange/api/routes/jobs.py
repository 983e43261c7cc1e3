"""Jobs: the state of long work a request started (exchange.jobs)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from exchange.api.deps import CurrentAccount, ReadSessionDep
from exchange.api.openapi import account_errors
from exchange.api.schemas import JobPublic
from exchange.db.models import Job
from exchange.jobs import queue

router = APIRouter(prefix="/v1", tags=["jobs"])

# How long a client polling a job waits between looks; a hint, the job may take longer.
RETRY_AFTER_SECONDS = 1


def accepted(request: Request, job: Job) -> JSONResponse:
    """``202 Accepted`` with the job doing the work; the job's URL in ``Location``."""
    workers = getattr(request.app.state, "jobs", None)
    if workers is not None:
        workers.wake()
    return JSONResponse(
        queue.public(job),
        status_code=202,
        headers={"Location": f"/v1/jobs/{job.id}", "Retry-After": str(RETRY_AFTER_SECONDS)},
    )


@router.get(
    "/jobs/{job_id}",
    summary="A job's state (queued, running, done, failed), progress 0-100, rows done, "
    "error and result link",
    description="**Who:** the account whose request started the job, and operators; "
    "anyone else gets 404, as if it did not exist. Poll it after a `202 Accepted` (its "
    "`Retry-After` says how often); once `done`, `result.href` is where the product is.",
    response_model=JobPublic,
    responses=account_errors((404, "no such job, or another account's")),
)
def get_job(job_id: str, session: ReadSessionDep, account: CurrentAccount) -> dict[str, Any]:
    job = queue.get_job(session, job_id, account)
    session.commit()
    return queue.public(job)

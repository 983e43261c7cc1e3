"""The ``jobs`` table's transitions: queued -> running -> done | failed, and back to queued
when a running job's worker is gone. Every transition is one short conditional UPDATE, so
two workers (or a worker and the recovery) can never both move the same job."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from exchange.db.dml import rowcount
from exchange.db.models import Account, Job, utcnow
from exchange.db.session import transaction
from exchange.errors import MissingRow, NotFound
from exchange.services.ids import new_id

log = logging.getLogger("datalease")

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass(frozen=True)
class Claimed:
    """A job as its worker sees it: what to do and for whom."""

    id: str
    kind: str
    subject: str
    owner_id: str
    attempts: int


def enqueue(session: Session, *, kind: str, subject: str, owner_id: str, max_attempts: int) -> Job:
    """The job doing `kind` for `subject`, queued now unless it is queued or running already.

    Runs in the caller's transaction, so the job exists exactly when the caller commits. A
    job that ended (done, or failed) is queued again: the caller asks because the work's
    result is not there, and asking again is how a failed job is retried."""
    key = f"{kind}:{subject}"
    job = _by_key(session, key)
    if job is None:
        job = Job(
            id=new_id("job"),
            kind=kind,
            key=key,
            state=QUEUED,
            progress=0,
            rows_done=0,
            error="",
            owner_id=owner_id,
            subject=subject,
            attempts=0,
            max_attempts=max_attempts,
        )
        try:
            with session.begin_nested():
                session.add(job)
                session.flush()
            return job
        except IntegrityError:  # another request queued it first
            job = _by_key(session, key)
            if job is None:  # it was there a moment ago and jobs are never deleted
                raise MissingRow("jobs", key) from None
    if job.state in (DONE, FAILED):
        session.execute(
            update(Job)
            .where(Job.id == job.id, Job.state == job.state)
            .values(
                state=QUEUED,
                progress=0,
                rows_done=0,
                error="",
                result=None,
                attempts=0,
                max_attempts=max_attempts,
                worker=None,
                lease_until=None,
                updated_at=utcnow(),
            )
        )
        session.refresh(job)
    return job


def _by_key(session: Session, key: str) -> Job | None:
    return session.scalars(select(Job).where(Job.key == key)).first()


def get_job(session: Session, job_id: str, account: Account) -> Job:
    """A job seen by its owner or an operator; to anyone else it does not exist."""
    job = session.get(Job, job_id)
    if job is None or (account.role != "operator" and job.owner_id != account.id):
        raise NotFound(f"job {job_id} does not exist")
    return job


def public(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "subject": job.subject,
        "state": job.state,
        "progress": job.progress,
        "rows_done": job.rows_done,
        "error": job.error or None,
        "attempts": job.attempts,
        "result": job.result,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
    }


def any_queued(reads: sessionmaker[Session], kinds: list[str]) -> bool:
    """Whether a job waits, read without the write lock: idle workers look often."""
    with reads() as session:
        found = session.scalar(
            select(Job.id).where(Job.state == QUEUED, Job.kind.in_(kinds)).limit(1)
        )
        session.rollback()
    return found is not None


def claim(
    sessions: sessionmaker[Session], worker: str, kinds: list[str], lease_seconds: float
) -> Claimed | None:
    """Take the oldest queued job of `kinds` for `worker`, or None when there is none."""
    now = utcnow()
    with transaction(sessions) as session:
        oldest = (
            select(Job.id)
            .where(Job.state == QUEUED, Job.kind.in_(kinds))
            .order_by(Job.created_at, Job.id)
            .limit(1)
        )
        if session.get_bind().dialect.name == "postgresql":
            oldest = oldest.with_for_update(skip_locked=True)
        row = session.execute(
            update(Job)
            .where(Job.id == oldest.scalar_subquery(), Job.state == QUEUED)
            .values(
                state=RUNNING,
                attempts=Job.attempts + 1,
                worker=worker,
                lease_until=now + timedelta(seconds=lease_seconds),
                updated_at=now,
            )
            .returning(Job.id, Job.kind, Job.subject, Job.owner_id, Job.attempts)
        ).first()
    return Claimed(*row) if row is not None else None


def _mine(job_id: str, worker: str) -> Update:
    return update(Job).where(Job.id == job_id, Job.worker == worker, Job.state == RUNNING)


def renew(
    sessions: sessionmaker[Session],
    job_id: str,
    worker: str,
    lease_seconds: float,
    *,
    progress: int,
    rows_done: int,
) -> bool:
    """Extend the worker's hold and record its progress; False when the job is no longer
    this worker's (its hold lapsed and the job went back to the queue)."""
    now = utcnow()
    with transaction(sessions) as session:
        done = session.execute(
            _mine(job_id, worker).values(
                lease_until=now + timedelta(seconds=lease_seconds),
                progress=progress,
                rows_done=rows_done,
                updated_at=now,
            )
        )
    return rowcount(done) == 1


def finish(
    sessions: sessionmaker[Session],
    job_id: str,
    worker: str,
    result: dict[str, Any],
    rows_done: int,
) -> bool:
    with transaction(sessions) as session:
        done = session.execute(
            _mine(job_id, worker).values(
                state=DONE,
                progress=100,
                rows_done=rows_done,
                result=result,
                worker=None,
                lease_until=None,
                updated_at=utcnow(),
            )
        )
    return rowcount(done) == 1


def fail(sessions: sessionmaker[Session], job_id: str, worker: str, error: str) -> bool:
    with transaction(sessions) as session:
        done = session.execute(
            _mine(job_id, worker).values(
                state=FAILED, error=error, worker=None, lease_until=None, updated_at=utcnow()
            )
        )
    return rowcount(done) == 1


def give_back(sessions: sessionmaker[Session], job_id: str, worker: str) -> bool:
    """Queue a job again when its worker stops before finishing it (a graceful shutdown):
    the interrupted run does not count as an attempt."""
    with transaction(sessions) as session:
        done = session.execute(
            _mine(job_id, worker).values(
                state=QUEUED,
                attempts=Job.attempts - 1,
                worker=None,
                lease_until=None,
                updated_at=utcnow(),
            )
        )
    return rowcount(done) == 1


def recover(sessions: sessionmaker[Session], now: datetime | None = None) -> tuple[int, int]:
    """Running jobs whose hold lapsed lost their worker: queue them again, or fail them
    with the reason once they have used up their attempts. Returns (requeued, failed)."""
    now = now or utcnow()
    lapsed = (Job.state == RUNNING, Job.lease_until < now)
    with transaction(sessions) as session:
        failing = session.execute(
            update(Job)
            .where(*lapsed, Job.attempts >= Job.max_attempts)
            .values(
                state=FAILED,
                error=(
                    "the worker running this job stopped (its process ended or was killed) "
                    "on each of its attempts; ask again to retry"
                ),
                worker=None,
                lease_until=None,
                updated_at=now,
            )
        )
        requeuing = session.execute(
            update(Job)
            .where(*lapsed)
            .values(state=QUEUED, worker=None, lease_until=None, updated_at=now)
        )
    spent, again = rowcount(failing), rowcount(requeuing)
    if spent or again:
        log.warning(
            "jobs whose worker stopped: %d queued again, %d failed after their last attempt",
            again,
            spent,
        )
    return again, spent

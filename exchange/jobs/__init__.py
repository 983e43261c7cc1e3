"""Jobs: long work (building a lease's extract) queued in the database and run by worker
threads started with each server process, outside request handlers and outside any open
write transaction. A request that needs the work enqueues it and answers ``202 Accepted``
with the job; ``GET /v1/jobs/{id}`` shows its state, progress and result.

Why a small table-backed queue and not a job library: the exchange runs on SQLite by
default and on PostgreSQL for several worker processes, and the maintained Python queues
that keep jobs in the database fit only one of them (procrastinate and pgqueuer need
PostgreSQL; RQ and Dramatiq need Redis or RabbitMQ, Celery a broker too, its database
transport being experimental), and a broker is another service to run and back up. A ``jobs`` table in the exchange's own database needs nothing more, and a
job is committed in the same transaction as the request that asks for it.

Claiming is one short write transaction on both backends: an ``UPDATE ... RETURNING`` of
the oldest queued job. On PostgreSQL the job is chosen with ``FOR UPDATE SKIP LOCKED``, so
workers of several processes each take a different job without waiting on one another.
SQLite has one writer at a time (the write transaction begins with ``BEGIN IMMEDIATE``),
so the claim is atomic there as it is; it holds the write lock for milliseconds, never
for the work itself.

A running job's worker renews ``lease_until`` (a heartbeat). A job whose hold lapsed lost
its worker (the process was killed): it is queued again and run from the start, which is
safe because the work is idempotent (an extract is made once per lease; a second build is
thrown away), up to ``job_max_attempts`` runs in all, then failed with the reason. So after
a crash and a restart a job ends done or failed, never stuck as running.
"""

from exchange.jobs.queue import DONE, FAILED, QUEUED, RUNNING, enqueue, get_job, recover
from exchange.jobs.worker import JobRun, JobWorkers

__all__ = [
    "DONE",
    "FAILED",
    "QUEUED",
    "RUNNING",
    "JobRun",
    "JobWorkers",
    "enqueue",
    "get_job",
    "recover",
]

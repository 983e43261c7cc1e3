"""Jobs: an extract is made by a job outside the request (202 with the job, then the file);
the job is seen by its owner and operators only; a job whose worker stopped is queued again
and, after its last attempt, failed with the reason; two workers never take the same job."""

from __future__ import annotations

import io
import threading
from datetime import timedelta

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from exchange.db.models import Job, utcnow
from exchange.jobs import DONE, FAILED, QUEUED, RUNNING, JobWorkers, enqueue, queue
from exchange.jobs.follow import JobFailed, wait_for_job
from exchange.services import extracts
from tests.exchange.flows import paid_lease, publish

pytestmark = pytest.mark.usefixtures("backend")

HANDLERS = {extracts.JOB_KIND: extracts.run_job}


def ask(world, lease_id: str, who: str = "buyer", fmt: str = "csv"):
    """One request, not followed: 202 while the extract is being made."""
    url = f"/v1/leases/{lease_id}/extract?format={fmt}"
    return world.client.get(url, headers=world.as_(who))


def job_of(world, job_id: str, who: str = "buyer"):
    return world.client.get(f"/v1/jobs/{job_id}", headers=world.as_(who))


def test_an_extract_is_made_by_a_job_then_streamed_and_only_its_owner_sees_the_job(
    world, citizens_small
):
    _, offer_id = publish(world, citizens_small.head(300))
    lease = paid_lease(world, offer_id)
    first = ask(world, lease["id"])
    assert first.status_code == 202, first.text
    job = first.json()
    assert first.headers["location"] == f"/v1/jobs/{job['id']}"
    assert int(first.headers["retry-after"]) >= 1
    assert (job["kind"], job["subject"]) == ("extract", lease["id"])
    assert job["state"] in (QUEUED, RUNNING, DONE) and job["error"] is None

    done = wait_for_job(world.client, first.headers["location"], headers=world.as_("buyer"))
    assert (done["state"], done["progress"], done["error"]) == (DONE, 100, None)
    assert done["attempts"] == 1
    result = done["result"]
    assert result["href"] == f"/v1/leases/{lease['id']}/extract"
    assert done["rows_done"] == result["rows"] > 0

    parquet = ask(world, lease["id"], fmt="parquet")
    assert parquet.status_code == 200, parquet.text
    assert parquet.headers["x-extract-sha256"] == result["sha256"]
    assert pq.read_table(io.BytesIO(parquet.content)).num_rows == result["rows"]
    csv = ask(world, lease["id"])
    assert csv.status_code == 200 and csv.text.count("\n") == result["rows"] + 1
    receipts = world.call("buyer", "GET", f"/v1/leases/{lease['id']}/receipts").json()
    assert [r["index"] for r in receipts["receipts"]] == [result["receipt_index"]]
    assert world.call("buyer", "GET", f"/v1/leases/{lease['id']}").json()["downloads"] == 2

    # the owner and operators see the job; to anyone else it does not exist
    assert job_of(world, job["id"], "operator").json()["state"] == DONE
    for who in ("buyer2", "provider", "provider2", "auditor"):
        response = job_of(world, job["id"], who)
        assert response.status_code == 404, (who, response.text)
        assert response.json()["error"]["code"] == "not_found"
    assert world.client.get(f"/v1/jobs/{job['id']}").status_code == 401
    assert job_of(world, "job_missing").status_code == 404
    # another buyer cannot start a job on this lease either
    assert ask(world, lease["id"], "buyer2").status_code == 403


def test_a_job_waits_in_the_queue_once_and_a_lease_revoked_meanwhile_fails_it(
    world, citizens_small
):
    world.client.app.state.jobs.stop()  # no worker runs: the job stays queued
    _, offer_id = publish(world, citizens_small.head(300))
    lease = paid_lease(world, offer_id)
    first, again = ask(world, lease["id"]), ask(world, lease["id"], fmt="parquet")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]  # asking twice queues one job
    assert again.json()["state"] == QUEUED
    revoked = world.call("provider", "POST", f"/v1/leases/{lease['id']}/revoke")
    assert revoked.status_code == 200, revoked.text

    workers = JobWorkers(world.exchange, HANDLERS, threads=1).start()
    try:
        with pytest.raises(JobFailed) as failed:
            wait_for_job(world.client, first.headers["location"], headers=world.as_("buyer"))
    finally:
        workers.stop()
    job = failed.value.job
    assert job["state"] == FAILED and "revoked" in job["error"]
    assert job["result"] is None
    with world.exchange.sessions() as session:
        assert session.get_one(Job, job["id"]).worker is None
    assert ask(world, lease["id"]).status_code == 403  # and no new job is queued


def test_a_job_whose_worker_stopped_is_queued_again_then_failed_with_the_reason(
    world, citizens_small
):
    world.client.app.state.jobs.stop()
    sessions = world.exchange.sessions
    with sessions() as session:
        job = enqueue(
            session, kind="extract", subject="lse_x", owner_id=world.ids["buyer"], max_attempts=2
        )
        session.commit()
    later = utcnow() + timedelta(seconds=5)
    for attempt in (1, 2):
        claimed = queue.claim(sessions, "host:1:dead/0", ["extract"], lease_seconds=1)
        assert claimed is not None and (claimed.id, claimed.attempts) == (job.id, attempt)
        assert queue.recover(sessions, now=utcnow()) == (0, 0)  # its hold has not lapsed yet
        assert queue.recover(sessions, now=later) == ((1, 0) if attempt == 1 else (0, 1))
    with sessions() as session:
        ended = session.get_one(Job, job.id)
    assert (ended.state, ended.attempts, ended.worker) == (FAILED, 2, None)
    assert "stopped" in ended.error
    # a late word from the dead worker changes nothing
    assert not queue.finish(sessions, job.id, "host:1:dead/0", {}, 0)
    # asking again retries it from the start
    with sessions() as session:
        again = enqueue(
            session, kind="extract", subject="lse_x", owner_id=world.ids["buyer"], max_attempts=2
        )
        session.commit()
    assert (again.id, again.state, again.attempts, again.error) == (job.id, QUEUED, 0, "")


def test_two_workers_never_take_the_same_job(world):
    world.client.app.state.jobs.stop()
    sessions = world.exchange.sessions
    with sessions() as session:
        for i in range(40):
            enqueue(
                session,
                kind="extract",
                subject=f"lse_{i}",
                owner_id=world.ids["buyer"],
                max_attempts=1,
            )
        session.commit()
    taken: list[str] = []
    lock = threading.Lock()

    def drain(name: str) -> None:
        while (claimed := queue.claim(sessions, name, ["extract"], lease_seconds=30)) is not None:
            with lock:
                taken.append(claimed.id)

    threads = [threading.Thread(target=drain, args=(f"w/{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(taken) == len(set(taken)) == 40
    with sessions() as session:
        states = set(session.scalars(select(Job.state)))
    assert states == {RUNNING}

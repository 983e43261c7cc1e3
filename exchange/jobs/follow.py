"""The client's side of a job: a request answered ``202 Accepted`` is asked again once its
job is done (the demo, the bench and the tests download extracts this way)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx


class JobFailed(RuntimeError):
    def __init__(self, job: dict[str, Any]) -> None:
        super().__init__(f"job {job.get('id')} failed: {job.get('error')}")
        self.job = job


def wait_for_job(
    client: httpx.Client,
    location: str,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 600,
    poll: float = 0.2,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The job at `location` once it is done; :class:`JobFailed` if it failed."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(location, headers=headers)
        response.raise_for_status()
        job = response.json()
        if on_progress is not None:
            on_progress(job)
        if job["state"] == "done":
            return job
        if job["state"] == "failed":
            raise JobFailed(job)
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job['id']} is still {job['state']} after {timeout} s")
        time.sleep(poll)


def request_following_jobs(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    timeout: float = 600,
    poll: float = 0.2,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send the request; while it is answered ``202 Accepted`` with a job in ``Location``,
    wait for the job and send it again."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.request(method, url, **kwargs)
        location = response.headers.get("location")
        if response.status_code != 202 or not location:
            return response
        if time.monotonic() > deadline:
            raise TimeoutError(f"{method} {url} still answers 202 after {timeout} s")
        wait_for_job(
            client,
            location,
            headers=kwargs.get("headers"),
            timeout=max(0.0, deadline - time.monotonic()),
            poll=poll,
            on_progress=on_progress,
        )

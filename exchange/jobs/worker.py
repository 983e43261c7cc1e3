"""Worker threads: each server process runs ``job_workers`` of them, started and stopped
with the application (its lifespan), plus one heartbeat thread that renews the holds of
the jobs they run and returns to the queue the jobs of workers that died elsewhere."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from desensitize.errors import DesensitizeError
from exchange.errors import ExchangeError
from exchange.jobs import queue
from exchange.jobs.queue import Claimed

if TYPE_CHECKING:
    from exchange.context import Exchange

log = logging.getLogger("datalease")

# Progress is written at most this often by a handler's own calls; the heartbeat writes it too.
PROGRESS_EVERY_SECONDS = 1.0


class Stopped(Exception):
    """Raised by a handler that saw :attr:`JobRun.cancelled`: the job goes back to the queue."""


class JobRun:
    """One run of a job, as its handler sees it: the job, and where progress goes."""

    def __init__(self, claimed: Claimed, worker: str, workers: JobWorkers) -> None:
        self.job_id = claimed.id
        self.kind = claimed.kind
        self.subject = claimed.subject
        self.owner_id = claimed.owner_id
        self.attempt = claimed.attempts
        self.worker = worker
        self.percent = 0
        self.rows_done = 0
        self.lost = False  # the hold lapsed and another worker may have the job now
        self._workers = workers
        self._written = time.monotonic()

    @property
    def cancelled(self) -> bool:
        """The handler should stop at its next checkpoint (raise :class:`Stopped`)."""
        return self.lost or self._workers.stopping

    def progress(self, percent: float, rows_done: int | None = None) -> None:
        self.percent = max(0, min(99, int(percent)))  # 100 only once the result is stored
        if rows_done is not None:
            self.rows_done = rows_done
        if time.monotonic() - self._written >= PROGRESS_EVERY_SECONDS:
            self.write()

    def write(self) -> None:
        """Renew the hold with the current progress."""
        self._written = time.monotonic()
        try:
            kept = queue.renew(
                self._workers.exchange.sessions,
                self.job_id,
                self.worker,
                self._workers.lease_seconds,
                progress=self.percent,
                rows_done=self.rows_done,
            )
        except Exception as exc:  # a busy database: the next renewal tries again
            log.warning("job %s: renewing its hold failed (%s)", self.job_id, type(exc).__name__)
            return
        if not kept and not self.lost:
            self.lost = True
            log.warning("job %s: its hold lapsed and it went back to the queue", self.job_id)


Handler = Callable[["Exchange", JobRun], dict[str, Any]]


def safe_message(exc: BaseException) -> str:
    """What a failed job shows its owner: the exchange's own errors are written to be shown
    (no cell values); anything else is named by type only, as the API does."""
    if isinstance(exc, ExchangeError):
        return exc.message
    if isinstance(exc, DesensitizeError):
        return str(exc)
    return f"internal error ({type(exc).__name__}); the job made nothing"


class JobWorkers:
    def __init__(
        self, exchange: Exchange, handlers: dict[str, Handler], *, threads: int | None = None
    ) -> None:
        settings = exchange.settings
        self.exchange = exchange
        self.handlers = handlers
        self.threads = settings.job_workers if threads is None else threads
        self.lease_seconds = settings.job_lease_seconds
        self.poll_seconds = settings.job_poll_seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.stopping = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._running: dict[str, JobRun] = {}
        self._threads: list[threading.Thread] = []

    def start(self) -> JobWorkers:
        if self.threads == 0:
            return self
        try:  # jobs left running by a process that died: they must not wait for a request
            queue.recover(self.exchange.sessions)
        except Exception as exc:
            log.warning("job recovery at startup failed (%s)", type(exc).__name__)
        for index in range(self.threads):
            thread = threading.Thread(
                target=self._loop, args=(f"{self.name}/{index}",), name=f"job-worker-{index}"
            )
            thread.daemon = True  # a hard exit must not wait for a job; its hold lapses
            self._threads.append(thread)
        self._threads.append(threading.Thread(target=self._heartbeat, name="job-heartbeat"))
        self._threads[-1].daemon = True
        for thread in self._threads:
            thread.start()
        return self

    def wake(self) -> None:
        """A job was queued in this process: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Let running jobs finish within `timeout`; give the others back to the queue."""
        self.stopping = True
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            unfinished = list(self._running.values())
        for run in unfinished:
            try:
                if queue.give_back(self.exchange.sessions, run.job_id, run.worker):
                    log.info("job %s given back to the queue at shutdown", run.job_id)
            except Exception as exc:  # its hold lapses instead
                log.warning("job %s: giving it back failed (%s)", run.job_id, type(exc).__name__)

    def _loop(self, worker: str) -> None:
        kinds = list(self.handlers)
        while not self._stop.is_set():
            try:
                claimed = None
                if queue.any_queued(self.exchange.reads, kinds):
                    claimed = queue.claim(self.exchange.sessions, worker, kinds, self.lease_seconds)
            except Exception as exc:
                log.warning("claiming a job failed (%s)", type(exc).__name__)
                claimed = None
            if claimed is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            self._run(claimed, worker)

    def _run(self, claimed: Claimed, worker: str) -> None:
        run = JobRun(claimed, worker, self)
        with self._lock:
            self._running[run.job_id] = run
        try:
            log.info("job %s (%s of %s) started", run.job_id, run.kind, run.subject)
            result = self.handlers[run.kind](self.exchange, run)
        except Stopped:
            if self.stopping:
                self._record(queue.give_back, run)
        except Exception as exc:
            if not isinstance(exc, ExchangeError | DesensitizeError):
                # the type only: an exception's text may quote data
                log.error(
                    "job %s (%s) failed: unexpected %s", run.job_id, run.kind, type(exc).__name__
                )
            self._record(queue.fail, run, safe_message(exc))
        else:
            if self._record(queue.finish, run, result, run.rows_done):
                log.info("job %s (%s of %s) done", run.job_id, run.kind, run.subject)
        finally:
            with self._lock:
                self._running.pop(run.job_id, None)

    def _record(self, transition: Callable[..., bool], run: JobRun, *args: Any) -> bool:
        """Move the job on; when the database refuses, its hold lapses and recovery does it."""
        try:
            return transition(self.exchange.sessions, run.job_id, run.worker, *args)
        except Exception as exc:
            log.warning("job %s: recording its end failed (%s)", run.job_id, type(exc).__name__)
            return False

    def _heartbeat(self) -> None:
        interval = self.lease_seconds / 3
        last_recovery = time.monotonic()
        while not self._stop.wait(interval):
            with self._lock:
                running = list(self._running.values())
            for run in running:
                run.write()
            if time.monotonic() - last_recovery >= self.lease_seconds:
                last_recovery = time.monotonic()
                try:  # workers of other processes may have died meanwhile
                    queue.recover(self.exchange.sessions)
                except Exception as exc:
                    log.warning("job recovery failed (%s)", type(exc).__name__)

"""What the workflow commands share: the client from --url/--key, output, progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from exchange.client import ApiError, Client, ClientError, JobFailed
from exchange.client.models import ApiModel, Job

DEFAULT_URL = "http://127.0.0.1:8000"
ID_HEADERS = {"id", "offer", "dataset", "lease", "account", "job"}
JSON_OPTION = typer.Option(False, "--json", help="print JSON for scripts instead of text")
out = Console(soft_wrap=True)
err = Console(stderr=True)


@dataclass
class Target:
    """The exchange the workflow commands talk to and the key they use (never printed)."""

    url: str = DEFAULT_URL
    key: str | None = None


def target(ctx: typer.Context) -> Target:
    found = ctx.find_root().obj
    return found if isinstance(found, Target) else Target()


@contextmanager
def client(ctx: typer.Context, as_json: bool, *, need_key: bool = True) -> Iterator[Client]:
    """A client for the command, and errors turned into a message and an exit status:
    1 for an error answer or a failed job (its body on stdout with --json), 2 when the
    exchange cannot be reached or no key was given (public calls need none)."""
    where = target(ctx)
    if need_key and not where.key:
        err.print("no API key: pass --key or set DATALEASE_KEY", highlight=False)
        raise typer.Exit(2)
    try:
        with Client(where.url, where.key) as c:
            yield c
    except ApiError as exc:
        if as_json:
            print_json({"error": exc.to_json()})
        err.print(f"error: HTTP {exc.status} {exc.code}: {exc.message}", highlight=False)
        raise typer.Exit(1) from None
    except JobFailed as exc:
        if as_json:
            print_json({"error": {"code": "job_failed", "job": exc.job.to_json()}})
        err.print(f"error: {exc}", highlight=False)
        raise typer.Exit(1) from None
    except ClientError as exc:
        err.print(f"error: {exc}", highlight=False)
        raise typer.Exit(1) from None
    except httpx.TransportError as exc:
        err.print(f"error: cannot reach {where.url}: {exc}", highlight=False)
        raise typer.Exit(2) from None
    except OSError as exc:
        err.print(f"error: {exc}", highlight=False)
        raise typer.Exit(2) from None


def print_json(value: Any) -> None:
    if isinstance(value, ApiModel):
        value = value.to_json()
    elif isinstance(value, list):
        value = [v.to_json() if isinstance(v, ApiModel) else v for v in value]
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def fen(amount: int, currency: str = "CNY") -> str:
    """Integer fen as yuan for people: ``¥1,234.56``."""
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    symbol = "¥" if currency == "CNY" else f"{currency} "
    return f"{sign}{symbol}{amount // 100:,}.{amount % 100:02d}"


def fields(pairs: Sequence[tuple[str, Any]], title: str | None = None) -> None:
    """One object as aligned ``name  value`` lines."""
    table = Table(show_header=False, box=None, title=title, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in pairs:
        table.add_row(name, "" if value is None else str(value))
    out.print(table)


def rows(headers: Sequence[str], values: Sequence[Sequence[Any]], title: str | None = None) -> None:
    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        # Ids are copied into the next command: never wrapped.
        table.add_column(header, overflow="fold", no_wrap=i == 0 or header in ID_HEADERS)
    for row in values:
        table.add_row(*["" if v is None else str(v) for v in row])
    out.print(table)


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


@contextmanager
def transfer_bar(
    description: str, show: bool
) -> Iterator[Callable[[int, int | None], None] | None]:
    """A progress callback drawing a byte bar on stderr, or None when not shown."""
    if not show:
        yield None
        return
    with _bar() as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextmanager
def job_bar(description: str, show: bool) -> Iterator[Callable[[Job], None] | None]:
    """A progress callback drawing a job's progress (0-100) and rows done on stderr."""
    if not show:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[state]} {task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=100, state="queued", rows=0)

        def update(job: Job) -> None:
            bar.update(task, completed=job.progress, state=job.state, rows=job.rows_done)

        yield update


def show_progress(as_json: bool) -> bool:
    """Bars only for a person at a terminal: scripts (--json, pipes) get clean output."""
    return not as_json and err.is_terminal

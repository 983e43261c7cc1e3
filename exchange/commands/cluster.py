"""``datalease cluster-check``: the Dask cluster releases are made on, and whether a tiny
release made there is the one made in-process (see desensitize.distributed.cluster_check)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from exchange.commands.common import JSON_OPTION, fields, out, print_json, rows


def _memory(limit: Any) -> str:
    if not limit:
        return "no limit"
    size = float(limit)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def cluster_check(
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        show_default=False,
        help="scheduler address, e.g. tcp://scheduler:8786 (default: DATALEASE_DASK_SCHEDULER)",
    ),
    workdir: str | None = typer.Option(
        None,
        "--workdir",
        show_default=False,
        help="a directory or fsspec URL the workers can read and write "
        "(default: the data directory's cluster/, where releases are made)",
    ),
    timeout: float = typer.Option(10.0, min=0.1, help="seconds to wait for the scheduler"),
    as_json: bool = JSON_OPTION,
) -> None:
    """List the Dask cluster's workers and make a tiny release on it and in-process.

    Exits 0 when both releases are the same, 1 when they differ or the release fails on
    the cluster, 2 when no scheduler is configured or it cannot be reached.
    """
    if scheduler is None or workdir is None:
        from exchange.settings import Settings

        settings = Settings()
        scheduler = scheduler or settings.dask_scheduler
        workdir = workdir or str(settings.data_dir / "cluster")
    if not scheduler:
        typer.echo(
            "error: no scheduler: pass --scheduler or set DATALEASE_DASK_SCHEDULER", err=True
        )
        raise typer.Exit(2)
    try:
        from distributed import Client

        from desensitize.distributed import cluster_check as check
    except ImportError:
        typer.echo('error: Dask is not installed: pip install "datalease[dask]"', err=True)
        raise typer.Exit(2) from None
    try:
        # the default client too: apply_dask waits on its futures through it
        client = Client(scheduler, timeout=timeout)
    except (OSError, ValueError, TypeError) as exc:
        typer.echo(f"error: cannot reach the scheduler {scheduler}: {_line(exc)}", err=True)
        raise typer.Exit(2) from None
    try:
        if "://" not in workdir:
            Path(workdir).mkdir(parents=True, exist_ok=True)
        found = check(client, workdir)
    except Exception as exc:  # the tiny release failed on the cluster: report it in a line
        typer.echo(f"error: the check release failed on {scheduler}: {_line(exc)}", err=True)
        raise typer.Exit(1) from None
    finally:
        client.close()
    if as_json:
        print_json(found)
    else:
        rows(
            ["address", "threads", "memory"],
            [(w["address"], w["threads"], _memory(w["memory_limit"])) for w in found["workers"]],
            title=f"workers of {found['scheduler']}",
        )
        fields(
            [
                ("same release", "yes" if found["same_release"] else "NO"),
                ("rows in / out", f"{found['rows']:,} / {found['rows_out']:,}"),
                ("seconds on the cluster", found["seconds"]),
            ]
        )
        if not found["same_release"]:
            out.print("the release made on the cluster differs from the in-process one")
    raise typer.Exit(0 if found["same_release"] else 1)

"""The ``datalease`` command line: serve, accounts, verify-ledger, trace, cluster-check,
hierarchy import, generate, demo on the server host, and the workflow commands
(exchange.commands) against a running exchange."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import typer

from exchange.commands import register as register_workflow
from exchange.commands.cluster import cluster_check
from exchange.commands.common import DEFAULT_URL, Target

app = typer.Typer(help="datalease: desensitize and lease smart-city data.", no_args_is_help=True)
accounts_app = typer.Typer(help="Manage accounts (operator).", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")


@app.callback()
def main(
    ctx: typer.Context,
    url: str = typer.Option(
        DEFAULT_URL, "--url", envvar="DATALEASE_URL", help="the exchange the workflow commands use"
    ),
    key: str | None = typer.Option(
        None,
        "--key",
        envvar="DATALEASE_KEY",
        show_default=False,
        help="your API key (prefer the variable: a command line is visible to other users)",
    ),
) -> None:
    """datalease: desensitize and lease smart-city data."""
    ctx.obj = Target(url=url, key=key)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="interface to listen on"),
    port: int = typer.Option(8000, help="TCP port"),
    workers: int = typer.Option(1, min=1, help="worker processes (use PostgreSQL for >1)"),
    access_log: bool = typer.Option(
        True, "--access-log/--no-access-log", help="log a line per request (costs throughput)"
    ),
) -> None:
    """Run the HTTP API with uvicorn; settings come from DATALEASE_* variables."""
    import uvicorn

    from exchange.main import app_from_env
    from exchange.settings import Settings

    settings = Settings()
    if workers > 1 and settings.resolved_database_url.startswith("sqlite"):
        typer.echo("several workers need PostgreSQL: set DATALEASE_DATABASE_URL", err=True)
        raise typer.Exit(2)
    app_from_env().state.exchange.close()  # migrate and create keys once, before workers fork
    uvicorn.run(
        "exchange.main:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=access_log,
    )


@accounts_app.command("create")
def accounts_create(
    role: str = typer.Option(..., help="provider, buyer, auditor or operator"),
    name: str = typer.Option(..., help="display name"),
    organisation: str = typer.Option("", help="organisation shown in transparency reports"),
    authority_level: str | None = typer.Option(
        None, help="community, district or municipal: the approval steps it may decide"
    ),
    duty: list[str] | None = typer.Option(
        None, "--duty", help="compliance or data_officer (repeat for both)"
    ),
) -> None:
    """Create an account and print its API key (shown once)."""
    from exchange.context import Exchange
    from exchange.errors import ExchangeError
    from exchange.services.accounts import create_account
    from exchange.services.governance import check_standing
    from exchange.settings import Settings

    exchange = Exchange.open(Settings())
    try:
        with exchange.sessions() as session:
            level, duties = check_standing(authority_level, duty)
            issued = create_account(session, name=name, role=role, organisation=organisation)
            issued.account.authority_level = level
            issued.account.duties = duties or None
            exchange.log.record(
                session,
                "account_created",
                actor="cli",
                account=issued.account.id,
                role=issued.account.role,
                **({"authority_level": level} if level else {}),
                **({"duties": duties} if duties else {}),
            )
            session.commit()
    except ExchangeError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        exchange.close()
    typer.echo(
        json.dumps(
            {"id": issued.account.id, "role": issued.account.role, "api_key": issued.api_key}
        )
    )


@accounts_app.command("list")
def accounts_list() -> None:
    """List accounts (never their keys)."""
    from sqlalchemy import select

    from exchange.context import Exchange
    from exchange.db.models import Account
    from exchange.settings import Settings

    exchange = Exchange.open(Settings())
    try:
        with exchange.sessions() as session:
            for account in session.scalars(select(Account).order_by(Account.created_at)):
                typer.echo(
                    json.dumps(
                        {
                            "id": account.id,
                            "role": account.role,
                            "name": account.name,
                            "organisation": account.organisation,
                        },
                        ensure_ascii=False,
                    )
                )
    finally:
        exchange.close()


@app.command("verify-ledger")
def verify_ledger(
    export: Path = typer.Argument(..., help="JSON lines export"),
    public_key: str = typer.Option(..., "--public-key", help="PEM file, or 64 hex characters"),
) -> None:
    """Verify an exported ledger offline: hashes, signed heads, balance and splits.

    Exits 0 when the export verifies, 1 when it does not (tampered or inconsistent: the
    report names the first failing entry), 2 when the export or the key cannot be read.
    """
    import os

    from contracts.errors import VerificationError
    from contracts.heads import load_public_key
    from contracts.verify import verify_export_file

    def cannot_read(what: str) -> typer.Exit:
        typer.echo(f"error: {what}", err=True)
        return typer.Exit(2)

    key_path = Path(public_key)
    try:
        key = load_public_key(key_path.read_bytes() if key_path.is_file() else public_key)
    except (OSError, ValueError, VerificationError) as exc:
        looks_like_path = key_path.suffix or os.sep in public_key
        if looks_like_path and not key_path.is_file():
            raise cannot_read(f"cannot read the public key: no file {public_key}") from None
        raise cannot_read(f"cannot read the public key {public_key}: {exc}") from None
    if not export.is_file():
        raise cannot_read(f"cannot read the export: no file {export}")
    try:
        report = verify_export_file(export, key, workers=max(1, min(os.cpu_count() or 1, 4)))
    except (OSError, UnicodeDecodeError) as exc:
        raise cannot_read(f"cannot read the export {export}: {exc}") from None
    typer.echo(json.dumps(dataclasses.asdict(report), indent=2, ensure_ascii=False))
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def trace(
    leaked: Path = typer.Argument(..., exists=True, dir_okay=False, help="a leaked CSV or Parquet"),
) -> None:
    """Name the lease a leaked extract came from (on the server host: it reads the keys)."""
    from exchange.context import Exchange
    from exchange.errors import ExchangeError
    from exchange.services.trace import read_leak
    from exchange.services.trace import trace as trace_leak
    from exchange.settings import Settings

    exchange = Exchange.open(Settings())
    try:
        with exchange.sessions() as session:
            result = trace_leak(session, exchange, read_leak(leaked.read_bytes(), leaked.name))
    except ExchangeError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        exchange.close()
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
    raise typer.Exit(0 if result["lease_id"] else 1)


app.command("cluster-check")(cluster_check)

hierarchy_app = typer.Typer(help="Generalization hierarchies for policies.", no_args_is_help=True)
app.add_typer(hierarchy_app, name="hierarchy")


@hierarchy_app.command("import")
def hierarchy_import(
    source: Path = typer.Argument(..., exists=True, dir_okay=False, help="ARX hierarchy CSV"),
    column: str = typer.Option(..., "--column", help="the column the hierarchy is for"),
    delimiter: str = typer.Option(";", help="ARX writes ';'"),
    encoding: str = typer.Option("utf-8", help="the file's encoding, e.g. gbk"),
) -> None:
    """Print a policy's column entry (JSON) generalizing COLUMN along an ARX hierarchy."""
    from desensitize.errors import PolicyError
    from desensitize.hierarchy_csv import read_arx_hierarchy

    try:
        entry = read_arx_hierarchy(source, column=column, delimiter=delimiter, encoding=encoding)
    except (PolicyError, UnicodeDecodeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps({column: entry}, indent=2, ensure_ascii=False))


@app.command()
def generate(
    table: str = typer.Argument(
        ..., help="citizens, transit_trips, school_bus_gps, student_boardings or clinic_visits"
    ),
    rows: int = typer.Option(1000, min=0, help="number of rows"),
    seed: int = typer.Option(0, help="same seed, same file"),
    out: Path | None = typer.Option(None, help="output path (.csv or .parquet)"),
    fmt: str | None = typer.Option(None, "--format", help="csv or parquet"),
    encoding: str = typer.Option("utf-8", help="CSV encoding, e.g. gbk"),
) -> None:
    """Generate a realistic smart-city example table."""
    from examples.generate_city_data import TABLES, write

    if table not in TABLES:
        raise typer.BadParameter(f"unknown table {table!r}; choose one of {', '.join(TABLES)}")
    path = out or Path(f"{table}.{fmt or 'csv'}")
    typer.echo(write(table, rows, path, seed, fmt=fmt, encoding=encoding))


@app.command()
def demo(
    rows: int = typer.Option(5000, min=100, help="citizens in the example dataset"),
    data_dir: Path | None = typer.Option(None, help="keep the demo's data here"),
) -> None:
    """Walk the whole exchange over HTTP as provider, buyer and auditor."""
    from examples.demo import run_demo

    sys.exit(run_demo(rows=rows, data_dir=data_dir))


register_workflow(app)  # after the commands above, so `--help` lists those first

if __name__ == "__main__":
    app()

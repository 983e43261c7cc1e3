"""The ``datalease`` command line."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="datalease: desensitize and lease smart-city data.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """datalease: desensitize and lease smart-city data."""


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


if __name__ == "__main__":
    app()

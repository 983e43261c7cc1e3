"""How the demo prints: one console, panels for each step, small tables, money in yuan."""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

console = Console()


def fen(amount: int) -> str:
    return f"¥{amount // 100:,}.{amount % 100:02d}"


def say(title: str, body: str = "") -> None:
    console.print(
        Panel(body or "", title=f"[bold]{title}", expand=False)
        if body
        else f"\n[bold cyan]== {title}"
    )


def show_frame(frame: pd.DataFrame, title: str, rows: int = 5) -> None:
    table = Table(title=title, show_lines=False)
    for col in frame.columns:
        table.add_column(str(col), overflow="fold")
    for _, row in frame.head(rows).iterrows():
        table.add_row(*[str(v) for v in row])
    console.print(table)

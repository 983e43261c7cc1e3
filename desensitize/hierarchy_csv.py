"""ARX's hierarchy CSV files as the `hierarchy` parameter of the `generalize` rule.

ARX stores one value per line with its generalization at every level, separated by
semicolons: ``34;[30, 40[;[20, 60[;*``. A policy's hierarchy is a list of
``{child: parent}`` maps, one per level up, and '*' comes last on its own, so a final
column of '*' only is left out. A child with two parents at one level, a line with a
different number of levels, or an empty value is an error naming the line.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from desensitize.errors import PolicyError

__all__ = ["hierarchy_from_arx", "read_arx_hierarchy"]

STAR = "*"


def hierarchy_from_arx(text: str, *, column: str, delimiter: str = ";") -> list[dict[str, str]]:
    """The `hierarchy` maps from the text of an ARX hierarchy CSV file."""
    lines = [
        (number, [cell.strip() for cell in row])
        for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), 1)
        if any(cell.strip() for cell in row)
    ]
    if not lines:
        raise PolicyError(column, "the hierarchy file has no values")
    width = len(lines[0][1])
    maps: list[dict[str, str]] = [{} for _ in range(width - 1)]
    for number, row in lines:
        if len(row) != width:
            raise PolicyError(
                column, f"hierarchy line {number} has {len(row)} levels, line 1 has {width}"
            )
        if not all(row):
            raise PolicyError(column, f"hierarchy line {number} has an empty value")
        for level, (child, parent) in enumerate(zip(row, row[1:], strict=False)):
            known = maps[level].setdefault(child, parent)
            if known != parent:
                raise PolicyError(
                    column,
                    f"hierarchy line {number}: {child!r} has two parents at level "
                    f"{level + 1} ({known!r} and {parent!r})",
                )
    while maps and set(maps[-1].values()) == {STAR}:
        maps.pop()  # the rule's ladder ends in '*' of its own
    if not maps:  # values straight to '*': a one-level hierarchy keeps the raw values
        maps = [{value: STAR for value in (row[0] for _, row in lines)}]
    return maps


def read_arx_hierarchy(
    path: Path | str, *, column: str, delimiter: str = ";", encoding: str = "utf-8"
) -> dict[str, Any]:
    """A policy entry for `column` generalized along the ARX hierarchy in `path`."""
    text = Path(path).read_text(encoding=encoding)
    maps = hierarchy_from_arx(text, column=column, delimiter=delimiter)
    return {"class": "quasi_identifier", "rule": "generalize", "hierarchy": maps}

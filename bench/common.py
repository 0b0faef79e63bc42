"""Helpers shared by the benchmarks in bench/ (load.py, query.py) that are not about wrk or servers.

load.py's wrk, server and database helpers are imported from bench.load itself; this module holds what
both print.
"""

from __future__ import annotations


def render_table(columns: list[str], rows: list[list[str]], numeric: list[bool]) -> str:
    """A Markdown table, cells padded to the column width: numeric columns right-aligned (`--:`)."""
    widths = [max(len(row[i]) for row in [columns, *rows]) for i in range(len(columns))]

    def line(cells: list[str]) -> str:
        padded = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)]
        return "| " + " | ".join(padded) + " |"

    dashes = ["-" * (w + 1) + ":" if num else "-" * (w + 2) for w, num in zip(widths, numeric, strict=True)]
    rule = "|" + "|".join(dashes) + "|"
    return "\n".join([line(columns), rule, *(line(row) for row in rows)])

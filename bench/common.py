"""Helpers shared by the benchmarks in bench/ that are neither about wrk nor about servers: Markdown
tables, number formatting, and what was measured on which machine (commit, cores, load).
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent


def render_table(columns: list[str], rows: list[list[str]], numeric: list[bool]) -> str:
    """A Markdown table, cells padded to the column width: numeric columns right-aligned (`--:`)."""
    widths = [max(len(row[i]) for row in [columns, *rows]) for i in range(len(columns))]

    def line(cells: list[str]) -> str:
        padded = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)]
        return "| " + " | ".join(padded) + " |"

    dashes = ["-" * (w + 1) + ":" if num else "-" * (w + 2) for w, num in zip(widths, numeric, strict=True)]
    rule = "|" + "|".join(dashes) + "|"
    return "\n".join([line(columns), rule, *(line(row) for row in rows)])


def ratio_lines(figures: dict[str, object], prefixes: tuple[str, ...]) -> list[str]:
    """The figures whose names start with one of `prefixes`, a Markdown list item each."""
    return [f"- {key}: {value}" for key, value in figures.items() if key.startswith(prefixes)]


def ratio(value: float | None, reference: float | None) -> float | None:
    return value / reference if value is not None and reference else None


def rounded_ratio(value: float | None, reference: float | None) -> float | None:
    """ratio() to three decimals, as the suite's JSON records a comparison of two runs."""
    found = ratio(value, reference)
    return None if found is None else round(found, 3)


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def git(*args: str) -> str:
    completed = subprocess.run(
        ["git", "-C", str(REPO_DIR), *args], capture_output=True, text=True, check=False
    )
    return completed.stdout.strip()


def source_version() -> str:
    """The commit measured, and whether src/ had uncommitted changes (others work in the same tree)."""
    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    dirty = git("status", "--porcelain", "--", "src")
    return f"{commit} + uncommitted changes in src/" if dirty else commit


def machine_info() -> dict[str, object]:
    """What the figures depend on besides the code: cores, load, Python, kernel, commit."""
    return {
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": git("rev-parse", "HEAD") or None,
        "source": source_version(),
    }

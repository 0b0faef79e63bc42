"""The suite's Markdown report: a header saying what ran where, then one table per question
(operations, memory, durability, curve, scale-out, reads across worker processes, goals) and the
notes. Reads the records and the goals; measures nothing and writes no file (artifacts.py does).
"""

from __future__ import annotations

from bench.budget import render as budget_render
from bench.common import fmt, ratio, render_table
from bench.goals import Goal
from bench.records import GOAL_CONCURRENCY, PAGE_CONCURRENCY, SuiteReport

MIB = 1024


def render(report: SuiteReport, goals: list[Goal]) -> str:
    sections = [
        header(report),
        "### Operations: requests/s, latency and errors per backend and concurrency\n\n"
        + operations_table(report),
        "### CPU per request, in process (SQLite, bench/budget.py)\n\n" + budget_render(report.budgets),
        "### Memory: resident set of each server process (VmHWM = peak, VmRSS = final)\n\n"
        + memory_table(report),
        f"### Creates with flushing to disk on and off (concurrency {GOAL_CONCURRENCY})\n\n"
        + durability_table(report),
        "### Curve: creates and the list page against stored tasks\n\n" + curve_table(report),
        "### Scale-out (PostgreSQL, bench/scaleout.py)\n\n" + figures_section(report.scaleout),
        "### Reads across worker processes (SQLite, bench/workers.py)\n\n"
        + figures_section(report.worker_reads),
        "### Goals (reported, never enforced)\n\n" + goals_table(goals),
    ]
    if report.notes:
        sections.append("\n".join(f"- NOTE: {note}" for note in report.notes))
    return "\n\n".join(sections) + "\n"


def header(report: SuiteReport) -> str:
    config, machine = report.config, report.machine
    load = machine.get("load_average")
    before = f"{load[0]:.2f}" if isinstance(load, list) and load else "?"
    quick = " (quick run: its figures mean little)" if config.quick else ""
    return (
        f"## graphtasks benchmark suite, {report.started_at} UTC{quick}\n\n"
        f"- run: {', '.join(config.backends)}; concurrency {', '.join(map(str, config.concurrencies))}; "
        f"curve at {', '.join(f'{size:,}' for size in config.sizes)} stored tasks\n"
        f"- machine: {machine.get('cpu_count')} cores shared by wrk, the servers and PostgreSQL; "
        f"1-min load average {before} before, {report.load_average_after:.2f} after; "
        f"Python {machine.get('python')}; source {machine.get('source')}\n"
        f"- load: {report.wrk}, {config.threads} thread(s), closed loop (no think time), "
        f"{config.duration_s} s per run after {config.warmup_s} s warm-up; every answer's status is "
        "checked (201 create, 200 get and list, 204 PATCH)\n"
        f"- servers: `graphtasks serve` and bench/bare_app.py under the same uvicorn.run arguments, "
        f"{config.workers} uvicorn worker(s), request log off\n"
        "- ratio to bare = requests/s over the bare ASGI app's at the same concurrency, measured "
        "just before on the same machine in the same run"
    )


def operations_table(report: SuiteReport) -> str:
    columns = ["backend", "operation", "concurrency", "requests/s", "p50 ms", "p99 ms", "errors", "to bare"]
    rows = [
        [
            backend.backend, r.target, str(r.concurrency), f"{r.requests_per_s:,.0f}",
            f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", str(r.errors), fmt(r.ratio_to_bare, ".3f"),
        ]
        for backend in report.backends
        for r in backend.operations
    ]  # fmt: skip
    return render_table(columns, rows, numeric=[False, False, *[True] * 6])


def memory_table(report: SuiteReport) -> str:
    columns = ["backend", "server", "peak MiB", "final MiB"]
    rows = [
        [backend.backend, m.server, f"{m.peak_kib / MIB:,.0f}", f"{m.final_kib / MIB:,.0f}"]
        for backend in report.backends
        for m in backend.memory
    ]
    return render_table(columns, rows, numeric=[False, False, True, True])


def on_off(value: bool) -> str:
    return "on" if value else "off"


def durability_table(report: SuiteReport) -> str:
    columns = ["backend", "flush to disk", "group commit", "requests/s", "p50 ms", "p99 ms", "errors"]
    columns.append("to flush off")
    rows = []
    for backend in report.backends:
        for run in backend.durability:
            twin = next(
                (d for d in backend.durability if not d.flush_to_disk and d.group_commit == run.group_commit),
                None,
            )
            reference = None if twin is None else twin.result.requests_per_s
            r = run.result
            rows.append(
                [
                    backend.backend, on_off(run.flush_to_disk), on_off(run.group_commit),
                    f"{r.requests_per_s:,.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", str(r.errors),
                    fmt(ratio(r.requests_per_s, reference), ".3f"),
                ]
            )  # fmt: skip
    return render_table(columns, rows, numeric=[False, False, False, *[True] * 5])


def curve_table(report: SuiteReport) -> str:
    columns = [
        "backend", "seeded", "seed rows/s", f"create req/s (c={GOAL_CONCURRENCY})", "to 0",
        "create p99 ms", "stored at page", f"page p50 ms (c={PAGE_CONCURRENCY})", "page p99 ms", "errors",
    ]  # fmt: skip
    rows = []
    for backend in report.backends:
        empty = next((p for p in backend.curve if p.seeded == 0), None)
        reference = None if empty is None else empty.create.requests_per_s
        for p in backend.curve:
            rows.append(
                [
                    backend.backend, f"{p.seeded:,}", fmt(p.seed_rows_per_s, ",.0f"),
                    f"{p.create.requests_per_s:,.0f}", fmt(ratio(p.create.requests_per_s, reference), ".3f"),
                    f"{p.create.p99_ms:.2f}", f"{p.stored_at_page:,}", f"{p.page.p50_ms:.2f}",
                    f"{p.page.p99_ms:.2f}", str(p.create.errors + p.page.errors),
                ]
            )  # fmt: skip
    return render_table(columns, rows, numeric=[False, *[True] * 9])


def figures_section(figures: dict[str, object] | None) -> str:
    """A measurement module's figures (scaleout.py's, workers.py's): each list of rows as a table, then
    the single values as a list."""
    if figures is None:
        return "Not run (see the notes)."
    parts, scalars = [], []
    for key, value in figures.items():
        rows = value if isinstance(value, list) else None
        if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
            rows = [{"run": name, **v} for name, v in value.items()]
        if rows and all(isinstance(row, dict) for row in rows):
            parts.append(f"{key}:\n\n{records_table(rows)}")
        else:
            scalars.append(f"- {key}: {cell(value)}")
    return "\n\n".join([*parts, "\n".join(scalars)]).strip()


def records_table(rows: list[dict[str, object]]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[cell(row.get(column)) for column in columns] for row in rows]
    numeric = [all(isinstance(row.get(c), int | float) for row in rows) for c in columns]
    return render_table(columns, cells, numeric=numeric)


def cell(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def goals_table(goals: list[Goal]) -> str:
    columns = ["backend", "goal", "target", "measured", "status"]
    rows = [
        [
            g.backend,
            g.name,
            g.target,
            fmt(g.measured, ".3f"),
            g.status + (f" ({g.detail})" if g.detail else ""),
        ]
        for g in goals
    ]
    return render_table(columns, rows, numeric=[False, False, False, True, False])

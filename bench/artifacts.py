"""The suite's files: the JSON document with everything measured, the Markdown report, the PNG of the
curve (matplotlib, Agg: no display needed), and --publish's copy of both into docs/.

Writes files only; measures nothing and decides no figure.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from bench.goals import Goal
from bench.records import GOAL_CONCURRENCY, PAGE_CONCURRENCY, BackendReport, MemoryRecord, SuiteReport
from bench.servers import REPO_DIR, BenchError

JSON_NAME, MARKDOWN_NAME, PLOT_NAME = "suite.json", "suite.md", "suite-curve.png"
DOCS_PAGE = REPO_DIR / "docs" / "performance.md"
DOCS_PLOT = REPO_DIR / "docs" / "performance-curve.png"
START_MARKER, END_MARKER = "<!-- bench:start -->", "<!-- bench:end -->"
COLORS = {"sqlite": "tab:blue", "postgres": "tab:orange"}


def write_all(report: SuiteReport, goals: list[Goal], markdown: str) -> dict[str, Path]:
    """The three files in the report's out dir; returns their paths by kind."""
    out = report.config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / JSON_NAME, "markdown": out / MARKDOWN_NAME, "plot": out / PLOT_NAME}
    paths["json"].write_text(json.dumps(document(report, goals), indent=2, default=str) + "\n")
    paths["markdown"].write_text(markdown)
    plot_curve(report, paths["plot"])
    return paths


def document(report: SuiteReport, goals: list[Goal]) -> dict[str, object]:
    config = {k: v for k, v in asdict(report.config).items() if k != "postgres_admin_url"}
    return {
        "started_at": report.started_at,
        "finished_at": report.finished_at,
        "machine": {**report.machine, "load_average_after": report.load_average_after, "wrk": report.wrk},
        "config": config,
        "backends": {backend.backend: backend_document(backend) for backend in report.backends},
        "budgets": report.budgets,
        "scaleout": report.scaleout,
        "worker_reads": report.worker_reads,
        "goals": [asdict(goal) for goal in goals],
        "notes": report.notes,
        "errors": report.errors(),
    }


def backend_document(backend: BackendReport) -> dict[str, object]:
    return {
        "operations": [asdict(result) for result in backend.operations],
        "memory": [memory_document(memory) for memory in backend.memory],
        "durability": [asdict(run) for run in backend.durability],
        "curve": [asdict(point) for point in backend.curve],
        "notes": backend.notes,
    }


def memory_document(memory: MemoryRecord) -> dict[str, object]:
    samples = [{"phase": phase, **asdict(sample)} for phase, sample in memory.samples]
    return {
        "server": memory.server,
        "peak_kib": memory.peak_kib,
        "final_kib": memory.final_kib,
        "samples": samples,
    }


def plot_curve(report: SuiteReport, path: Path) -> None:
    """Create requests/s and page p50 against stored tasks, one line per backend, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    figure, (creates, pages) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    for backend in report.backends:
        points = sorted(backend.curve, key=lambda point: point.seeded)
        sizes = [point.seeded for point in points]
        style = {"marker": "o", "color": COLORS.get(backend.backend), "label": backend.backend}
        creates.plot(sizes, [point.create.requests_per_s for point in points], **style)
        pages.plot(sizes, [point.page.p50_ms for point in points], **style)
    thousands = FuncFormatter(lambda value, _: f"{value:,.0f}")
    titles = (
        (creates, f"creates/s at concurrency {GOAL_CONCURRENCY}", "requests/s"),
        (pages, f"page of 100 (indexed filter), p50 at concurrency {PAGE_CONCURRENCY}", "ms"),
    )
    for axes, title, unit in titles:
        axes.set(title=title, xlabel="tasks stored before the run", ylabel=unit, ylim=(0, None))
        axes.xaxis.set_major_formatter(thousands)
        axes.grid(alpha=0.3)
        axes.legend()
    quick = " (quick run)" if report.config.quick else ""
    figure.suptitle(f"graphtasks against stored tasks, {report.started_at} UTC{quick}")
    figure.savefig(path, dpi=100)
    plt.close(figure)


def publish(markdown: str, plot: Path, page: Path = DOCS_PAGE, plot_copy: Path = DOCS_PLOT) -> None:
    """Put the report between the page's markers and the plot beside the page."""
    text = page.read_text()
    start, end = text.find(START_MARKER), text.find(END_MARKER)
    if start < 0 or end < start:
        raise BenchError(f"{page} has no {START_MARKER} ... {END_MARKER} section to publish into")
    # one heading level down: the page's own "## Latest results" holds the report
    body = "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())
    page.write_text(f"{text[: start + len(START_MARKER)]}\n{body.strip()}\n{text[end:]}")
    shutil.copyfile(plot, plot_copy)

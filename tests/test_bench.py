"""CI's short version of the benchmark suite: `python bench/suite.py --quick` runs every phase
for about a second per wrk run, so the suite cannot rot. No figure is asserted beyond "no request
failed": the files it writes must have their shape, the Markdown its tables, the PNG its signature.

wrk comes from Debian's package: installed here when it is missing, a failure under CI=true when it
cannot be. PostgreSQL is measured whenever it answers; under CI=true it must answer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from bench.artifacts import END_MARKER, START_MARKER, publish
from bench.report import figures_section
from bench.servers import BenchError
from bench.workers import CASES, measure_workers
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tests.support.databases import POSTGRES_ADMIN_URL, in_ci

ROOT = Path(__file__).parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OPERATIONS = ["bare", "create", "get", "patch", "list"]
QUICK_CONCURRENCIES = [32]
QUICK_SIZES = [0, 1000]
SECTIONS = [
    "### Operations",
    "### CPU per request, in process",
    "### Memory",
    "### Creates with flushing",
    "### Curve",
    "### Scale-out",
    "### Goals",
]


@dataclass(frozen=True)
class QuickRun:
    backends: list[str]
    completed: subprocess.CompletedProcess[str]
    out_dir: Path

    @property
    def document(self) -> dict[str, object]:
        loaded: dict[str, object] = json.loads((self.out_dir / "suite.json").read_text())
        return loaded


def ensure_wrk() -> None:
    """wrk on PATH, installed from Debian's package if need be; skipped only outside CI."""
    if shutil.which("wrk"):
        return
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "install", "-y", "wrk"],
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "wrk"],
    ):
        if shutil.which("wrk") is None and shutil.which(command[0]):
            subprocess.run(command, capture_output=True, env=environment, timeout=300, check=False)
    if shutil.which("wrk"):
        return
    message = "wrk is not installed and `apt-get install -y wrk` did not install it"
    if in_ci():
        pytest.fail(f"{message}; the benchmark suite's CI run needs it")
    pytest.skip(message)


def postgres_reachable() -> bool:
    engine = create_engine(POSTGRES_ADMIN_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except OperationalError as error:
        if in_ci():
            pytest.fail(f"PostgreSQL is required under CI=true but is unreachable: {error}")
        return False
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> QuickRun:
    ensure_wrk()
    backends = ["sqlite", "postgres"] if postgres_reachable() else ["sqlite"]
    out_dir = tmp_path_factory.mktemp("bench")
    command = [sys.executable, "bench/suite.py", "--quick", "--out-dir", str(out_dir)]
    command += [
        "--backend",
        "both" if len(backends) == 2 else "sqlite",
        "--postgres-admin-url",
        POSTGRES_ADMIN_URL,
    ]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    return QuickRun(backends, completed, out_dir)


@pytest.mark.slow
def test_suite_exits_0(quick_run: QuickRun) -> None:
    assert quick_run.completed.returncode == 0, quick_run.completed.stdout + quick_run.completed.stderr


@pytest.mark.slow
def test_no_request_failed(quick_run: QuickRun) -> None:
    assert quick_run.document["errors"] == 0


@pytest.mark.slow
def test_operations_at_each_concurrency(quick_run: QuickRun) -> None:
    backends = quick_run.document["backends"]
    assert isinstance(backends, dict)
    assert sorted(backends) == sorted(quick_run.backends)
    for figures in backends.values():
        runs = [(run["target"], run["concurrency"]) for run in figures["operations"]]
        assert len(runs) == len(OPERATIONS) * len(QUICK_CONCURRENCIES)
        assert {concurrency for _, concurrency in runs} == set(QUICK_CONCURRENCIES)
        assert all(run["requests"] > 0 and run["ratio_to_bare"] is not None for run in figures["operations"])


@pytest.mark.slow
def test_curve_memory_and_durability(quick_run: QuickRun) -> None:
    backends = quick_run.document["backends"]
    assert isinstance(backends, dict)
    for figures in backends.values():
        assert [point["seeded"] for point in figures["curve"]] == QUICK_SIZES
        assert all(point["stored_at_page"] >= point["seeded"] for point in figures["curve"])
        assert {run["flush_to_disk"] for run in figures["durability"]} == {True, False}
        assert all(memory["peak_kib"] > 0 for memory in figures["memory"])


@pytest.mark.slow
def test_cpu_per_request_of_each_hot_operation(quick_run: QuickRun) -> None:
    budgets = quick_run.document["budgets"]
    assert isinstance(budgets, list)
    assert [b["operation"] for b in budgets] == [
        "get by id",
        "create",
        "PATCH",
        "updateStatus",
        "page of 100",
    ]
    assert all(b["cpu_us"] > 0 and b["wall_us"] > 0 and b["budget_us"] > 0 for b in budgets)


@pytest.mark.slow
def test_json_has_machine_goals_and_config(quick_run: QuickRun) -> None:
    document = quick_run.document
    machine = document["machine"]
    assert isinstance(machine, dict)
    assert {"cpu_count", "load_average", "git_commit", "wrk"} <= set(machine)
    assert isinstance(document["goals"], list) and document["goals"]
    assert isinstance(document["config"], dict) and document["config"]["quick"] is True


@pytest.mark.slow
def test_markdown_has_the_tables(quick_run: QuickRun) -> None:
    markdown = (quick_run.out_dir / "suite.md").read_text()
    assert [section for section in SECTIONS if section not in markdown] == []
    assert "| backend " in markdown


@pytest.mark.slow
def test_plot_is_a_png(quick_run: QuickRun) -> None:
    assert (quick_run.out_dir / "suite-curve.png").read_bytes()[:8] == PNG_SIGNATURE


PAGE = f"# Performance\n\nprose\n\n{START_MARKER}\nold table\n{END_MARKER}\n\nafter\n"


def test_publish_replaces_the_marked_section_only(tmp_path: Path) -> None:
    page, plot, copy = tmp_path / "performance.md", tmp_path / "suite-curve.png", tmp_path / "copy.png"
    page.write_text(PAGE)
    plot.write_bytes(PNG_SIGNATURE)
    publish("## run\n\n### table\n\n| a |\n", plot, page=page, plot_copy=copy)
    expected = (
        f"# Performance\n\nprose\n\n{START_MARKER}\n### run\n\n#### table\n\n| a |\n{END_MARKER}\n\nafter\n"
    )
    assert (page.read_text(), copy.read_bytes()) == (expected, PNG_SIGNATURE)


def test_publish_without_markers_fails(tmp_path: Path) -> None:
    page = tmp_path / "performance.md"
    page.write_text("# Performance\n")
    with pytest.raises(BenchError, match="no <!-- bench:start -->"):
        publish("## run\n", tmp_path / "missing.png", page=page, plot_copy=tmp_path / "copy.png")


@pytest.mark.slow
def test_worker_reads_measure_each_case_without_errors(tmp_path: Path) -> None:
    """bench/workers.py at a second per case: four servers, each with its workers, every answer checked."""
    ensure_wrk()
    figures = measure_workers(duration_s=1, concurrency=4, workdir=tmp_path, warmup_s=0)
    rows = figures["cases"]
    assert isinstance(rows, list)
    assert [(row["server"], row["workers"]) for row in rows] == [(c.server, c.workers) for c in CASES]
    assert all(row["requests_per_s"] > 0 and row["errors"] == 0 for row in rows)
    ratios = ["graphtasks_to_bare_1_workers", "graphtasks_to_bare_2_workers", "speedup_graphtasks"]
    assert all(isinstance(figures[key], float) for key in [*ratios, "speedup_bare_app"])


@pytest.mark.slow
def test_quick_run_notes_the_worker_reads_it_skipped(quick_run: QuickRun) -> None:
    markdown = (quick_run.out_dir / "suite.md").read_text()
    assert "### Reads across worker processes (SQLite" in markdown
    assert quick_run.document["worker_reads"] is None


def test_figures_section_renders_rows_then_ratios() -> None:
    figures: dict[str, object] = {
        "cases": [{"case": "bare app, 2 workers", "requests_per_s": 1234.5, "errors": 0}],
        "speedup_bare_app": 1.5,
    }
    assert figures_section(figures).splitlines()[-1] == "- speedup_bare_app: 1.50"
    assert figures_section(None) == "Not run (see the notes)."

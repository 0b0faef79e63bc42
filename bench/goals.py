"""The project's performance goals (docs/performance.md, "Reading the figures") next to what one run of
the suite measured.

Goals are reported, never enforced: nothing here changes the exit code. A goal whose condition the
run did not reach (no 1,000,000-task point, no scale-out) is "not measured", with what was measured
instead in its detail.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.common import fmt, ratio
from bench.records import GOAL_CONCURRENCY, BackendReport, CurvePoint, SuiteReport

GOAL_SIZE = 1_000_000
MET, STRETCH, NOT_MET, NOT_MEASURED = "met", "met, stretch too", "not met", "not measured"


@dataclass(frozen=True)
class Goal:
    """One goal on one backend: what it asks, the figure measured, and whether the figure meets it."""

    backend: str
    name: str
    target: str
    measured: float | None
    status: str
    detail: str = ""


# The hot path's goals: requests/s over the bare app's at GOAL_CONCURRENCY, (must reach, stretch), per
# operation. PostgreSQL's are twice the ratios it had before stored documents, generated codecs, the
# direct dispatcher and the driver's own statements (create 0.045, get 0.061, PATCH 0.017, page 0.008).
RATIO_GOALS: dict[str, dict[str, tuple[float, float]]] = {
    "sqlite": {"create": (0.25, 0.40), "get": (0.35, 0.50), "patch": (0.20, 0.35), "list": (0.04, 0.10)},
    "postgres": {
        "create": (0.09, 0.18),
        "get": (0.12, 0.24),
        "patch": (0.034, 0.068),
        "list": (0.016, 0.032),
    },
}


def evaluate(report: SuiteReport) -> list[Goal]:
    goals: list[Goal] = []
    for backend in report.backends:
        for operation, (at_least, stretch) in RATIO_GOALS.get(backend.backend, {}).items():
            goals.append(ratio_goal(backend, operation, at_least=at_least, stretch=stretch))
        if backend.backend == "sqlite":
            goals.append(page_goal(backend))
        goals.append(curve_goal(backend))
    if "postgres" in report.config.backends:
        goals.append(scaleout_goal(report.scaleout))
    return goals


def ratio_goal(backend: BackendReport, operation: str, *, at_least: float, stretch: float) -> Goal:
    name = f"{operation} at concurrency {GOAL_CONCURRENCY}: requests/s over the bare app's"
    target = f">= {at_least} (stretch {stretch})"
    result = backend.operation(operation, GOAL_CONCURRENCY)
    if result is None or result.ratio_to_bare is None:
        return Goal(backend.backend, name, target, None, NOT_MEASURED, "no run at that concurrency")
    value = result.ratio_to_bare
    status = STRETCH if value >= stretch else MET if value >= at_least else NOT_MET
    return Goal(backend.backend, name, target, value, status)


def largest(backend: BackendReport) -> CurvePoint | None:
    return max(backend.curve, key=lambda point: point.seeded, default=None)


def at_goal_size(backend: BackendReport) -> tuple[CurvePoint | None, str]:
    """The curve point at 1,000,000 tasks, or None and what the largest point measured."""
    point = largest(backend)
    if point is None:
        return None, "no curve measured"
    if point.seeded != GOAL_SIZE:
        return None, f"largest size measured: {point.seeded:,} tasks"
    return point, ""


def page_goal(backend: BackendReport) -> Goal:
    name = f"page of 100, indexed filter, {GOAL_SIZE:,} tasks: p50 at concurrency 1"
    point, detail = at_goal_size(backend)
    if point is None:
        nearest = largest(backend)
        seen = "" if nearest is None else f" ({fmt(nearest.page.p50_ms)} ms there)"
        return Goal(backend.backend, name, "< 20 ms", None, NOT_MEASURED, detail + seen)
    value = point.page.p50_ms
    return Goal(backend.backend, name, "< 20 ms", value, MET if value < 20 else NOT_MET)


def curve_goal(backend: BackendReport) -> Goal:
    name = f"create requests/s at {GOAL_SIZE:,} stored over at 0 (concurrency {GOAL_CONCURRENCY})"
    empty = next((point for point in backend.curve if point.seeded == 0), None)
    point, detail = at_goal_size(backend)
    if empty is None or point is None:
        return Goal(backend.backend, name, ">= 0.85", None, NOT_MEASURED, detail or "no point at 0")
    value = ratio(point.create.requests_per_s, empty.create.requests_per_s)
    status = NOT_MEASURED if value is None else MET if value >= 0.85 else NOT_MET
    return Goal(backend.backend, name, ">= 0.85", value, status)


def scaleout_goal(scaleout: dict[str, object] | None) -> Goal:
    name = "2 instances behind nginx: p99 over one instance's"
    value = scaleout_p99_ratio(scaleout)
    if value is None:
        detail = "scale-out not run" if scaleout is None else "no p99 ratio in scaleout's answer"
        return Goal("postgres", name, "<= 1.5", None, NOT_MEASURED, detail)
    return Goal("postgres", name, "<= 1.5", value, MET if value <= 1.5 else NOT_MET)


def scaleout_p99_ratio(scaleout: dict[str, object] | None) -> float | None:
    """bench/scaleout.py's p99 ratio: the key `p99_ratio`, else the first numeric key naming both."""
    if not scaleout:
        return None
    keys = ["p99_ratio", *sorted(k for k in scaleout if "p99" in k and "ratio" in k)]
    for key in keys:
        value = scaleout.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None

"""CI's short run of bench/abuse.py: every attack replayed at small sizes against a real server on SQLite
and PostgreSQL. The latency goals are the benchmark's to report (on a loaded CI machine they measure the
machine); what must hold here is that each attack ends in a bounded answer, holds no memory and leaves
no work running, and that the report is written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench.abuse_attacks import ATTACKS

from tests.test_bench import postgres_reachable

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out_dir = tmp_path_factory.mktemp("abuse")
    backend = "both" if postgres_reachable() else "sqlite"
    command = [sys.executable, "bench/abuse.py", "--quick", "--backend", backend, "--out-dir", str(out_dir)]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert (out_dir / "abuse.md").exists(), completed.stdout + completed.stderr
    found: list[dict[str, Any]] = json.loads((out_dir / "abuse.json").read_text())
    return found


@pytest.mark.slow
def test_every_attack_ran_on_each_backend(outcomes: list[dict[str, Any]]) -> None:
    backends = ("sqlite", "postgres") if postgres_reachable() else ("sqlite",)
    assert sorted((o["backend"], o["attack"]) for o in outcomes) == sorted(
        (backend, attack) for backend in backends for attack in ATTACKS
    )


@pytest.mark.slow
def test_no_attack_holds_memory_or_leaves_work_behind(outcomes: list[dict[str, Any]]) -> None:
    for outcome in outcomes:
        assert outcome["peak_growth_mib"] < 100, outcome
        assert outcome["busy_after_s"] < 1.0, outcome
        assert outcome["victim_failures"] == 0, outcome


@pytest.mark.slow
def test_no_attack_gets_a_server_error(outcomes: list[dict[str, Any]]) -> None:
    for outcome in outcomes:
        assert not [status for status in outcome["statuses"] if status == "500"], outcome

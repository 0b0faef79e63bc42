"""The long fuzz run: the in-process fuzz tests (tests/integration/test_fuzz_asgi.py and
test_fuzz_tokens.py) with many more examples than CI runs and a fresh random seed each round, round
after round until the time is up. Prints what the examples reached (operation and status counts) and
every distinct failure, with Hypothesis's falsifying example; exits 1 if there was one.

    python bench/fuzz.py --minutes 10 --examples 2000
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("tests.integration.test_fuzz_asgi", "tests.integration.test_fuzz_tokens")


def load(examples: int) -> list[ModuleType]:
    """The test modules, imported after the settings they read at import are in the environment."""
    os.environ["GRAPHTASKS_FUZZ_EXAMPLES"] = str(examples)
    os.environ["GRAPHTASKS_FUZZ_RANDOM"] = "1"
    sys.path.insert(0, str(ROOT))
    return [importlib.import_module(name) for name in MODULES]


def fuzz_tests(modules: list[ModuleType]) -> dict[str, Callable[[object], None]]:
    """Every Hypothesis test of the modules (those that take the in-process app and nothing else)."""
    return {
        f"{module.__name__.rsplit('.', 1)[1]}::{name}": test
        for module in modules
        for name, test in vars(module).items()
        if name.startswith("test_") and hasattr(test, "hypothesis")
    }


def run(minutes: float, examples: int) -> int:
    modules = load(examples)
    asgi = modules[0]
    app = asgi.in_process(Path(tempfile.mkdtemp(prefix="graphtasks-fuzz-")))
    tests = fuzz_tests(modules)
    failures: Counter[str] = Counter()
    spent: Counter[str] = Counter()
    deadline, rounds = time.monotonic() + minutes * 60, 0
    try:
        while time.monotonic() < deadline:
            rounds += 1
            for name, test in tests.items():
                started = time.monotonic()
                try:
                    test(app)
                except Exception as error:  # every failure is reported, none stops the run
                    failures[f"{name}: {type(error).__name__}: {_shortened(str(error))}"] += 1
                spent[name] += round(time.monotonic() - started)
    finally:
        asgi.close(app)
    report(rounds * examples * len(tests), rounds, spent, asgi.OUTCOMES, failures)
    return 1 if failures else 0


def report(
    total: int, rounds: int, spent: Counter[str], outcomes: Counter[tuple[str, int]], failures: Counter[str]
) -> None:
    print(f"{rounds} rounds, up to {total} examples in all")
    for name, seconds in spent.items():
        print(f"  {name}: {seconds} s")
    statuses: Counter[int] = Counter()
    for (_operation, status), count in outcomes.items():
        statuses[status] += count
    print("answers by status:", dict(sorted(statuses.items())))
    print(f"{len(failures)} distinct failures")
    for failure, count in failures.most_common():
        print(f"--- x{count}\n{failure}")


def _shortened(text: str) -> str:
    """The start (what went wrong) and the end (Hypothesis's falsifying example) of a long message."""
    return text if len(text) <= 3000 else f"{text[:800]}\n[...]\n{text[-2200:]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--examples", type=int, default=2000, help="per test and round")
    args = parser.parse_args(argv)
    return run(args.minutes, args.examples)


if __name__ == "__main__":
    sys.exit(main())

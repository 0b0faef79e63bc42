"""The request journal's cost on the hot path: get by id with the journal on and off, in the same run.

    python bench/journal.py [--duration 5] [--rounds 3] [--concurrency 32] [--backend sqlite|postgres]

Starts two `graphtasks serve` processes on fresh databases of the backend, one with the journal (its
default, 1000 requests per tenant) and one with `--journal-size 0`, each with the same 200 tasks, and
measures them with wrk in alternating rounds (on, off, on, off, ...), so that whatever else the machine
does weighs on both alike. Prints each round and the ratio of the medians: journal on / off.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

if __package__ in {None, ""}:  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import render_table
from bench.servers import POSTGRES_ADMIN_URL, fresh_database, graphtasks_server, issue_token, running
from bench.tasks import CREATE_BODY_PATH, create_tasks
from bench.wrk import Load, Target, get_lua, measure

SEED_COUNT = 200
SETUPS = {"journal on": (), "journal off": ("--journal-size", "0")}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=5, help="seconds per measured wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args(argv)
    load = Load(args.concurrency, args.duration, 1, 1)
    rates: dict[str, list[float]] = {name: [] for name in SETUPS}
    with tempfile.TemporaryDirectory(prefix="graphtasks-journal-") as tmp:
        workdir = Path(tmp)
        with (
            fresh_database(args.backend, workdir, POSTGRES_ADMIN_URL) as on_url,
            fresh_database(args.backend, workdir, POSTGRES_ADMIN_URL) as off_url,
        ):
            urls = {"journal on": on_url, "journal off": off_url}
            servers = {
                name: graphtasks_server(name, urls[name], workdir, flags) for name, flags in SETUPS.items()
            }
            with running(servers["journal on"]), running(servers["journal off"]):
                targets = {}
                for name, server in servers.items():
                    token = issue_token(urls[name])
                    ids = create_tasks(server, token, CREATE_BODY_PATH.read_bytes(), SEED_COUNT)
                    targets[name] = Target(
                        f"get by id, {name}", args.backend, server.url, get_lua(ids, token), 200
                    )
                for _ in range(args.rounds):
                    for name, server in servers.items():
                        result = measure(load, targets[name], server, workdir)
                        if result.errors:
                            print(f"journal.py: {result.errors} errors in {name}", file=sys.stderr)
                            return 1
                        rates[name].append(result.requests_per_s)
    rows = [
        [name, *(f"{rate:,.0f}" for rate in runs), f"{statistics.median(runs):,.0f}"]
        for name, runs in rates.items()
    ]
    columns = ["setup", *(f"round {i + 1} (req/s)" for i in range(args.rounds)), "median"]
    print(render_table(columns, rows, numeric=[False, *([True] * (args.rounds + 1))]))
    ratio = statistics.median(rates["journal on"]) / statistics.median(rates["journal off"])
    print(
        f"\njournal on / off: {ratio:.3f} ({(1 - ratio) * 100:+.1f} % cost)"
        if ratio < 1
        else f"\njournal on / off: {ratio:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

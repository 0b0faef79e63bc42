"""`graphtasks seed`: bulk-loads realistic tasks of all types into one tenant (same --seed, same tasks)."""

from __future__ import annotations

import argparse
import secrets
import time
from typing import Any

from graphtasks.cli.common import database_options, guid, opened_backend
from graphtasks.config import DEFAULT_TENANT


def add_parser(commands: Any) -> None:
    seed = commands.add_parser("seed", help="bulk-load realistic tasks of all types")
    database_options(seed)
    seed.add_argument("--count", type=int, required=True, help="how many tasks")
    seed.add_argument("--tenant", type=guid, default=DEFAULT_TENANT, help="tenant id (tid) that owns them")
    seed.add_argument("--seed", type=int, default=0, help="random seed (same seed, same tasks)")


def run(args: argparse.Namespace) -> int:
    from graphtasks.model.edm import ticks_from_unix_ns
    from graphtasks.storage.seeding import SeedRun
    from graphtasks.storage.sql import SqlTaskStore

    if args.count < 0:
        raise ValueError("--count must not be negative")
    seed_run = SeedRun(
        args.tenant.lower(), args.seed, ticks_from_unix_ns(time.time_ns()), secrets.randbits(63)
    )
    with opened_backend(args) as backend:
        started = time.perf_counter()
        SqlTaskStore(backend.database).seed(seed_run, args.count)
        elapsed = time.perf_counter() - started
    rate = args.count / max(elapsed, 1e-9)
    print(f"seeded {args.count} tasks for tenant {args.tenant} in {elapsed:.1f} s ({rate:,.0f}/s)")
    return 0

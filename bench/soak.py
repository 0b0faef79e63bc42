"""Soak and isolation: minutes of mixed load on a real server, every answer checked.

    python bench/soak.py --backend sqlite --duration 300 --tenants 4 --apps 3 --concurrency 32

Starts `graphtasks serve` on a fresh database (bench/servers.py), mints a token per tenant and app,
and runs creates, PATCHes, updateStatus, GETs, lists, counts, deletes and cross-tenant probes from
`--concurrency` asyncio workers (soak_ops.py), checking each answer against a client-side model of
every acknowledged write (soak_model.py). It samples the server's resident memory throughout, and at
the end reads the database directly and checks it against the model (soak_verify.py). Exit code 1 on
any lost write, leak, stale read or unexpected answer; 0 otherwise. `--serve-args` passes flags to
`graphtasks serve` (`--faults plan.json`, `--throttle intune`): 429/503/504 are retried after their
Retry-After and never count as writes.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import random
import shlex
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in {None, ""}:  # run as a script: make `bench` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import POSTGRES_ADMIN_URL, fresh_database, graphtasks_server, memory_of, running
from bench.soak_checks import Tally
from bench.soak_model import TenantModel
from bench.soak_ops import Lane, SoakRun, now
from bench.soak_verify import verify
from graphtasks.auth.keys import load_key_ring
from graphtasks.auth.permissions import ALL_PERMISSIONS
from graphtasks.auth.tokens import TokenRequest, issue_token
from graphtasks.config import DEFAULT_ISSUER
from graphtasks.storage.engine import open_database
from graphtasks.storage.registry import SqlKeyStore

PROGRESS_EVERY_S = 10.0


@dataclass(frozen=True)
class SoakConfig:
    backend: str = "sqlite"
    duration_s: float = 300.0
    tenants: int = 4
    apps: int = 3
    concurrency: int = 32
    target_live: int = 200  # live tasks per tenant the load hovers around
    serve_args: tuple[str, ...] = ()
    seed: int = 1
    sample_every_s: float = 1.0
    postgres_admin_url: str = POSTGRES_ADMIN_URL
    progress: bool = True


@dataclass
class SoakReport:
    config: SoakConfig
    tally: Tally
    duration_s: float = 0.0
    samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds into the load, VmRSS KiB)
    hwm_kib: int = 0  # the server's VmHWM at the end: its true peak, between samples too
    rows: int = 0  # soak tenants' rows in the database at the end

    @property
    def requests_per_s(self) -> float:
        return self.tally.requests / self.duration_s if self.duration_s else 0.0

    @property
    def peak_rss_kib(self) -> int:
        return max((kib for _, kib in self.samples), default=0)

    @property
    def final_rss_kib(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    @property
    def second_half_growth_kib(self) -> int:
        """VmRSS at the end of the load minus VmRSS half way through: about 0 when memory is bounded."""
        if not self.samples:
            return 0
        half = next(kib for t, kib in self.samples if t >= self.samples[-1][0] / 2)
        return self.samples[-1][1] - half

    @property
    def ok(self) -> bool:
        return self.tally.failures == 0


def run_soak(config: SoakConfig) -> SoakReport:
    """Start a server on a fresh database, load it for `duration_s`, verify the database; the report."""
    report = SoakReport(config, Tally())
    with tempfile.TemporaryDirectory(prefix="graphtasks-soak-") as tmp:
        workdir = Path(tmp)
        with fresh_database(config.backend, workdir, config.postgres_admin_url) as url:
            server = graphtasks_server(f"soak {config.backend}", url, workdir, config.serve_args)
            with running(server):
                tenants = make_tenants(config)
                lanes = make_lanes(url, tenants, config=config)
                asyncio.run(_load(server.url, server.pid, lanes=lanes, config=config, report=report))
                report.hwm_kib = memory_of(server.pid).hwm_kib
                server.check_alive()
            report.rows = verify(url, tenants, tally=report.tally)
    return report


def make_tenants(config: SoakConfig) -> list[TenantModel]:
    rng = random.Random(config.seed)
    tenants = []
    for index in range(config.tenants):
        tenant_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        tenants.append(TenantModel(index, tenant_id, f"soak-t{index}-{tenant_id[:8]}"))
    return tenants


def make_lanes(database_url: str, tenants: list[TenantModel], *, config: SoakConfig) -> list[Lane]:
    """A token for each tenant and app (application tokens with all four permissions)."""
    database = open_database(database_url)
    try:
        ring = load_key_ring(SqlKeyStore(database))
    finally:
        database.dispose()
    rng = random.Random(config.seed + 1)
    apps = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(config.apps)]
    expires = int(config.duration_s) + 3600
    lanes = []
    for tenant in tenants:
        for app in apps:
            request = TokenRequest(tenant.tenant_id, roles=ALL_PERMISSIONS, client_id=app, expires_in=expires)
            token = issue_token(ring, request, issuer_base=DEFAULT_ISSUER)
            lanes.append(Lane(tenant, {"Authorization": f"Bearer {token}"}))
    return lanes


async def _load(
    base_url: str, pid: int, *, lanes: list[Lane], config: SoakConfig, report: SoakReport
) -> None:
    _quick_sniffio_miss()
    started = now()
    run = SoakRun(base_url, lanes, deadline=started + config.duration_s, target_live=config.target_live)
    run.tally = report.tally
    sampler = asyncio.create_task(_sample(pid, started, config=config, report=report))
    try:
        await asyncio.gather(*(run.worker(config.seed * 10_000 + n) for n in range(config.concurrency)))
    finally:
        report.duration_s = now() - started
        sampler.cancel()
    report.samples.append((report.duration_s, memory_of(pid).rss_kib))


def _quick_sniffio_miss() -> None:
    """httpcore imports sniffio on every request and falls back to asyncio when it is missing; a missing
    module is searched for on sys.path each time (a fifth of the client's CPU in a profile). A None in
    sys.modules makes that import fail at once, as it would anyway."""
    if importlib.util.find_spec("sniffio") is None:
        sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]


async def _sample(pid: int, started: float, *, config: SoakConfig, report: SoakReport) -> None:
    """VmRSS of the server (and its workers) every `sample_every_s`, with a progress line now and then."""
    next_progress = PROGRESS_EVERY_S
    while True:
        elapsed = now() - started
        report.samples.append((elapsed, memory_of(pid).rss_kib))
        if config.progress and elapsed >= next_progress:
            next_progress += PROGRESS_EVERY_S
            print(
                f"  {elapsed:5.0f} s  {report.tally.requests:8d} requests  "
                f"{report.tally.requests / elapsed:6.0f}/s  RSS {report.samples[-1][1] / 1024:6.1f} MiB  "
                f"failures {report.tally.failures}",
                file=sys.stderr,
                flush=True,
            )
        await asyncio.sleep(config.sample_every_s)


# --- report -----------------------------------------------------------------------------------------


def render(report: SoakReport) -> str:
    tally, config = report.tally, report.config
    lines = [
        f"soak: {config.backend}, {config.tenants} tenants x {config.apps} apps, "
        f"concurrency {config.concurrency}"
        + (f", serve {' '.join(config.serve_args)}" if config.serve_args else ""),
        f"requests             {tally.requests}",
        f"duration             {report.duration_s:.1f} s",
        f"requests/s           {report.requests_per_s:.0f}",
        f"RSS peak (sampled)   {report.peak_rss_kib / 1024:.1f} MiB (VmHWM {report.hwm_kib / 1024:.1f} MiB)",
        f"RSS final            {report.final_rss_kib / 1024:.1f} MiB",
        f"RSS 2nd-half growth  {report.second_half_growth_kib / 1024:+.1f} MiB",
        f"rows at the end      {report.rows}",
        f"lost writes          {tally.lost_writes}",
        f"cross-tenant leaks   {tally.leaks}",
        f"stale reads          {tally.counts['stale read']}",
        f"phantom writes       {tally.counts['phantom write']}",
        f"unexpected answers   {sum(tally.unexpected.values()) + tally.counts['unexpected']}",
        "answers by operation, status and code:",
        *(
            f"  {op:14s} {status:3d} {code or '-':24s} {count:8d}"
            + ("   UNEXPECTED" if (op, status, code) in tally.unexpected else "")
            for (op, status, code), count in sorted(tally.outcomes.items())
        ),
    ]
    if tally.retried:
        lines.append("retried (429/503/504, never counted as writes):")
        lines += [f"  {op:14s} {status:3d} {n:8d}" for (op, status), n in sorted(tally.retried.items())]
    for kind, texts in tally.problems.items():
        lines.append(f"{kind} (first {len(texts)} of {tally.counts[kind]}):")
        lines += [f"  {text}" for text in texts]
    lines.append("OK" if report.ok else "FAILED")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> SoakConfig:
    parser = argparse.ArgumentParser(description="Soak and isolation: mixed load, every answer checked")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load")
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--apps", type=int, default=3, help="apps (client ids) per tenant")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--live", type=int, default=200, help="live tasks per tenant to hover around")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve-args", default="", help="extra `graphtasks serve` flags, one string")
    parser.add_argument("--postgres-admin-url", default=POSTGRES_ADMIN_URL)
    args = parser.parse_args(argv)
    if min(args.tenants, args.apps, args.concurrency) < 1 or args.tenants < 2:
        parser.error("--tenants must be at least 2 (to probe across), --apps and --concurrency at least 1")
    return SoakConfig(
        backend=args.backend,
        duration_s=args.duration,
        tenants=args.tenants,
        apps=args.apps,
        concurrency=args.concurrency,
        target_live=args.live,
        serve_args=tuple(shlex.split(args.serve_args)),
        seed=args.seed,
        postgres_admin_url=args.postgres_admin_url,
    )


def main(argv: list[str] | None = None) -> int:
    report = run_soak(parse_args(argv))
    print(render(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

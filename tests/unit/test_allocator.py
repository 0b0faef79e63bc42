"""A serving process gives large freed blocks back to the system (graphtasks/allocator.py): blocks of a
few MB, freed after the allocator's threshold was raised and with small live blocks between them, leave
the process's resident size where it was before they were made."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Prints the resident MiB before and after: a 30 MiB block freed first raises glibc's threshold past the
# 4 MiB blocks made next, each followed by a small block that stays.
SCENARIO = """
import sys
from graphtasks.allocator import return_large_blocks

def rss_mib():
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS"))
    return int(line.split()[1]) // 1024

if sys.argv[1] == "fixed":
    assert return_large_blocks()
first = bytearray(30 << 20)
del first
before = rss_mib()
blocks, pins = [], []
for _ in range(10):
    blocks.append(bytearray(b"x" * (4 << 20)))
    pins.append(b"y" * 100_000)
blocks.clear()
print(before, rss_mib())
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")


def growth_mib(mode: str) -> int:
    answer = subprocess.run(
        [sys.executable, "-c", SCENARIO, mode], capture_output=True, text=True, check=True, timeout=60
    )
    before, after = map(int, answer.stdout.split())
    return after - before


def test_freed_large_blocks_go_back_to_the_system() -> None:
    assert growth_mib("fixed") < 10


def test_without_it_they_stay() -> None:
    """The scenario does show the problem: glibc's own behaviour keeps most of the 40 MiB."""
    assert growth_mib("default") > 30

"""The C allocator of a serving process: large blocks go back to the system as soon as they are freed.

glibc's malloc serves a block of at least its mmap threshold (128 KiB to start) from a mapping of its
own, which free() unmaps. But each time such a block is freed, glibc raises the threshold to that
block's size (up to 32 MiB), so that the next blocks of a few MB come from the heap, and once freed,
mostly stay in the process: a hole below a small live block cannot be given back. A server that builds
answers of a few MB (a page of large tasks, a $batch) then keeps each one's memory after sending it,
and its resident size ratchets up with every such answer (docs/resilience.md, "Memory").

Fixing the threshold at LARGE_BLOCK_BYTES (setting it turns the raising off) keeps every block of that
size or more in a mapping of its own, returned at free(). Blocks that large are rare (a row's JSON, a
rendered entity or page), so the system calls cost nothing measurable. Elsewhere (macOS, musl, Windows)
this does nothing.
"""

from __future__ import annotations

import ctypes
import sys

M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
LARGE_BLOCK_BYTES = 1024 * 1024


def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold at LARGE_BLOCK_BYTES for this process; False where there is no glibc."""
    if not sys.platform.startswith("linux"):
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES))

"""Process-level tuning for journeymap's own processes (the console entry point).

The engine, the snapshot and pain detection allocate numpy temporaries of one element per
event: 80 MB each at 10M events. glibc serves every allocation above its mmap threshold
(at most 32 MB) with a fresh ``mmap`` and unmaps it on ``free``, so each temporary is
page-faulted and zeroed by the kernel anew: about a third of a 10M-event snapshot's CPU
was kernel time. With ``mmap`` off for the heap and a high trim threshold, freed blocks
go back to the heap and the next temporary reuses them (first 10M snapshot: 10.3-10.8
CPU s before, 8.5-9.4 after, same peak RSS). The cost: the process keeps its high-water
mark, which for the CLI is short-lived and for ``journeymap serve`` is the next
snapshot's working set anyway.

Only :func:`journeymap.cli.main` calls it: a library must not change the allocator of a
notebook or of another application that imports it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
#: Freed memory kept at the top of the heap before it is returned to the system.
TRIM_THRESHOLD = 1 << 30


def keep_freed_memory() -> bool:
    """Make large freed blocks reusable by the next allocation; True if it took effect.

    A no-op (False) where the C library is not glibc (macOS, Windows, musl).
    """
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))

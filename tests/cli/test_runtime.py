"""``keep_freed_memory``: a freed large numpy temporary is reused, not faulted in anew.

Measured in fresh interpreters (the setting is process-wide): the minor page faults of
allocating and filling a 200 MB array a second time, after freeing the first, with and
without the tuning. Without it glibc unmaps the first and the kernel zeroes fresh pages
(about 50,000 faults of 4 KB); with it the heap blocks are reused.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import resource, sys
import numpy as np
from numpy._core.multiarray import _set_madvise_hugepage
_set_madvise_hugepage(False)  # count 4 KB pages: huge pages would hide the faults
if sys.argv[1] == "tuned":
    from journeymap.runtime import keep_freed_memory
    assert keep_freed_memory()
a = np.ones(25_000_000); del a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
b = np.ones(25_000_000)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt only")
def test_freed_temporaries_are_reused():
    plain, tuned = _faults("plain"), _faults("tuned")
    assert plain > 40_000  # 200 MB of fresh 4 KB pages
    assert tuned < plain / 10


def test_the_console_entry_point_tunes_the_allocator():
    import inspect

    import journeymap.cli as cli

    assert "keep_freed_memory()" in inspect.getsource(cli.main)

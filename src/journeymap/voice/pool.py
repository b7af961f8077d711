"""Running a function over chunks of a large input in a process pool, with progress.

Sentiment scoring and phrase counting are pure Python over many texts; both split the
texts into chunks and map over them here, so the pool is set up one way (spawn, results
in input order, a Rich progress bar counted in texts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import TypeVar

from rich.progress import Progress

T = TypeVar("T")
R = TypeVar("R")


def pool_map(
    fn: Callable[[T], R],
    chunks: Sequence[T],
    sizes: Sequence[int],
    *,
    workers: int,
    description: str,
    progress: bool,
) -> Iterator[R]:
    """``fn`` of each chunk, in order, computed by ``workers`` processes; the bar advances by
    each chunk's size (``sizes``). ``fn`` must be a module-level function (it is pickled).

    Processes are spawned, not forked: the parent holds DuckDB's threads, and forking a
    threaded process can deadlock the child.
    """
    with (
        ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool,
        Progress(transient=True, disable=not progress) as bar,
    ):
        task = bar.add_task(description, total=sum(sizes))
        for size, result in zip(sizes, pool.map(fn, chunks), strict=True):
            yield result
            bar.advance(task, size)

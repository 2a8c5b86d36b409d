"""Where the units of work of a run go: serially, a process pool or a Dask cluster (design §6)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager

from carbonsink.errors import ConfigError

__all__ = ["local_executor", "run_executor"]


@contextmanager
def local_executor(workers: int | None) -> Iterator[Executor | None]:
    """A process pool of ``workers`` processes (``None``: every core; 1: run serially)."""
    n = workers if workers is not None else (os.cpu_count() or 1)
    if n <= 1:
        yield None
        return
    with ProcessPoolExecutor(max_workers=n) as pool:
        yield pool


@contextmanager
def run_executor(
    workers: int | None = None, scheduler: str | None = None
) -> Iterator[Executor | None]:
    """Where tiles and bootstrap replicates run.

    Parameters
    ----------
    workers
        ``None``: a local process pool of every core. ``1``: serially.
        ``N > 1``: a local Dask cluster of N single-threaded worker processes.
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``); excludes
        ``workers``.

    Raises
    ------
    ConfigError
        Both were given, or the scheduler cannot be reached.

    Notes
    -----
    The results do not depend on where the work runs: every unit of work
    (a LiDAR tile, a bootstrap replicate) has its own seed.
    """
    if scheduler is not None and workers is not None:
        raise ConfigError(
            "both --workers and --scheduler were given",
            fix="use --workers N for a local cluster or --scheduler ADDR for an existing one",
        )
    if scheduler is None and (workers is None or workers <= 1):
        with local_executor(workers) as executor:
            yield executor
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise ConfigError(
                f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                fix="start it (dask scheduler) or check the address, e.g. tcp://host:8786",
            ) from exc
        with client:
            yield client.get_executor()
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: never clashes with another cluster
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client.get_executor()

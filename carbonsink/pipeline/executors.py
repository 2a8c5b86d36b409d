"""Where the units of work of a run go: serially, a process pool or a Dask cluster (design §6)."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, InvalidStateError, ProcessPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any

from carbonsink.errors import ConfigError
from carbonsink.pipeline.allocator import tune_allocator

logger = logging.getLogger(__name__)

__all__ = [
    "SchedulerExecutor",
    "dask_client",
    "die_with_parent",
    "local_executor",
    "run_executor",
]

#: prctl option: the signal a process gets when its parent dies (linux/prctl.h).
_PR_SET_PDEATHSIG = 1
#: A connection to an external scheduler idle this long is replaced before new work.
IDLE_RECONNECT_S = 20.0
#: Times a unit of work is sent again when the connection drops while it runs.
CONNECTION_RETRIES = 3


@contextmanager
def local_executor(workers: int | None) -> Iterator[Executor | None]:
    """A process pool of ``workers`` processes (``None``: every core; 1: run serially)."""
    n = workers if workers is not None else (os.cpu_count() or 1)
    if n <= 1:
        yield None
        return
    with ProcessPoolExecutor(
        max_workers=n, initializer=die_with_parent, initargs=(os.getpid(),)
    ) as pool:
        yield pool


def die_with_parent(parent: int) -> None:
    """Worker initializer: end the worker when the run that started it ends, even by SIGKILL.

    A killed run (``kill -9``, the OOM killer) cannot shut its pool down, and
    its workers would wait for work forever, each holding its memory. On
    Linux the kernel sends them SIGKILL when their parent dies
    (``prctl(PR_SET_PDEATHSIG)``); a worker whose parent is already gone
    exits at once.
    """
    if os.getppid() != parent:
        # Started by a fork server (whose own life ends with the run), or the
        # run died before this worker got here (adopted by init: exit).
        if os.getppid() == 1:
            os._exit(0)
        return
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # died between the check and prctl
            os._exit(0)


@contextmanager
def run_executor(
    workers: int | None = None, scheduler: str | None = None
) -> Iterator[Executor | None]:
    """Where LiDAR tiles, SOC kriging tiles and bootstrap replicates run.

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
    tune_allocator()  # before a local cluster starts: its workers take it from the environment
    if scheduler is None and (workers is None or workers <= 1):
        with local_executor(workers) as executor:
            yield executor
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        executor = SchedulerExecutor(scheduler)
        executor.connect()  # fail now, not at the first tile, when it cannot be reached
        with executor:
            yield executor
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


class SchedulerExecutor(Executor):
    """Work sent to an external Dask scheduler, over a connection that is never left stale.

    Between the parallel phases of a run (LiDAR tiles, kriging tiles, replicates)
    the main process computes for minutes without talking to the scheduler;
    a client connection kept idle that long can be dropped and its reconnect
    cancelled under load. So the executor connects for a batch of work and,
    when its connection has been idle for :data:`IDLE_RECONNECT_S` with no
    work outstanding, closes it and opens a fresh one before the next batch.
    """

    def __init__(self, address: str) -> None:
        self.address = address
        self._client: Any = None
        self._executor: Executor | None = None
        self._lock = threading.Lock()
        self._outstanding = 0
        self._idle_since = time.monotonic()
        self._abandoned: list[Any] = []
        self._closing = False
        self._connecting = threading.Lock()

    def connect(self) -> Executor:
        """The executor of a live client, (re)connecting when needed.

        A connection idle for :data:`IDLE_RECONNECT_S` with no work
        outstanding is closed and replaced. One that dropped (distributed
        is reconnecting it, or gave up) is set aside, not closed — closing it
        would cancel its reconnection mid-handshake — and a new one takes the
        new work; the set-aside clients are closed at :meth:`shutdown`.

        Raises
        ------
        ConfigError
            The scheduler cannot be reached.
        """
        with self._connecting:  # one connection at a time: resends after a drop share it
            return self._connect()

    def _connect(self) -> Executor:
        from distributed import Client

        if self._closing:
            raise ConfigError(
                f"the connection to the Dask scheduler at {self.address} is closed: the run "
                "is ending",
                fix="this is a bug in carbonsink: no work is sent after the run ends",
            )
        stale: Any = None
        with self._lock:
            client = self._client
            if client is not None and client.status != "running":
                self._abandoned.append(client)
                self._client, self._executor = None, None
            elif client is not None and (
                self._outstanding == 0 and time.monotonic() - self._idle_since > IDLE_RECONNECT_S
            ):
                stale = client
                self._client, self._executor = None, None
            executor = self._executor
        if stale is not None:
            _close_quietly(stale)
        if executor is not None:
            return executor
        try:
            client = Client(self.address, timeout="20s")
        except OSError as exc:
            raise ConfigError(
                f"cannot reach the Dask scheduler at {self.address}: {exc}",
                fix="start it (dask scheduler) or check the address, e.g. tcp://host:8786",
            ) from exc
        fresh: Executor = client.get_executor()
        with self._lock:
            self._client, self._executor = client, fresh
        return fresh

    def client(self) -> Any:
        """The live Dask client (connected as by :meth:`connect`), for work given as a
        dask graph rather than as single tasks."""
        self.connect()
        with self._lock:
            return self._client

    def _finished(self, _future: Future[Any]) -> None:
        with self._lock:
            self._outstanding -= 1
            if self._outstanding == 0:
                self._idle_since = time.monotonic()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Send one unit of work (see :class:`concurrent.futures.Executor`).

        A unit whose connection drops before it finishes (distributed cancels
        the futures of a lost connection) is sent again over a fresh one, up
        to :data:`CONNECTION_RETRIES` times, with a warning: every unit of
        work is a pure function of its arguments (its own seed; a LiDAR range
        rewrites its bucket parts), so running it twice gives the same result.
        An error the unit itself raises is not retried.
        """
        outer: Future[Any] = Future()
        self._send(outer, fn, args, kwargs, CONNECTION_RETRIES)
        return outer

    def _send(
        self,
        outer: Future[Any],
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        retries: int,
    ) -> None:
        """Submit ``fn`` on the live connection; its outcome goes to ``outer``."""
        executor = self.connect()
        with self._lock:
            self._outstanding += 1
        try:
            inner = executor.submit(fn, *args, **kwargs)
        except BaseException:
            self._finished(Future())
            raise
        inner.add_done_callback(self._finished)
        # Cancelling the caller's future (a failed batch stops its others) cancels the work.
        outer.add_done_callback(lambda f: inner.cancel() if f.cancelled() else None)

        def settle(done: Future[Any]) -> None:
            if outer.done():
                return
            if done.cancelled():
                if self._closing:  # the run is ending: nobody waits for this work
                    outer.cancel()
                    outer.set_running_or_notify_cancel()  # wakes wait() and as_completed()
                elif retries == 0:
                    with suppress(InvalidStateError):
                        outer.set_exception(
                            ConfigError(
                                f"the connection to the Dask scheduler at {self.address} "
                                f"dropped {_times(CONNECTION_RETRIES + 1)} while "
                                f"{getattr(fn, '__name__', 'a unit of work')} ran",
                                fix="check the network between this machine and the "
                                "scheduler, and the scheduler's log",
                            )
                        )
                else:
                    logger.warning(
                        "the connection to the Dask scheduler at %s dropped while %s ran; "
                        "sending it again over a new connection",
                        self.address,
                        getattr(fn, "__name__", "a unit of work"),
                    )
                    # Not from this callback: it runs on the dropped client's event loop.
                    again = functools.partial(self._send, outer, fn, args, kwargs, retries - 1)
                    threading.Thread(target=_resend, args=(outer, again)).start()
                return
            error = done.exception()
            with suppress(InvalidStateError):  # the caller cancelled it meanwhile
                if error is None:
                    outer.set_result(done.result())
                else:
                    outer.set_exception(error)

        inner.add_done_callback(settle)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Close the connection (the scheduler and its workers keep running)."""
        with self._lock:
            self._closing = True
            clients = [*self._abandoned, self._client]
            self._client, self._executor, self._abandoned = None, None, []
        for client in clients:
            if client is not None:
                _close_quietly(client)


def dask_client(executor: Executor | None) -> Any | None:
    """The Dask client behind an executor of :func:`run_executor`; ``None`` for a local
    process pool or a serial run.

    Work that is a dask graph (the imagery's block reads and composite) runs on
    the cluster's workers through it (``dask.config.set(scheduler=client)``);
    elsewhere dask's threads compute it in this process.
    """
    if isinstance(executor, SchedulerExecutor):
        return executor.client()
    # A local cluster's executor: distributed.cfexecutor.ClientExecutor keeps its client.
    client = getattr(executor, "_client", None)
    return client if client is not None and hasattr(client, "get") else None


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _resend(outer: Future[Any], send: Callable[[], None]) -> None:
    """Send a unit of work again; when that fails (the scheduler is gone for good) the
    caller's future says why."""
    try:
        send()
    except BaseException as exc:
        with suppress(InvalidStateError):
            outer.set_exception(exc)


def _close_quietly(client: Any) -> None:
    """Close a Dask client whose connection may already be gone.

    A dropped connection can fail to close in several ways, among them
    asyncio's CancelledError (a BaseException, not an Exception); the client
    is gone either way and the run goes on with a fresh one.
    """
    with suppress(Exception, asyncio.CancelledError):
        client.close(timeout=10)

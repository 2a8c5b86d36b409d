"""Tests of carbonsink.pipeline.executors: serial, process pool, local and remote Dask."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from carbonsink.errors import ConfigError
from carbonsink.pipeline.executors import dask_client, local_executor, run_executor


def test_run_executor_rejects_workers_and_scheduler_together() -> None:
    with (
        pytest.raises(ConfigError, match="both --workers and --scheduler"),
        run_executor(2, "tcp://127.0.0.1:8786"),
    ):
        pass


def _graph_runs_on_the_cluster(client: Any) -> None:
    """A dask graph computed under the client's scheduler runs as the cluster's tasks."""
    import dask
    import dask.array as da

    with dask.config.set(scheduler=client):
        # 0 + 1 + ... + 9 = 45, summed over two blocks.
        assert int(da.arange(10, chunks=5).sum().compute()) == 45
    prefixes = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    assert "sum" in prefixes  # the blocks' sums ran as the scheduler's tasks


def test_run_executor_serial_and_local_dask_cluster() -> None:
    with run_executor(1) as executor:
        assert executor is None
        assert dask_client(executor) is None
    with run_executor(2) as executor:
        assert executor is not None
        assert executor.submit(pow, 2, 10).result() == 1024
        _graph_runs_on_the_cluster(dask_client(executor))


def test_run_executor_uses_an_existing_scheduler() -> None:
    from distributed import LocalCluster

    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster,
        run_executor(scheduler=cluster.scheduler_address) as executor,
    ):
        assert executor is not None
        assert list(executor.map(abs, [-3, 4])) == [3, 4]
        _graph_runs_on_the_cluster(dask_client(executor))


def test_unreachable_scheduler_is_a_config_error() -> None:
    with (
        pytest.raises(ConfigError, match="cannot reach the Dask scheduler"),
        run_executor(scheduler="tcp://127.0.0.1:9"),
    ):
        pass


def test_local_executor_serial_and_pool() -> None:
    with local_executor(1) as executor:
        assert executor is None
    with local_executor(2) as executor:
        assert executor is not None
        assert executor.submit(pow, 3, 4).result() == 81
        assert dask_client(executor) is None  # a process pool: dask graphs use threads here


def test_an_idle_scheduler_connection_is_replaced_before_new_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    from distributed import LocalCluster

    import carbonsink.pipeline.executors as executors

    monkeypatch.setattr(executors, "IDLE_RECONNECT_S", 1.0)
    with LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster:
        executor = executors.SchedulerExecutor(cluster.scheduler_address)
        with executor:
            assert executor.submit(pow, 2, 5).result() == 32
            first = executor._client
            assert executor.submit(pow, 2, 2).result() == 4  # busy again at once: same client
            assert executor._client is first
            time.sleep(1.5)  # idle longer than IDLE_RECONNECT_S
            assert executor.submit(pow, 3, 2).result() == 9
            assert executor._client is not first
            assert first.status == "closed"
            # A client that dropped is replaced even when not idle for long.
            second = executor._client
            second.close()
            assert executor.submit(pow, 5, 2).result() == 25
            assert executor._client is not second
        assert executor._client is None


_POOL_THEN_WAIT = """
import os, sys, time
from carbonsink.pipeline.executors import local_executor
with local_executor(2) as pool:
    futures = [pool.submit(os.getpid) for _ in range(8)]
    print(" ".join(str(p) for p in sorted({f.result() for f in futures})), flush=True)
    time.sleep(60)
"""


def test_pool_workers_end_when_the_run_is_killed(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "pool.py"
    script.write_text(_POOL_THEN_WAIT, encoding="utf-8")
    run = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert run.stdout is not None
    workers = [int(p) for p in run.stdout.readline().split()]
    assert workers and run.pid not in workers
    os.kill(run.pid, signal.SIGKILL)  # as the OOM killer or kill -9 would
    run.wait(timeout=10)
    deadline = time.monotonic() + 10
    alive = list(workers)
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in alive if _running(p)]
    assert alive == [], f"pool workers outlived the killed run: {alive}"


def _running(pid: int) -> bool:
    try:
        with Path(f"/proc/{pid}/stat").open(encoding="utf-8") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_client_that_cannot_close_does_not_end_the_run() -> None:
    # A dropped connection can fail to close with asyncio's CancelledError, a
    # BaseException: the executor sets the client aside and goes on.
    import asyncio

    from carbonsink.pipeline.executors import _close_quietly

    class Dropped:
        def close(self, timeout: float) -> None:
            raise asyncio.CancelledError

    _close_quietly(Dropped())  # does not raise


_CALLS: list[str] = []


def _slow_square(x: int) -> int:
    import time

    _CALLS.append("square")
    time.sleep(1.5)
    return x * x


def _fails(x: int) -> int:
    _CALLS.append("fails")
    raise ValueError(f"bad {x}")


def test_work_whose_connection_drops_is_sent_again(caplog: pytest.LogCaptureFixture) -> None:
    # The connection drops while a unit of work runs (here: its client is closed under
    # it, which cancels its futures as a lost connection does): the unit is sent again
    # over a new connection and the caller gets its result. An error of the unit itself
    # is the caller's, sent once.
    import time

    from distributed import LocalCluster

    from carbonsink.pipeline.executors import SchedulerExecutor

    _CALLS.clear()
    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster,
        SchedulerExecutor(cluster.scheduler_address) as executor,
    ):
        future = executor.submit(_slow_square, 7)
        time.sleep(0.5)
        first = executor._client
        first.close()
        assert future.result(timeout=60) == 49
        assert executor._client is not first
        assert _CALLS.count("square") == 2
        with pytest.raises(ValueError, match="bad 3"):
            executor.submit(_fails, 3).result(timeout=60)
        assert _CALLS.count("fails") == 1
    assert "dropped while _slow_square ran" in caplog.text


def test_work_whose_connection_keeps_dropping_fails_with_a_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With no resend left, the caller gets a ConfigError naming the scheduler and the
    # unit of work, not a bare CancelledError.
    import time

    from distributed import LocalCluster

    import carbonsink.pipeline.executors as executors

    monkeypatch.setattr(executors, "CONNECTION_RETRIES", 0)
    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster,
        executors.SchedulerExecutor(cluster.scheduler_address) as executor,
    ):
        future = executor.submit(_slow_square, 4)
        time.sleep(0.5)
        executor._client.close()
        with pytest.raises(ConfigError, match="dropped once while _slow_square ran"):
            future.result(timeout=60)

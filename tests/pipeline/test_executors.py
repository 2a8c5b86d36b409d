"""Tests of carbonsink.pipeline.executors: serial, process pool, local and remote Dask."""

from __future__ import annotations

import pytest

from carbonsink.errors import ConfigError
from carbonsink.pipeline.executors import local_executor, run_executor


def test_run_executor_rejects_workers_and_scheduler_together() -> None:
    with (
        pytest.raises(ConfigError, match="both --workers and --scheduler"),
        run_executor(2, "tcp://127.0.0.1:8786"),
    ):
        pass


def test_run_executor_serial_and_local_dask_cluster() -> None:
    with run_executor(1) as executor:
        assert executor is None
    with run_executor(2) as executor:
        assert executor is not None
        assert executor.submit(pow, 2, 10).result() == 1024


def test_run_executor_uses_an_existing_scheduler() -> None:
    from distributed import LocalCluster

    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster,
        run_executor(scheduler=cluster.scheduler_address) as executor,
    ):
        assert executor is not None
        assert list(executor.map(abs, [-3, 4])) == [3, 4]


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

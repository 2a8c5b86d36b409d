"""Tests of carbonsink.pipeline.run (executors, the stage cache) and stage wiring checks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from carbonsink.config import load_survey
from carbonsink.errors import ConfigError
from carbonsink.pipeline import epoch_cube, survey_grid
from carbonsink.pipeline.run import _StageCache, file_sha256, run_executor
from tests.conftest import SAMPLE_SURVEY


def test_file_sha256_of_known_bytes(tmp_path: Path) -> None:
    # FIPS 180-2 test vector: SHA-256("abc") = ba7816bf…f20015ad; read in 1-byte
    # chunks to exercise the chunked reader.
    path = tmp_path / "abc.txt"
    path.write_bytes(b"abc")
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert file_sha256(path, chunk=1) == expected == hashlib.sha256(b"abc").hexdigest()


def test_stage_cache_computes_once_per_key(tmp_path: Path) -> None:
    calls: list[str] = []

    def compute(value: str) -> dict[str, str]:
        calls.append(value)
        return {"value": value}

    cache = _StageCache(tmp_path / ".cache", enabled=True)
    assert cache.get("stage", "a" * 64, lambda: compute("first")) == {"value": "first"}
    # Same key: read back, not recomputed (a fresh cache object, as after a restart).
    again = _StageCache(tmp_path / ".cache", enabled=True)
    assert again.get("stage", "a" * 64, lambda: compute("second")) == {"value": "first"}
    assert [r.cached for r in again.records] == [True]
    # A changed input is a new key: recomputed.
    assert again.get("stage", "b" * 64, lambda: compute("third")) == {"value": "third"}
    # --fresh: the cache is not read.
    fresh = _StageCache(tmp_path / ".cache", enabled=False)
    assert fresh.get("stage", "a" * 64, lambda: compute("fourth")) == {"value": "fourth"}
    assert calls == ["first", "third", "fourth"]
    assert not list((tmp_path / ".cache").glob("*.tmp*"))


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


def test_lidar_entries_with_different_crs_stop_before_any_compute() -> None:
    survey = load_survey(SAMPLE_SURVEY)
    epoch = survey.epochs[0]
    entry = epoch.lidar[0]
    other = entry.model_copy(update={"crs": "EPSG:32649"})
    odd = epoch.model_copy(update={"lidar": [entry, other]})
    with pytest.raises(ConfigError, match="different crs or ground"):
        epoch_cube(survey, odd, survey_grid(survey))

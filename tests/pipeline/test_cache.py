"""Tests of carbonsink.pipeline.cache: content keys and the stage cache."""

from __future__ import annotations

import hashlib
from pathlib import Path

from carbonsink.pipeline.cache import StageCache, content_key, file_sha256
from carbonsink.pipeline.outputs import OutputFolder


def test_file_sha256_of_known_bytes(tmp_path: Path) -> None:
    # FIPS 180-2 test vector: SHA-256("abc") = ba7816bf…f20015ad; read in 1-byte
    # chunks to exercise the chunked reader.
    path = tmp_path / "abc.txt"
    path.write_bytes(b"abc")
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert file_sha256(path, chunk=1) == expected == hashlib.sha256(b"abc").hexdigest()


def test_content_key_is_the_sha256_of_sorted_json() -> None:
    # json.dumps([{"a": 1, "b": 2}], sort_keys=True) == '[{"a": 1, "b": 2}]'
    expected = hashlib.sha256(b'[{"a": 1, "b": 2}]').hexdigest()
    assert content_key({"b": 2, "a": 1}) == expected
    assert content_key({"a": 1}) != content_key({"a": 2})


def test_stage_cache_computes_once_per_key(tmp_path: Path) -> None:
    calls: list[str] = []

    def compute(value: str) -> dict[str, str]:
        calls.append(value)
        return {"value": value}

    folder = OutputFolder(tmp_path)
    cache = StageCache(folder, enabled=True)
    assert cache.get("stage", "a" * 64, lambda: compute("first")) == {"value": "first"}
    # The entry is named by the output registry: .cache/<stage>-<first 24 hex of the key>.pkl
    assert (tmp_path / ".cache" / f"stage-{'a' * 24}.pkl").is_file()
    # Same key: read back, not recomputed (a fresh cache object, as after a restart).
    again = StageCache(folder, enabled=True)
    assert again.get("stage", "a" * 64, lambda: compute("second")) == {"value": "first"}
    assert [r.cached for r in again.records] == [True]
    # A changed input is a new key: recomputed.
    assert again.get("stage", "b" * 64, lambda: compute("third")) == {"value": "third"}
    # --fresh: the cache is not read.
    fresh = StageCache(folder, enabled=False)
    assert fresh.get("stage", "a" * 64, lambda: compute("fourth")) == {"value": "fourth"}
    assert calls == ["first", "third", "fourth"]
    assert not list((tmp_path / ".cache").glob("*.tmp*"))


def test_without_a_folder_nothing_is_cached(tmp_path: Path) -> None:
    cache = StageCache(None, enabled=True)
    assert cache.get("stage", "c" * 64, lambda: 1) == 1
    assert cache.get("stage", "c" * 64, lambda: 2) == 2
    assert cache.timed("outputs", lambda: 3) == 3
    assert [(r.name, r.cached) for r in cache.records] == [
        ("stage", False),
        ("stage", False),
        ("outputs", False),
    ]
    assert not list(tmp_path.iterdir())

"""The run's allocator settings (carbonsink.pipeline.allocator): freed arrays are reused.

Each case runs in a fresh interpreter: glibc reads its environment when a
process starts, and the settings must not leak into the test process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from carbonsink.pipeline import allocator
from carbonsink.pipeline.allocator import MMAP_THRESHOLD, TRIM_THRESHOLD

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the settings are glibc's (Linux)"
)

# The module alone, from its file (the package's imports would take seconds per process).
_LOAD = """
def _load(path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("allocator", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
"""
#: Ten rounds of eight 4 MiB arrays made, touched and freed together, after one 4 MiB
#: block freed (glibc's dynamic mmap threshold then serves such blocks from the heap,
#: and trims the heap's top above twice that, 8 MiB: each round's 32 MiB go back to the
#: kernel and are faulted in again). A round touches 8 × 1,024 = 8,192 pages of 4 KiB.
_FAULTS = """
import json, resource, sys
import numpy as np
{load}applied = None
if sys.argv[1] == "tuned":
    applied = _load(sys.argv[2]).tune_allocator()
np.ones(4 * 2**20 // 8).sum()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    arrays = [np.ones(4 * 2**20 // 8) for _ in range(8)]
    del arrays
print(json.dumps({"applied": applied,
                  "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
""".replace("{load}", _LOAD)

_ENV = """
import json, os, sys
{load}tune_allocator = _load(sys.argv[1]).tune_allocator
first, second = tune_allocator(), tune_allocator()
print(json.dumps({"first": first, "second": second,
                  "mmap": os.environ.get("MALLOC_MMAP_THRESHOLD_"),
                  "trim": os.environ.get("MALLOC_TRIM_THRESHOLD_")}))
""".replace("{load}", _LOAD)


def _python(code: str, *args: str, **environment: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(environment)
    done = subprocess.run(
        [sys.executable, "-c", code, *args, allocator.__file__],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_freed_arrays_are_not_faulted_in_again() -> None:
    plain = _python(_FAULTS, "plain")
    tuned = _python(_FAULTS, "tuned")
    assert tuned["applied"] is True
    plain_faults, tuned_faults = int(plain["faults"]), int(tuned["faults"])
    # Tuned: the heap keeps the first round's pages (at most 8,192 faults, plus a few
    # of numpy's own); untuned: the rounds fault again (with transparent huge pages the
    # counts shrink alike, hence a ratio).
    assert tuned_faults <= 8_192 + 1_024
    assert 4 * tuned_faults < plain_faults


def test_children_inherit_the_settings_and_calling_twice_changes_nothing() -> None:
    result = _python(_ENV)
    assert result == {
        "first": True,
        "second": False,
        "mmap": str(MMAP_THRESHOLD),
        "trim": str(TRIM_THRESHOLD),
    }
    assert MMAP_THRESHOLD == 32 * 2**20  # glibc's largest on 64-bit systems


def test_the_users_own_setting_is_kept() -> None:
    result = _python(_ENV, MALLOC_MMAP_THRESHOLD_="1000000")
    assert result["mmap"] == "1000000"
    assert result["trim"] == str(TRIM_THRESHOLD)
    assert result["first"] is True  # the trim threshold was still set


def test_both_set_by_the_user_leaves_the_allocator_alone() -> None:
    result = _python(_ENV, MALLOC_MMAP_THRESHOLD_="1000000", MALLOC_TRIM_THRESHOLD_="2000000")
    assert result == {"first": False, "second": False, "mmap": "1000000", "trim": "2000000"}


#: Tuned, 48 arrays of 4 MiB (192 MiB, under the 256 MiB trim threshold) made, touched and
#: freed: the heap keeps their pages; released, they go back to the kernel.
_RELEASE = """
import json, os, sys
import numpy as np
{load}module = _load(sys.argv[1])
module.tune_allocator()
def resident_mib():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
arrays = [np.ones(4 * 2**20 // 8) for _ in range(48)]
del arrays
kept = resident_mib()
released = module.release_free_memory()
print(json.dumps({"released": released, "kept": kept, "after": resident_mib()}))
""".replace("{load}", _LOAD)


def test_freed_memory_kept_by_the_heap_is_given_back_between_stages() -> None:
    result = _python(_RELEASE)
    assert result["released"] is True
    # 192 MiB freed but resident until released; after it, at most a few MiB of them stay.
    assert result["kept"] - result["after"] >= 150
